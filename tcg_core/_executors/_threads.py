"""The default ``"threads"`` executor: one lean, shared pool of daemon threads.

Why not ``ThreadPoolExecutor``: one queue put per node instead of a Future object and
callback per node (the hand-off sits on every critical-path hop), and daemon threads,
so a node stuck past its ``timeout=`` never blocks interpreter exit.

Why shared: starting a thread costs ~0.1 ms, and a fresh pool per ``resolve()`` would
pay it on the critical path of every fan-out. The pool grows on demand to the largest
``max_workers`` asked for, and threads idle for ``IDLE_EXIT`` seconds exit, so an idle
program keeps no threads.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import os
import threading
from queue import Empty, SimpleQueue
from typing import Any

from .._context import Err, Ok, run_body
from ._base import Adapter

#: Threads of ``executor="threads"`` unless ``max_workers`` says otherwise: threads are
#: for waiting work (I/O, sleeps, C code), so more than cores.
DEFAULT_THREAD_WORKERS = 32

#: Seconds a worker thread waits for work before it exits.
IDLE_EXIT = 2.0


class _ThreadPool:
    def __init__(self) -> None:
        self._spawned = 0  #: threads started so far (names them)
        self._reset()

    def _reset(self) -> None:
        self._tasks: SimpleQueue[Any] = SimpleQueue()  #: bodies waiting for a thread
        self._idle = threading.Semaphore(0)  #: counts threads waiting for a task
        self._lock = threading.Lock()  #: guards _threads and _limit
        self._threads: set[threading.Thread] = set()  #: the live worker threads
        self._limit = 0  #: how many threads may exist

    def after_fork(self) -> None:
        """In a forked child: the threads did not survive the fork, their bookkeeping
        did. Start again empty (bodies queued in the parent are the parent's)."""
        self._reset()

    def allow(self, workers: int) -> None:
        """Let the pool grow to at least ``workers`` threads."""
        with self._lock:
            self._limit = max(self._limit, workers)

    def grow(self) -> None:
        """A thread is stuck in a timed-out body: allow one more."""
        with self._lock:
            self._limit += 1

    def submit(self, item: tuple[Any, ...]) -> None:
        self._tasks.put(item)
        if not self._idle.acquire(blocking=False):
            self._spawn_if_allowed()

    def _spawn_if_allowed(self) -> None:
        with self._lock:
            if len(self._threads) >= self._limit:
                return
            self._spawned += 1
            thread = threading.Thread(target=self._work, daemon=True,
                                      name=f"tcg-worker-{self._spawned}")
            self._threads.add(thread)
        thread.start()

    def _work(self) -> None:
        tasks, idle = self._tasks, self._idle
        while True:
            try:
                item = tasks.get(timeout=IDLE_EXIT)
            except Empty:
                if self._retire():
                    return
                continue
            func, args, kwargs, events, key = item
            outcome: Ok | Err | None = None
            try:
                outcome = run_body(func, args, kwargs)
                events.put((key, outcome.__class__ is not Err, outcome))
            except BaseException as exc:  # tcg's own failure: run_body returns the body's
                events.put((key, False, Err(exc)))
            # Drop references now: an idle worker must not keep a node's value alive.
            item = func = args = kwargs = events = key = outcome = None
            idle.release()

    def _retire(self) -> bool:
        """Exit if no submitter is counting on this idle thread."""
        with self._lock:
            if not self._idle.acquire(blocking=False):
                return False
            self._threads.discard(threading.current_thread())
            return True


_POOL = _ThreadPool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOL.after_fork)


class ThreadsExecutor:
    """The ``"threads"`` executor with a worker count of its own: pass it as
    ``executor=`` where one object must say both (the pytest plugin's ``tcg_executor``).

    >>> from tcg_core import ThreadsExecutor, node
    >>> @node
    ... def one():
    ...     return 1
    >>> one().resolve(executor=ThreadsExecutor(max_workers=4))
    1
    """

    __slots__ = ("max_workers",)

    def __init__(self, max_workers: int = DEFAULT_THREAD_WORKERS) -> None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) \
                or max_workers < 1:
            raise TypeError(f"ThreadsExecutor(): max_workers must be an int >= 1, got "
                            f"{type(max_workers).__name__} {max_workers!r:.40}")
        self.max_workers: int = max_workers  #: how many bodies may run at once

    def __repr__(self) -> str:
        return f"ThreadsExecutor(max_workers={self.max_workers})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ThreadsExecutor) and other.max_workers == self.max_workers

    def __hash__(self) -> int:
        return hash(("ThreadsExecutor", self.max_workers))


class ThreadsAdapter(Adapter):
    """A resolve's view of the shared pool: at most ``max_workers`` of its bodies at once."""

    name = "threads"

    def __init__(self, max_workers: int) -> None:
        self.workers = max_workers
        self._pool = _POOL
        self._pool.allow(max_workers)
        # Async bodies submitted and finished, each counted by one thread only (the
        # scheduler's, the loop's), so neither count needs a lock.
        self._async_started = 0
        self._async_finished = 0

    @property
    def detached(self) -> int:
        """Async bodies in flight on the event loop: they hold no worker thread."""
        return self._async_started - self._async_finished

    def _async_done(self) -> None:
        self._async_finished += 1

    def submit(self, spec: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None,
               events: SimpleQueue[Any], key: Any) -> None:
        if spec.is_async:
            from ._async import LOOP

            self._async_started += 1
            LOOP.submit(spec.func, args, kwargs, spec.timeout, events, key, self._async_done)
            return
        self._pool.submit((spec.body, args, kwargs, events, key))

    def abandon_worker(self) -> bool:
        self._pool.grow()
        return True

    def close(self, *, cancel: bool) -> None:
        """Nothing to close: idle threads of the shared pool exit by themselves."""

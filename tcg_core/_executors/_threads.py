"""A lean pool of daemon threads for the default ``"threads"`` executor.

Why not ``ThreadPoolExecutor``: one queue put per node instead of a Future object and
callback per node (the hand-off sits on every critical-path hop), and daemon threads,
so a node stuck past its ``timeout=`` never blocks interpreter exit.
"""

from __future__ import annotations

import itertools
import threading
import time
from queue import SimpleQueue
from typing import Any

from .._context import run_body
from ._base import Adapter

_pool_ids = itertools.count(1)


class ThreadsAdapter(Adapter):
    name = "threads"

    def __init__(self, max_workers: int) -> None:
        self.workers = max_workers
        self._limit = max_workers
        self._tasks: SimpleQueue[Any] = SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._threads: list[threading.Thread] = []
        self._pool_id = next(_pool_ids)

    def submit(self, spec: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None,
               events: SimpleQueue[Any], key: Any) -> None:
        self._tasks.put((spec.func, args, kwargs, events, key))
        if not self._idle.acquire(blocking=False) and len(self._threads) < self._limit:
            self._spawn()

    def _spawn(self) -> None:
        thread = threading.Thread(target=self._work, daemon=True,
                                  name=f"tcg-{self._pool_id}-{len(self._threads) + 1}")
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        tasks, idle = self._tasks, self._idle
        while True:
            item = tasks.get()
            if item is None:
                return
            func, args, kwargs, events, key = item
            try:
                events.put((key, True, run_body(func, args, kwargs)))
            except BaseException as exc:
                events.put((key, False, exc))
            # Drop references now: an idle worker must not keep a node's value alive.
            item = func = args = kwargs = events = key = None
            idle.release()

    def abandon_worker(self) -> bool:
        self._limit += 1
        return True

    def close(self, *, cancel: bool) -> None:
        if cancel:
            while True:
                try:
                    self._tasks.get_nowait()
                except Exception:
                    break
        for _ in self._threads:
            self._tasks.put(None)
        # Idle threads exit at once; a thread still inside a body (a timed-out node
        # or a cancelled run) is a daemon and is left to finish on its own.
        give_up = time.monotonic() + (0.05 if cancel else 0.5)
        for thread in self._threads:
            thread.join(timeout=max(0.0, give_up - time.monotonic()))

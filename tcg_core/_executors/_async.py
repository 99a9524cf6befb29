"""The event loop that runs ``async def`` bodies for the ``"threads"`` executor.

Why one loop thread instead of a worker thread per body: an async body spends its time
awaiting, and a thousand of them waiting at once would otherwise need a thousand
threads. The loop reports each outcome on the run's event queue exactly as a worker
thread does (``(key, ok, payload)``, payload as from ``run_body``), so the scheduler
cannot tell them apart. Started on first use; a forked child starts its own.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import os
import threading
import time
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

from .._context import FRAME, BodyFrame, Err, worker_name

__all__ = ["LOOP", "EventLoopThread"]


class EventLoopThread:
    """One daemon thread running an asyncio loop; ``submit`` is thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: Any = None
        # The loop keeps only weak references to tasks: a task waiting on something
        # nothing else holds could be collected mid-flight. Touched on the loop only.
        self._running: set[Any] = set()

    def after_fork(self) -> None:
        """The loop's thread did not survive a fork: start again on first use."""
        self._lock = threading.Lock()
        self._loop = None
        self._running = set()

    def _running_loop(self) -> Any:
        with self._lock:
            if self._loop is None:
                import asyncio  # only when an async node runs

                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, daemon=True,
                                          name="tcg-event-loop")
                thread.start()
                self._loop = loop
            return self._loop

    def submit(self, func: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any] | None, timeout: float | None,
               events: SimpleQueue[Any], key: Any, done: Callable[[], None]) -> None:
        """Run ``func(*args, **kwargs)`` (a coroutine function) on the loop; ``done`` is
        called just before its outcome is put on ``events``."""
        loop = self._running_loop()
        loop.call_soon_threadsafe(self._start, loop, func, args, kwargs, timeout, events,
                                  key, done)

    def _start(self, loop: Any, func: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any] | None, timeout: float | None,
               events: SimpleQueue[Any], key: Any, done: Callable[[], None]) -> None:
        import contextvars

        # Each body is a task with a context of its own, holding its frame: the futures
        # it creates become its node's children even while other bodies interleave.
        context = contextvars.Context()
        task = context.run(loop.create_task,
                           _run_async_body(func, args, kwargs, timeout, events, key, done))
        self._running.add(task)
        task.add_done_callback(self._running.discard)


async def _run_async_body(func: Callable[..., Any], args: tuple[Any, ...],
                          kwargs: dict[str, Any] | None, timeout: float | None,
                          events: SimpleQueue[Any], key: Any,
                          done: Callable[[], None]) -> None:
    import asyncio

    frame = BodyFrame()
    FRAME.set(frame)
    timed_out: list[bool] = []
    timer = None
    if timeout is not None:
        # The scheduler fails the node at its own deadline (set before this one); this
        # timer cancels the coroutine then, so it does not keep running unseen.
        task = asyncio.current_task()
        assert task is not None

        def cancel() -> None:
            timed_out.append(True)
            task.cancel()

        timer = asyncio.get_running_loop().call_later(timeout, cancel)
    start = time.perf_counter()
    try:
        value = await (func(*args, **kwargs) if kwargs else func(*args))
    except BaseException as exc:
        done()
        if timed_out:
            return  # the scheduler has reported the timeout already
        events.put((key, False, Err(exc, (start, time.perf_counter(), worker_name()))))
        return
    finally:
        if timer is not None:
            timer.cancel()
    end = time.perf_counter()
    done()
    events.put((key, True, (value, frame.futures, start, end, worker_name())))


LOOP = EventLoopThread()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=LOOP.after_fork)

"""Adapters over ``concurrent.futures`` executors: the user's own, and process pools."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import sys
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

from .._context import MarkedBody, Packed, Raised, run_body, run_body_packed
from .._errors import ResolveCancelled
from ._base import Adapter

# A forked child inherits the parent's forkserver bookkeeping but is not the forkserver's
# parent, so multiprocessing cannot start workers through it there: use spawn instead.
_forked_child = False


def _note_fork() -> None:
    global _forked_child
    _forked_child = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_note_fork)

_SHUT_DOWN_FIX = ("the executor passed to resolve() is shut down; pass a running executor "
                  "(or executor='threads', which tcg manages for you)")


def _report(events: SimpleQueue[Any], key: Any, future: cf.Future[Any],
            warmups: list[cf.Future[Any]] | None = None) -> None:
    if future.cancelled():
        events.put((key, False, ResolveCancelled(f"cancelled: {_SHUT_DOWN_FIX}")))
        return
    exc = future.exception()
    if exc is None:
        result = future.result()
        if isinstance(result, Raised):
            events.put((key, False, result.received()))
            return
        events.put((key, True, result.payload if isinstance(result, Packed) else result))
    else:
        if warmups and isinstance(exc, cf.BrokenExecutor):
            from ._shipping import main_guard_problem

            reason = main_guard_problem(warmups)
            if reason is not None:
                with contextlib.suppress(AttributeError, TypeError):
                    exc.__tcg_reason__ = reason  # type: ignore[attr-defined]
        events.put((key, False, exc))


class PoolAdapter(Adapter):
    """Any ``concurrent.futures.Executor``; the user's is never shut down by us."""

    name = "executor"

    def __init__(self, executor: cf.Executor, *, owned: bool, workers: int | None = None) -> None:
        self._executor = executor
        self._owned = owned
        self.workers = workers or getattr(executor, "_max_workers", None) or 4
        #: no-op tasks sent to a pool we created: if none ever ran, its workers died
        #: while starting (see ``main_guard_problem``)
        self.warmups: list[cf.Future[Any]] = []

    _runner: Callable[..., Any] = staticmethod(run_body)

    def _callable(self, spec: Any, args: tuple[Any, ...],
                  kwargs: dict[str, Any] | None) -> Any:
        return spec.body  # an async body runs to completion on the pool's thread

    def submit(self, spec: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None,
               events: SimpleQueue[Any], key: Any) -> None:
        try:
            future = self._executor.submit(self._runner, self._callable(spec, args, kwargs),
                                           args, kwargs)
        except cf.BrokenExecutor as exc:
            raise ResolveCancelled(
                f"node {spec.name!r} could not start: the executor is broken ({exc}); a worker "
                "process died earlier. Create a new pool (or use executor='processes', which "
                "tcg creates afresh for each resolve)") from exc
        except RuntimeError as exc:
            if "shutdown" not in str(exc) and "shut down" not in str(exc):
                raise
            raise ResolveCancelled(f"node {spec.name!r} could not start: {_SHUT_DOWN_FIX}") from exc
        future.add_done_callback(lambda f: _report(events, key, f, self.warmups))

    def close(self, *, cancel: bool) -> None:
        if self._owned:
            self._executor.shutdown(wait=not cancel, cancel_futures=cancel)


class ProcessAdapter(PoolAdapter):
    """A process pool: bodies, arguments and results must pickle."""

    name = "processes"
    isolated = True
    _runner: Callable[..., Any] = staticmethod(run_body_packed)

    def __init__(self, executor: cf.Executor, *, owned: bool, workers: int | None = None) -> None:
        super().__init__(executor, owned=owned, workers=workers)
        self._checked: dict[int, Any] = {}
        #: names of the nodes the resolve replaces by test doubles (``mark_replaced``)
        self.replaced: frozenset[str] = frozenset()
        self.kills_on_cancel = owned

    @classmethod
    def owned(cls, max_workers: int) -> ProcessAdapter:
        # forkserver: forking a process that runs threads is unsafe, and it is the
        # default from Python 3.14 on anyway.
        method = "forkserver" if sys.platform.startswith("linux") else None
        if method and _forked_child:
            method = "spawn"
        context = multiprocessing.get_context(method)
        pool = cf.ProcessPoolExecutor(max_workers=max_workers, mp_context=context)
        # The pool starts a process per submit while none is idle: a few no-op tasks
        # now start them all at once, instead of one by one as the graph fans out.
        warmups = [pool.submit(os.getpid) for _ in range(max_workers)]
        adapter = cls(pool, owned=True, workers=max_workers)
        adapter.warmups = warmups
        return adapter

    def _callable(self, spec: Any, args: tuple[Any, ...],
                  kwargs: dict[str, Any] | None) -> Any:
        # The NodeFunction itself travels (by name or by value); run_body unwraps it in
        # the worker. Checked once per node function and resolve.
        shipped = self._checked.get(id(spec))
        if shipped is None:
            from ._shipping import shippable

            shipped = shippable(spec)
            if self.replaced:
                shipped = MarkedBody(shipped, self.replaced)
            self._checked[id(spec)] = shipped
        return shipped

    def mark_replaced(self, names: frozenset[str]) -> None:
        self.replaced = names

    def abandon_worker(self) -> bool:
        # Our own pool grows by one process to replace the stuck one. This reaches into
        # CPython's ProcessPoolExecutor (guarded: without these names we just lose the
        # slot); a user's pool is theirs to size.
        pool = self._executor
        spawn = getattr(pool, "_spawn_process", None)
        lock = getattr(pool, "_shutdown_lock", None)
        if not self._owned or spawn is None or lock is None or not hasattr(pool, "_max_workers"):
            return False
        with lock:
            pool._max_workers += 1
            spawn()
        return True

    def close(self, *, cancel: bool) -> None:
        if not self._owned:
            return
        if cancel:
            # A stuck or cancelled body must not keep the pool alive: stop its processes.
            processes = getattr(self._executor, "_processes", None) or {}
            for process in list(processes.values()):
                process.terminate()
        self._executor.shutdown(wait=not cancel, cancel_futures=cancel)

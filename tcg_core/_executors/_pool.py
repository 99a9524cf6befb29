"""Adapters over ``concurrent.futures`` executors: the user's own, and process pools."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import concurrent.futures as cf
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

from .._context import Err, MarkedBody, Packed, Raised, run_body, run_body_packed
from .._errors import ResolveCancelled
from ._base import Adapter

_SHUT_DOWN_FIX = ("the executor passed to resolve() is shut down; pass a running executor "
                  "(or executor='threads', which tcg manages for you)")


def _report(events: SimpleQueue[Any], key: Any, future: cf.Future[Any]) -> None:
    if future.cancelled():
        events.put((key, False, Err(ResolveCancelled(f"cancelled: {_SHUT_DOWN_FIX}"))))
        return
    exc = future.exception()
    if exc is None:
        result = future.result()
        if isinstance(result, Raised):
            events.put((key, False, result.received()))
        elif isinstance(result, Err):
            events.put((key, False, result))
        else:
            events.put((key, True, result.payload if isinstance(result, Packed) else result))
        return
    events.put((key, False, Err(exc)))


class PoolAdapter(Adapter):
    """Any ``concurrent.futures.Executor``; the user's is never shut down by us."""

    name = "executor"

    def __init__(self, executor: cf.Executor, *, owned: bool, workers: int | None = None) -> None:
        self._executor = executor
        self._owned = owned
        self.workers = workers or getattr(executor, "_max_workers", None) or 4

    _runner: Callable[..., Any] = staticmethod(run_body)

    def shipped_body(self, spec: Any, args: tuple[Any, ...],
                     kwargs: dict[str, Any] | None) -> Any:
        """What a worker calls for ``spec`` (the Dask run sends it too)."""
        return spec.body  # an async body runs to completion on the pool's thread

    def submit(self, spec: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None,
               events: SimpleQueue[Any], key: Any) -> None:
        try:
            future = self._executor.submit(self._runner, self.shipped_body(spec, args, kwargs),
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
        future.add_done_callback(lambda f: _report(events, key, f))

    def close(self, *, cancel: bool) -> None:
        if self._owned:
            self._executor.shutdown(wait=not cancel, cancel_futures=cancel)


class ProcessAdapter(PoolAdapter):
    """A user's process pool: bodies, arguments and results must pickle, and travel
    through its pipes (tcg's own ``executor="processes"`` is ``_processes``)."""

    name = "processes"
    isolated = True
    _runner: Callable[..., Any] = staticmethod(run_body_packed)

    def __init__(self, executor: cf.Executor, *, owned: bool, workers: int | None = None) -> None:
        super().__init__(executor, owned=owned, workers=workers)
        self._checked: dict[int, Any] = {}
        #: names of the nodes the resolve replaces by test doubles (``mark_replaced``)
        self.replaced: frozenset[str] = frozenset()
        self.kills_on_cancel = owned

    def shipped_body(self, spec: Any, args: tuple[Any, ...],
                     kwargs: dict[str, Any] | None) -> Any:
        """What a worker process calls for ``spec``: the node function itself."""
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

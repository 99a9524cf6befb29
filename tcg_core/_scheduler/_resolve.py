"""``resolve_handles``: the scheduler's one entry point for the layers above it."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import contextlib
import gc
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

from .._callbacks import Callback, Observers, active_callbacks, observing
from .._context import inside_body
from .._errors import NodeFailures, TcgError
from .._executors import Adapter, make_adapter
from .._logs import VerboseCallback, logging_callback
from .._options import ResolveOptions
from .._progress import ProgressBar
from .._record import Handle, NodeRecord, NodeState
from ._failures import node_error
from ._observed import ObservedRun
from ._overrides import current
from ._run import Run
from ._sharing import generation

__all__ = ["resolve_handles"]


def resolve_handles(handles: list[Handle], options: ResolveOptions) -> list[Any]:
    """Resolve ``handles`` in one run and return their values in order."""
    records = [h._record for h in handles]
    if all(r.state == NodeState.DONE for r in records):
        return [h._get() for h in handles]
    nested = inside_body()
    # A body that resolves inside its worker runs the inner graph right there: it
    # cannot take a second worker from a pool it is itself occupying.
    adapter = make_adapter("serial" if nested else options.executor, options.max_workers)
    callbacks = _callbacks_of(options)
    observed = callbacks is not None or options.cache or observing()
    if observed and (adapter.hands_over or adapter.keeps_values) \
            and _only_verbose_nodes_elsewhere(options, records):
        observed, callbacks = False, None
    run = _run_class(options, observed, adapter)(adapter, options, nested, generation())
    if observed:  # the same loop with its hooks (see _observed)
        run.observers = Observers(callbacks or ())
        run.observers.emit("on_resolve_start")
    try:
        with _collector_paused(not nested):
            run.run_to_end(records)
    finally:
        if run.observers is not None:
            run.observers.end()
    if run.failures:
        if options.keep_going:
            raise NodeFailures(run.failures)
        raise run.failures[0]
    return [_value_of(h) for h in handles]


def _callbacks_of(options: ResolveOptions) -> list[Callback] | None:
    """Every callback this resolve calls, or ``None``: none (one list test when unused)."""
    found: list[Callback] = [*active_callbacks(), *options.callbacks]
    if options.progress:
        found.append(ProgressBar())
    log = logging_callback()
    if log is not None:
        found.append(log)
    if observing():
        found.append(VerboseCallback())
    return found or None


def _only_verbose_nodes_elsewhere(options: ResolveOptions, records: list[NodeRecord]) -> bool:
    """The resolve is observed only because some node function in the process has
    ``cache=True`` or ``verbose=True``, and none of them is in this graph: on Dask it may
    still hand the graph over (the observed loop goes node by node)."""
    if (options.cache or options.progress or options.callbacks or active_callbacks()
            or logging_callback() is not None):
        return False
    seen: set[int] = set()
    todo = list(records)
    while todo:
        rec = todo.pop()
        if rec.id in seen or rec.state == NodeState.DONE:
            continue
        seen.add(rec.id)
        if rec.spec.cache or rec.spec.verbose:
            return False
        todo.extend(rec.inputs)
    return True


_observed_checked: type[Run] | None = None


def _run_class(options: ResolveOptions, observed: bool, adapter: Adapter) -> type[Run]:
    """The loop this resolve runs: ``Run``, or a subclass with the hooks it asked for.

    On Dask a plain resolve hands the graph over (``_handover``); callbacks, the cache,
    mutation checks and test doubles (``override``, whose calls are recorded here) need
    each node's outcome, children included, on the client: those resolves go node by
    node."""
    global _observed_checked
    if adapter.hands_over and not observed and not options.check_mutation and current() is None:
        from ._handover import HandoverRun  # the Dask adapter's modules only when used

        return HandoverRun
    if adapter.keeps_values and not observed and not options.check_mutation \
            and current() is None:
        from ._kept import KeptRun  # values stay in tcg's worker processes

        return KeptRun
    if options.check_mutation:  # the checked run only when asked: the default pays nothing
        from ._mutation import CheckedRun

        if not observed:
            return CheckedRun
        if _observed_checked is None:
            _observed_checked = type("ObservedCheckedRun", (ObservedRun, CheckedRun), {})
        return _observed_checked
    return ObservedRun if observed else Run


def _value_of(handle: Handle) -> Any:
    rec = handle._record
    if rec.state != NodeState.DONE:
        raise node_error(rec) if rec.error is not None else TcgError(
            f"node {rec.name!r} ({rec.path}) is {rec.state}")
    return handle._get()


# -- the garbage collector ---------------------------------------------------------------
# A big graph would make every full collection rescan it; what exists when a resolve
# starts mostly stays alive while it runs, so the GC may skip it (gc.freeze) until the
# resolve returns. Never when the application froze objects itself (a server that
# freezes before forking workers): unfreezing would undo that. Its freeze is seen by
# sys.modules, which exists from start-up, no longer being among the collected objects.

_pause_lock = threading.Lock()
_pauses = 0  # resolves that are skipping the graph right now (gc.freeze by us)
_checked_count = -1  # the freeze count the last check saw, and what it found
_app_froze = False


def _application_froze_objects() -> bool:
    global _checked_count, _app_froze
    count = gc.get_freeze_count()
    if count == 0:
        return False
    if count != _checked_count:
        _checked_count = count
        _app_froze = not any(obj is sys.modules for obj in gc.get_objects())
    return _app_froze


@contextlib.contextmanager
def _collector_paused(wanted: bool) -> Iterator[None]:
    global _pauses
    with _pause_lock:
        pause = wanted and gc.isenabled() and (_pauses > 0 or not _application_froze_objects())
        if pause:
            if _pauses == 0:
                gc.freeze()
            _pauses += 1
    try:
        yield
    finally:
        if pause:
            with _pause_lock:
                _pauses -= 1
                if _pauses == 0:
                    gc.unfreeze()


def _after_fork_in_child() -> None:
    # A resolve that froze the heap did not survive the fork: nobody would unfreeze it.
    global _pauses, _pause_lock
    _pause_lock = threading.Lock()
    if _pauses:
        _pauses = 0
        gc.unfreeze()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

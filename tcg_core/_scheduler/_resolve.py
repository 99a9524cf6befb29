"""``resolve_handles``: the scheduler's one entry point for the layers above it."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import contextlib
import gc
import os
import sys
import threading
import warnings
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .._cache import CacheWarning
from .._callbacks import Callback, Observers, active_callbacks, hooked_functions_alive
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
from ._state import RunState

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
    observed = callbacks is not None or options.cache
    if not observed and _must_observe_from_the_start(adapter, records):
        observed = True
    run_class = _run_class(options, observed, adapter)
    run = run_class(adapter, options, nested, generation())
    if observed:  # the same loop with its hooks (see _observed)
        run.observers = Observers(_with_verbose(callbacks or []))
        run.observers.emit("on_resolve_start")
    elif run_class is Run or options.check_mutation:  # Run or CheckedRun: in place
        run.on_hooks_needed = _start_observing
    elif adapter.keeps_values:
        run.on_hooks_needed = _hooks_not_applied
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
    return found or None


def _with_verbose(callbacks: list[Callback]) -> list[Callback]:
    """An observed resolve also prints the lines of ``verbose=True`` nodes, if any
    such node function exists."""
    return [*callbacks, VerboseCallback()] if hooked_functions_alive() else callbacks


def _must_observe_from_the_start(adapter: Adapter, records: list[NodeRecord]) -> bool:
    """A plain run starts observing the moment it claims a call that needs it
    (``take_hooks``). The loops whose values live elsewhere cannot: they go node by node
    when a call in the graph needs the hooks. On Dask, the children bodies create run
    in the cluster's own resolves, which decide for themselves; on kept processes they
    come back to this run, which cannot honour their ``cache=``/``verbose=`` and says so
    (``_hooks_not_applied``)."""
    if not (adapter.hands_over or adapter.keeps_values) or not hooked_functions_alive():
        return False
    return _graph_needs_hooks(records)


def _graph_needs_hooks(records: list[NodeRecord]) -> bool:
    """A call in the graph of ``records`` (not yet done) needs the observing loop."""
    seen: set[int] = set()
    todo = list(records)
    while todo:
        rec = todo.pop()
        if rec.id in seen or rec.state == NodeState.DONE:
            continue
        seen.add(rec.id)
        if rec.spec._hooks:
            return True
        todo.extend(rec.inputs)
    return False


def _hooks_not_applied(run: RunState, records: list[NodeRecord]) -> None:
    """A body on kept processes created a call of a ``cache=True`` or ``verbose=True``
    node function: this run keeps values in the workers and cannot store or print
    them. It runs the call, and says so once per function."""
    named = {rec.spec.name: rec for rec in records if rec.spec._hooks}
    for name, rec in named.items():
        warnings.warn(CacheWarning(
            f"node {name!r} ({rec.path}) has cache=True or verbose=True, but it was "
            "created inside a node's body on executor='processes', whose values stay in "
            "the worker processes: this resolve runs it without the result cache and "
            "without its lines; to have them, call it outside the body (in the graph "
            "given to resolve), or resolve on executor='threads'"), stacklevel=2)


def _start_observing(run: RunState, records: list[NodeRecord]) -> None:
    """A plain (or mutation-checked) run becomes its observing twin in place, from the
    next node on. The serial loop holds the plain class's methods: it is handed an empty
    queue, so the general loop, which looks them up, takes over."""
    from ._mutation import CheckedRun

    assert type(run) in (Run, CheckedRun), type(run)
    run.__class__ = _observed_checked_class() if type(run) is CheckedRun else ObservedRun
    assert isinstance(run, ObservedRun)
    run.begin_observing()
    run.observers = Observers(_with_verbose([]))
    run.observers.emit("on_resolve_start")
    queued, run.ready = run.ready, deque(run.ready)
    queued.clear()


_observed_checked: type[Run] | None = None


def _observed_checked_class() -> type[Run]:
    """``ObservedRun`` and ``CheckedRun`` in one class, made once."""
    global _observed_checked
    if _observed_checked is None:
        from ._mutation import CheckedRun

        # A dataclass of its own: its __init__ takes every field of both.
        _observed_checked = dataclass(eq=False)(
            type("ObservedCheckedRun", (ObservedRun, CheckedRun), {}))
    return _observed_checked


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

        return _observed_checked_class() if observed else CheckedRun
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

"""Observing a resolve: the public ``Callback`` class and how a run calls its methods.

A run that has callbacks calls them from its own loop thread, never from a worker, so
a slow callback delays the loop but never holds a body's worker. Every call goes
through one process-wide lock: a callback registered with ``with cb:`` sees every
resolve (nested ones in worker threads too) one event at a time. A callback that
raises is reported once (``CallbackWarning``) and the run goes on.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import threading
import warnings
import weakref
from collections.abc import Iterable
from types import TracebackType
from typing import Any, TypeVar

from ._record import NodeRecord

__all__ = ["EVENTS", "Callback", "CallbackWarning", "Observers", "active_callbacks",
           "hooked_functions_alive", "needs_hooks", "note_hooks"]

#: The methods a callback may override, in the order a node meets them.
EVENTS = ("on_add", "on_start", "on_retry", "on_cache_hit", "on_finish", "on_fail",
          "on_skip")
_BRACKETS = ("on_resolve_start", "on_resolve_end")

_C = TypeVar("_C", bound="Callback")

_active: list[Callback] = []
_active_lock = threading.Lock()
#: One callback call at a time in the whole process (see the module docstring).
_EMIT = threading.RLock()

#: The node functions alive now whose calls need the observing loop (``cache=True``,
#: ``verbose=True``): a registry of live objects, never a switch left set. It decides
#: nothing by itself: a claim asks each call only while one exists (``_sharing``), and
#: a loop that cannot start observing mid-run checks its graph only then (``_resolve``).
_hooked: weakref.WeakSet[Any] = weakref.WeakSet()
_hooked_lock = threading.Lock()


def needs_hooks(cache: bool | None, verbose: bool) -> bool:
    """Whether a node function with these options needs the observing loop.

    >>> needs_hooks(None, False), needs_hooks(True, False), needs_hooks(False, True)
    (False, True, True)
    """
    return cache is True or verbose


def note_hooks(spec: Any, needed: bool) -> None:
    """Record whether node function ``spec`` needs the observing loop: on the function
    (``_hooks``, which a run reads as it claims each call) and in the registry."""
    spec.__dict__["_hooks"] = needed
    with _hooked_lock:
        if needed:
            _hooked.add(spec)
        else:
            _hooked.discard(spec)


def hooked_functions_alive() -> bool:
    """Whether a node function that needs the observing loop exists right now."""
    with _hooked_lock:
        return len(_hooked) > 0


class CallbackWarning(UserWarning):
    """A resolve callback raised; the resolve went on without it for that event."""


class Callback:
    """Observe resolves: override any of the ``on_*`` methods.

    ``on_add(record)`` a node became known to the resolve (children too, as their
    parent's body creates them); ``on_start(record)`` its body is about to run (once
    per attempt); ``on_retry(record, error)`` an attempt failed and it runs again;
    ``on_cache_hit(record)`` its value came from the result cache (no body ran);
    ``on_finish(record)`` it is done; ``on_fail(record, error)`` it failed;
    ``on_skip(record)`` an input failed, so it never ran. ``on_resolve_start()`` and
    ``on_resolve_end()`` bracket each resolve that sees this callback.

    Pass instances as ``resolve(callbacks=[cb])``, or use one as a context manager:
    ``with cb:`` applies it to every resolve inside the block. Methods are called on
    the resolve's own thread, one call at a time; an exception from one is reported
    once as a ``CallbackWarning`` and never breaks the resolve.

    >>> from tcg_core import Callback, node
    >>> class Names(Callback):
    ...     def __init__(self):
    ...         self.done = []
    ...     def on_finish(self, record):
    ...         self.done.append(record.name)
    >>> @node
    ... def inc(x):
    ...     return x + 1
    >>> names = Names()
    >>> with names:
    ...     inc(inc(1)).resolve(executor="serial")
    3
    >>> names.done
    ['inc', 'inc']
    """

    def on_resolve_start(self) -> None:
        """A resolve that sees this callback begins."""

    def on_resolve_end(self) -> None:
        """That resolve ends (returned or raised)."""

    def on_add(self, record: NodeRecord) -> None:
        """``record`` became known to the resolve."""

    def on_start(self, record: NodeRecord) -> None:
        """``record``'s body is about to run (once per attempt)."""

    def on_retry(self, record: NodeRecord, error: BaseException) -> None:
        """An attempt of ``record`` raised ``error``; it will run again."""

    def on_cache_hit(self, record: NodeRecord) -> None:
        """``record``'s value was read from the result cache; its body did not run."""

    def on_finish(self, record: NodeRecord) -> None:
        """``record`` is done."""

    def on_fail(self, record: NodeRecord, error: BaseException) -> None:
        """``record`` failed with ``error``."""

    def on_skip(self, record: NodeRecord) -> None:
        """``record`` was skipped: one of its inputs failed."""

    def __enter__(self: _C) -> _C:
        with _active_lock:
            _active.append(self)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        with _active_lock:
            # Remove this entry, not an equal one another block registered.
            for index in range(len(_active) - 1, -1, -1):
                if _active[index] is self:
                    del _active[index]
                    break


def active_callbacks() -> list[Callback]:
    """The callbacks of every ``with cb:`` block open right now, outermost first."""
    with _active_lock:
        return list(_active)


class Observers:
    """The callbacks one resolve calls, with, per event, only those that override it."""

    def __init__(self, callbacks: Iterable[Callback]) -> None:
        self.callbacks = list(dict.fromkeys(callbacks))  # one call per event each
        self._warned: set[tuple[int, str]] = set()
        #: ``on_resolve_end`` was called: bodies a fail-fast left running end unheard
        self.ended = False
        self.by_event: dict[str, list[Any]] = {}
        for name in (*EVENTS, *_BRACKETS):
            base = getattr(Callback, name)
            self.by_event[name] = [getattr(cb, name) for cb in self.callbacks
                                   if getattr(type(cb), name, base) is not base]

    def emit(self, event: str, *args: Any) -> None:
        """Call every callback's ``event`` method; one that raises is warned of once."""
        methods = self.by_event[event]
        if not methods or self.ended:
            return
        with _EMIT:
            if not self.ended:  # checked again under the lock: end() may have won
                self._call(methods, event, args)

    def _call(self, methods: list[Any], event: str, args: tuple[Any, ...]) -> None:
        for method in methods:
            try:
                method(*args)
            except Exception as exc:
                self._warn(method, event, exc)

    def end(self) -> None:
        """``on_resolve_end``, the last call any callback gets from this resolve: a body
        left running by a fail-fast ends later, on another thread, unannounced."""
        with _EMIT:
            self._call(self.by_event["on_resolve_end"], "on_resolve_end", ())
            self.ended = True

    def added(self, records: list[NodeRecord]) -> None:
        """``on_add`` for each record a run just claimed."""
        if self.by_event["on_add"]:
            for rec in records:
                self.emit("on_add", rec)

    def _warn(self, method: Any, event: str, exc: Exception) -> None:
        owner = getattr(method, "__self__", method)
        key = (id(owner), event)
        if key in self._warned:
            return
        self._warned.add(key)
        warnings.warn(CallbackWarning(
            f"callback {type(owner).__name__}.{event} raised {type(exc).__name__}: {exc}; "
            "the resolve goes on (further errors of this method in this resolve are not "
            "reported); fix the callback"), stacklevel=2)

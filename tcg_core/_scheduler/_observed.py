"""The loop for resolves that are observed or cached: ``Run`` plus callbacks and the
result cache, so that a plain resolve pays nothing for either.

``_resolve`` picks this class when the resolve has callbacks (``callbacks=``, ``with
cb:``, ``progress=True``, an enabled ``tcg_core`` logger) or asks for ``cache=True``;
a plain run becomes one in place (``_resolve._start_observing``) the moment it claims
a call of a ``cache=True`` or ``verbose=True`` node function, so a node function
defined elsewhere costs a resolve nothing. Each override adds its work around one
transition of ``Lifecycle`` and calls it; every callback is called here, on the
resolve's own thread.

A cached node whose key is stored takes one more transition::

    ready ─cache_hit─▶ done     (its body never runs, so it creates no children)

On a miss, the key is kept until the node is done, and its final value (children
substituted) is stored then.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import warnings
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from .._cache import CacheWarning, fingerprints_of, key_of, load, save
from .._record import NodeRecord, State
from .._values import arguments
from ._run import Run
from ._transitions import DONE, FAILED, READY, RUNNING, SKIPPED

__all__ = ["ObservedRun"]



@dataclass(eq=False)
class ObservedRun(Run):
    """A ``Run`` that calls its ``observers`` and consults the result cache."""

    #: cached nodes that missed: record → the key their value is stored under
    cache_keys: dict[NodeRecord, str] = field(default_factory=dict)
    #: the node ``start`` announced before handing it to ``run_inline``
    announced: NodeRecord | None = None

    def begin_observing(self) -> None:
        """The fields observing adds, for a plain run that starts observing in place
        (``_resolve._start_observing``): as a new ``ObservedRun`` has them."""
        self.cache_keys = {}
        self.announced = None

    def start(self, rec: NodeRecord) -> None:
        if rec.state == READY:
            if self.served_from_cache(rec):
                return
            self.observers.emit("on_start", rec)
            self.announced = rec
        try:
            super().start(rec)
        finally:  # it went to a worker, or run_inline took the announcement
            self.announced = None

    def run_inline(self, rec: NodeRecord, spec: Any) -> None:
        if self.announced is rec:  # start() already announced (and looked it up)
            self.announced = None
        else:
            if self.served_from_cache(rec):
                return
            self.observers.emit("on_start", rec)
        super().run_inline(rec, spec)

    def retry(self, rec: NodeRecord, exc: BaseException) -> None:
        super().retry(rec, exc)
        self.observers.emit("on_retry", rec, exc)

    def finish(self, rec: NodeRecord, state: State) -> None:
        key = self.cache_keys.pop(rec, None) if self.cache_keys else None
        handle = rec._future
        super().finish(rec, state)
        if key is not None and state == DONE and handle is not None:
            # After the node is final: a store that raises (a warning turned into an
            # error) cannot leave it half-way.
            self.store_in_cache(rec, key, handle._get())
        if state == DONE:
            self.observers.emit("on_finish", rec)
        elif state == FAILED:
            self.observers.emit("on_fail", rec, rec.error)
        elif state == SKIPPED:
            self.observers.emit("on_skip", rec)

    # -- the result cache ------------------------------------------------------------------
    def store_in_cache(self, rec: NodeRecord, key: str, value: Any) -> None:
        """Store a value with the code fingerprints of every node its body created; not a
        value a test double helped compute, nor one whose nested nodes cannot be found
        again by name to check on a hit."""
        nested: list[NodeRecord] = []
        pending = list(rec.children or ())
        while pending:
            child = pending.pop()
            nested.append(child)
            pending.extend(child.children or ())
        if any(child.replaced for child in nested):
            return
        fingerprints = fingerprints_of(list({id(c.spec): c.spec for c in nested}.values()))
        if fingerprints is None:
            warnings.warn(CacheWarning(
                f"the value of node {rec.name!r} ({rec.path}) was not stored in the result "
                "cache: its body created a node whose function cannot be found again by "
                "module and name (a local function, a lambda), so a later hit could not "
                "check that node's code; define it at module level"), stacklevel=2)
            return
        save(key, value, rec.name, rec.path, fingerprints)

    def served_from_cache(self, rec: NodeRecord) -> bool:
        """ready → done from the cache (``True``), or note the key of a miss."""
        spec = rec.spec
        wanted = getattr(spec, "cache", None)
        if not (self.options.cache if wanted is None else wanted):
            return False
        if rec in self.cache_keys:
            return False  # a retry: the first attempt looked it up already
        if self.overrides is not None and self.overrides.spec_for(rec) is not spec:
            return False  # a test double runs: its value is neither read nor stored
        try:
            args, kwargs = arguments(rec)
        except BaseException:
            return False  # start() reports it, with the node's name
        key = key_of(spec, args, kwargs, rec.path)
        if key is None:
            return False
        found, value = load(key)
        if not found:
            self.cache_keys[rec] = key
            return False
        rec.state = RUNNING
        now = perf_counter()
        rec._ran = (now, now, self.label)
        rec.cached = True
        self.observers.emit("on_cache_hit", rec)
        self.complete(rec, value)
        return True

"""A resolve on tcg's worker processes whose values stay where they were made: ``KeptRun``.

On ``executor="processes"`` a body's value stays in its worker process; the node's
future holds a ``Held`` reference, and a consumer receives it as an argument that the
worker running it reads from its own memory or maps from shared memory (``_executors.
_workers``). This run fetches into this process only what this process must have:

* the value of every done node whose future the caller still holds, when the run ends
  (what ``resolve()`` returns, and what ``Future.result()`` answers later);
* the values a waiting parent's returned futures stand for, before it completes;
* a value another resolve (another thread) waits for, before that resolve hears of it.

A value is released in its worker once every consumer in this run has finished and no
future of the caller's stands for it. Callbacks, the cache, mutation checks and test
doubles need every value here: such a resolve runs the plain ``Run``, whose values come
back (their big buffers through shared memory).

It takes one transition of the lifecycle (``_lifecycle``) that a plain run never does::

    done ─lose─▶ failed   (its value was lost with its worker, and recomputing it failed)
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from dataclasses import dataclass, field
from typing import Any

from .._errors import SerializationError, TcgError
from .._executors._held import Held
from .._executors._processes import ProcessesAdapter
from .._record import Handle, NodeRecord, State
from .._values import scan_futures
from ._lifecycle import STOPS
from ._run import Run
from ._transitions import DONE, WAITING

__all__ = ["KeptRun"]



def _helds(value: Any) -> list[Held]:
    """The held references a value is or holds (a ``nout=`` value: one per item)."""
    if value.__class__ is Held:
        return [value]
    if value.__class__ is tuple:
        return [item for item in value if item.__class__ is Held]
    return []


def _handle(rec: NodeRecord) -> Handle | None:
    """The live future of ``rec``, if anything still holds it."""
    if rec._future is not None:
        return rec._future
    ref = rec._value_ref
    return ref() if ref is not None else None


@dataclass(eq=False)
class KeptRun(Run):
    """A resolve whose values stay in the worker processes that made them."""

    adapter: ProcessesAdapter  #: tcg's worker processes (narrowed from RunState's)
    #: done nodes whose value is held in a worker: their references
    kept: dict[NodeRecord, list[Held]] = field(default_factory=dict)
    #: of those, how many consumers in this run have not finished yet
    readers: dict[NodeRecord, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.adapter.keep = True

    # -- fetching ------------------------------------------------------------------------
    def fetch_into(self, handle: Handle) -> None:
        """Replace the held references of ``handle``'s value by the values."""
        value = handle._value
        if value.__class__ is Held:
            handle._value = self.adapter.fetch(value)
        elif value.__class__ is tuple and any(i.__class__ is Held for i in value):
            handle._value = tuple(self.adapter.fetch(i) if i.__class__ is Held else i
                                  for i in value)

    def complete_waiting(self, rec: NodeRecord) -> None:
        """waiting → done: first fetch what its returned futures stand for (its value
        is made of theirs)."""
        if rec.state != WAITING or rec._run is not self:
            return
        try:
            returned: list[Handle] = []
            scan_futures(rec._more().result, returned)
            for future in returned:
                base = _handle(future._record)
                if base is not None:
                    self.fetch_into(base)
        except TcgError as exc:  # lost with its worker, or it does not pickle
            self.fail(rec, exc)
            return
        except BaseException as exc:
            self.internal_failure(rec, "fetching the values its body returned", exc)
            return
        super().complete_waiting(rec)

    # -- keeping and releasing -----------------------------------------------------------
    def finish(self, rec: NodeRecord, state: State) -> None:
        handle = rec._future
        helds: list[Held] = []
        if state == DONE and handle is not None:
            helds = _helds(handle._value)
            if helds and rec.id in self.watchers:  # another resolve reads it at once
                try:
                    self.fetch_into(handle)
                except TcgError as exc:  # lost with its worker, or it does not pickle
                    self.fail(rec, exc)
                    return
                self.adapter.release([h.vid for h in helds])
                helds = []
        consumers = rec._consumers
        super().finish(rec, state)
        if helds:
            self.kept[rec] = helds
            self.readers[rec] = len(set(consumers or ()))
        self.release_inputs(rec)

    def release_inputs(self, rec: NodeRecord) -> None:
        """Let the workers drop values nothing needs any more: their consumers in this
        run are finished, and no future of the caller's stands for them."""
        done = [rec] if self.readers.get(rec) == 0 else []
        for source in dict.fromkeys(rec.inputs):
            left = self.readers.get(source)
            if left is not None:
                self.readers[source] = left - 1
                if left == 1:
                    done.append(source)
        gone = []
        for source in done:
            if _handle(source) is None:
                del self.readers[source]
                gone += [h.vid for h in self.kept.pop(source)]
        if gone:
            self.adapter.release(gone)

    # -- the end -------------------------------------------------------------------------
    def shut_down(self, *, cancel: bool) -> None:
        """Fetch what the caller can still ask for, then close."""
        try:
            self.fetch_values()
        finally:
            super().shut_down(cancel=cancel)

    def fetch_values(self) -> None:
        """Every value kept in a worker that a live future of the caller's stands for."""
        kept, self.kept = self.kept, {}
        self.readers.clear()
        for rec in kept:
            handle = _handle(rec)
            if handle is None or rec.state != DONE:
                continue
            try:
                self.fetch_into(handle)
            except BaseException as exc:
                if isinstance(exc, STOPS):
                    raise
                self.lost(rec, exc)

    def lost(self, rec: NodeRecord, exc: BaseException) -> None:
        """Its value was lost with the worker process holding it and could not be
        recomputed: ``lose`` it, saying so."""
        if isinstance(exc, SerializationError):
            error: TcgError = SerializationError(f"node {rec.name!r} ({rec.path}): {exc}")
        else:
            error = TcgError(f"node {rec.name!r} ({rec.path}) ran in a worker process, but "
                             f"its value could not be brought back: {exc}; build the graph "
                             "again to compute it")
        error.__cause__ = exc
        self.lose(rec, error)

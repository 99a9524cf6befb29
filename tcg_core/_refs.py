"""What a node record refers to, as the engine reads it: the function it calls
(``NodeSpec``) and the resolve that owns it while it runs (``Owner``). Protocols, so the
record (``_record``) needs neither the ``@node`` layer above it nor the scheduler."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from typing import Any, Protocol

__all__ = ["NodeSpec", "Owner"]


class NodeSpec(Protocol):
    """What the engine reads of the function a record calls, whatever it is: a
    ``NodeFunction``, or for a graph loaded from JSON a placeholder with its name and
    cost, which has no body (a loaded record never runs). A run stands something else in
    for it while it runs a call (a test double, a checked body) and reaches the body
    through that."""

    @property
    def name(self) -> str:
        """Shown in graphs and errors."""

    @property
    def cost(self) -> float | None:
        """The ``cost=`` hint: the node's weight for ranking."""

    @property
    def timeout(self) -> float | None:
        """Seconds a body may run."""

    @property
    def retries(self) -> int:
        """Extra attempts after a failure."""

    @property
    def nout(self) -> int | None:
        """A call returns this many futures."""

    @property
    def cache(self) -> bool | None:
        """Use the result cache (None: as the resolve says)."""

    @property
    def verbose(self) -> bool:
        """Print a line per node."""


    @property
    def _hooks(self) -> bool:
        """Its calls need a resolve's observing loop (``cache=True``, ``verbose=True``)."""


class Owner(Protocol):
    """The resolve that owns a record while it runs it (the scheduler's run), as far as
    another resolve that shares the record reads it (``_scheduler._sharing``)."""

    #: the fork generation it was made in: an owner from before a fork is gone
    generation: int
    #: other resolves waiting on records it owns: record id → those runs
    watchers: dict[int, list[Any]]

"""The arrows of a node's lifecycle as data, and the validate mode that checks them.

``ARROWS`` is the lifecycle diagram of ``_lifecycle`` as a table: each ``(from, to)``
pair a node's state may take, with the transitions that take it. The scheduler writes
states directly on its hot path (a check per write would cost every node); the validate
mode checks every write against this table instead. It is on when the environment
variable ``TCG_VALIDATE`` is set (not empty, not ``0``) as a run starts, as
dask.distributed's ``validate``: tcg's own test suite turns it on for every test. A
validated run gives the records it claims the class ``CheckedRecord``, whose ``state``
refuses an arrow that is not in the table, and checks the run's invariants when it ends.

>>> ("done", "pending") in ARROWS
False
>>> ARROWS[("pending", "ready")]
'make_ready'
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import os
from collections.abc import Collection, Iterable
from typing import Any, Final, SupportsIndex

from .._record import NodeRecord, NodeState, State

__all__ = ["ARROWS", "DONE", "FAILED", "FINISHED", "PENDING", "READY", "RUNNING", "SKIPPED",
           "VALIDATE_ENV", "WAITING", "CheckedRecord", "InvalidTransition", "check_finished",
           "validating", "watch"]

PENDING: Final = NodeState.PENDING
READY: Final = NodeState.READY
RUNNING: Final = NodeState.RUNNING
WAITING: Final = NodeState.WAITING
DONE: Final = NodeState.DONE
FAILED: Final = NodeState.FAILED
SKIPPED: Final = NodeState.SKIPPED
#: the states a node never leaves (but ``lose``: done → failed)
FINISHED: Final = frozenset(NodeState.FINISHED)

#: Every arrow of the lifecycle: ``(from, to)`` → the transitions that take it.
ARROWS: Final[dict[tuple[State, State], str]] = {
    (PENDING, READY): "make_ready",
    (READY, RUNNING): "start",
    (RUNNING, DONE): "body_returned (no children: complete)",
    (RUNNING, WAITING): "body_returned (children or returned futures)",
    (WAITING, DONE): "complete_waiting",
    (RUNNING, READY): "retry; resend (Dask: an input's retry succeeded)",
    (RUNNING, FAILED): "fail",
    (RUNNING, PENDING): "interrupt; release",
    (READY, PENDING): "release",
    (WAITING, FAILED): "child_failed",
    (PENDING, FAILED): "fail_the_rest (nothing left could make it ready)",
    (READY, FAILED): "fail_the_rest (no worker left to run it)",
    (PENDING, SKIPPED): "skip",
    (READY, SKIPPED): "skip",
    (RUNNING, SKIPPED): "skip (Dask: handed over, then an input failed)",
    (DONE, FAILED): "lose (the only copy of the value was lost before it was fetched)",
}

#: The environment variable that turns the validate mode on.
VALIDATE_ENV: Final = "TCG_VALIDATE"


class InvalidTransition(AssertionError):
    """A state change that is not an arrow of ``ARROWS``: a bug in tcg, found by the
    validate mode."""


def validating() -> bool:
    """Whether a run starting now validates its transitions (``TCG_VALIDATE``).

    >>> isinstance(validating(), bool)
    True
    """
    return os.environ.get(VALIDATE_ENV, "") not in ("", "0")


_STATE_SLOT = NodeRecord.__dict__["state"]  # the slot ``CheckedRecord.state`` stores in


class CheckedRecord(NodeRecord):
    """A record whose state changes are checked against ``ARROWS``. The same layout as
    ``NodeRecord`` (no slot of its own), so a validated run switches a record's class
    when it claims it, and nothing else about the record changes."""

    __slots__ = ()

    @property
    def state(self) -> State:
        """The slot's value, read as ``NodeRecord`` reads it."""
        value: State = _STATE_SLOT.__get__(self, NodeRecord)
        return value

    @state.setter
    def state(self, new: State) -> None:
        old: State = _STATE_SLOT.__get__(self, NodeRecord)
        if (old, new) not in ARROWS:
            raise InvalidTransition(
                f"node {self.name!r} ({self.path}): {old} → {new} is not a transition of "
                "the lifecycle (tcg_core._scheduler._transitions.ARROWS)")
        _STATE_SLOT.__set__(self, new)

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        # A record that crosses a process boundary arrives as a plain NodeRecord: the
        # check belongs to the run that claimed it here.
        return (_plain_record, (), self.__getstate__())


def _plain_record() -> NodeRecord:
    """An empty ``NodeRecord`` for unpickling (``__setstate__`` fills it)."""
    return NodeRecord.__new__(NodeRecord)


def watch(records: Iterable[NodeRecord]) -> None:
    """Check every later state change of ``records`` (a validated run's claim)."""
    for rec in records:
        if rec.__class__ is NodeRecord:
            rec.__class__ = CheckedRecord


def check_finished(run: object, claimed: Iterable[NodeRecord],
                   in_flight: Collection[NodeRecord]) -> None:
    """The invariants of ``run`` (its ``claimed`` records, its bodies ``in_flight``) once
    it returned with no body still running: it owns no
    node (each one it claimed is finished, or was let go: pending, or waiting for the
    next resolve), and no finished node has an owner."""
    problems: list[str] = []
    for rec in claimed:
        if rec._run is run:
            problems.append(f"{rec.name!r} ({rec.path}) is {rec.state} and still owned")
        elif rec.state in FINISHED and rec._run is not None:
            problems.append(f"{rec.name!r} ({rec.path}) is {rec.state} with an owner")
    if in_flight:
        problems.append(f"{len(in_flight)} bodies still counted in flight")
    if problems:
        raise InvalidTransition("a resolve ended breaking its invariants: "
                                + "; ".join(problems))

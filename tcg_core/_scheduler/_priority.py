"""Which ready node goes first, and which nodes are too small to hand to a worker.

When more nodes are ready than workers are free, the one with the longest remaining
path to the end of the graph goes first (critical-path-first list scheduling). A node's
weight is its ``cost=`` hint, else the mean duration of the same function's bodies
measured so far in this resolve, else 1. Nodes measured faster than ``INLINE_BELOW`` run in the
scheduler's own thread: a hand-off would cost more than the work, and their order
cannot delay anything, so they are not ranked at all.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from typing import Any

from .._record import NodeRecord
from ._state import RunState

__all__ = ["INLINE_BELOW", "is_tiny", "measured", "rank"]

#: Bodies measured faster than this run in the scheduler's thread (seconds).
INLINE_BELOW = 30e-6


def is_tiny(run: RunState, spec: Any) -> bool:
    """Run a call of ``spec`` (the run's view of a node function: a test double's
    stand-in when one replaces it) in the scheduler's thread: its bodies were measured
    faster than a hand-off to a worker, in this resolve."""
    if not _inlinable(run, spec):
        return False
    mean = run.durations.get(spec)
    return mean is not None and mean < INLINE_BELOW


def _inlinable(run: RunState, spec: Any) -> bool:
    """A body of ``spec`` may run in the scheduler's thread at all (if it is quick)."""
    return run.options.inline_tiny and spec.timeout is None and not run.adapter.isolated


def _may_be_tiny(run: RunState, rec: NodeRecord) -> bool:
    """Not known to need a worker: measured tiny in this resolve, or not measured yet
    (without a ``cost=`` hint): its first body, on a worker, will tell (``measured``)."""
    spec = rec.spec
    if spec.cost is not None or not _inlinable(run, spec):
        return False
    mean = run.durations.get(spec)
    return mean is None or mean < INLINE_BELOW


def rank(run: RunState, records: list[NodeRecord]) -> None:
    """Longest remaining path for each new record (consumers first).

    Skipped while every node may be tiny: those run inline the moment they are ready,
    so their order cannot delay anything and ranking would cost more. A node not
    measured yet counts as one until its first body says otherwise (``measured``), as
    each resolve measures afresh.
    """
    if not run.ordered:
        return
    starting = not run.prioritised
    if starting and all(_may_be_tiny(run, rec) for rec in records):
        return
    ranks = run.ranks
    for rec in _consumers_first(records):
        below = 0.0
        for consumer in rec._consumers or ():
            value = ranks.get(consumer.id, 0.0)
            if value > below:
                below = value
        ranks[rec.id] = _weight(run, rec) + below
    if starting:  # the nodes already queued move to the heap, by their ranks
        run.prioritised = True
        for rec in run.ready:
            run.queue_ready(rec)
        run.ready.clear()


def measured(run: RunState, spec: Any) -> None:
    """A body of ``spec`` was just measured: if it is the first sign that bodies need
    workers, rank every unfinished node of the run now (``rank`` skipped them)."""
    if run.prioritised or not run.ordered:
        return
    mean = run.durations.get(spec)
    if mean is not None and mean >= INLINE_BELOW:
        rank(run, [rec for rec in run.claimed if rec._run is run])


def _weight(run: RunState, rec: NodeRecord) -> float:
    spec = rec.spec
    if spec.cost is not None:
        return float(spec.cost)
    return run.durations.get(spec, 1.0)


def _consumers_first(records: list[NodeRecord]) -> list[NodeRecord]:
    """``records`` ordered so that every node comes after the nodes that consume it, for
    computing remaining-path lengths. Records are keyed by identity: this runs once per
    node of a graph whose nodes are not all measured tiny."""
    indegree = dict.fromkeys(records, 0)
    for rec in records:
        consumers = rec._consumers
        if consumers:
            indegree[rec] = sum(1 for c in consumers if c in indegree)
    order = [rec for rec, count in indegree.items() if count == 0]
    for rec in order:  # grows while it is walked
        children = rec.children
        for inp in (rec.inputs if children is None else (*rec.inputs, *children)):
            count = indegree.get(inp)
            if count is not None:
                indegree[inp] = count - 1
                if count == 1:
                    order.append(inp)
    return order if len(order) == len(indegree) else records

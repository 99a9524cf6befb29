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

__all__ = ["INLINE_BELOW", "is_tiny", "rank"]

#: Bodies measured faster than this run in the scheduler's thread (seconds).
INLINE_BELOW = 30e-6


def is_tiny(run: RunState, rec: NodeRecord, spec: Any) -> bool:
    """Run ``rec`` (whose body is ``spec``'s) in the scheduler's thread: its function's
    bodies were measured faster than a hand-off to a worker, in this resolve."""
    if not run.options.inline_tiny or spec.timeout is not None or run.adapter.isolated:
        return False
    mean = run.durations.get(rec.spec)
    return mean is not None and mean < INLINE_BELOW


def rank(run: RunState, records: list[NodeRecord]) -> None:
    """Longest remaining path for each new record (consumers first).

    Skipped while every node is measured tiny: those run inline the moment they are
    ready, so their order cannot delay anything and ranking would cost more.
    """
    if not run.ordered:
        return
    if not run.prioritised:
        if all(is_tiny(run, rec, rec.spec) for rec in records):
            return
        run.prioritised = True
        for rec in run.ready:  # already queued: move them to the heap
            run.queue_ready(rec)
        run.ready.clear()
    ranks = run.ranks
    for rec in _consumers_first(records):
        below = 0.0
        for consumer in rec._consumers or ():
            value = ranks.get(consumer.id, 0.0)
            if value > below:
                below = value
        ranks[rec.id] = _weight(run, rec) + below


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

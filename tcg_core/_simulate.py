"""Replay a recorded graph on N simulated workers: what makespan its DAG allows.

This reads the graph model only. It answers "how fast could this graph run with N
workers?" without a clock, so tests and benchmarks can compare a real run with the
list schedule the same DAG gets (critical-path-first, like the real scheduler).
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import heapq
import itertools
from dataclasses import dataclass, field

from ._graph import GraphModel, NodeRecord, node_weight

__all__ = ["Schedule", "simulate"]


@dataclass(frozen=True)
class Schedule:
    """A simulated run: ``makespan``, ``total_work``, and each node's simulated start."""

    workers: int
    makespan: float
    total_work: float
    critical_path: float
    starts: dict[int, float] = field(repr=False, default_factory=dict)

    @property
    def speedup(self) -> float:
        """Serial time over simulated makespan (1.0 for an empty graph)."""
        return self.total_work / self.makespan if self.makespan > 0 else 1.0


def simulate(graph: GraphModel, workers: int, weight: str = "duration",
             policy: str = "critical-path") -> Schedule:
    """List-schedule ``graph`` on ``workers`` workers and return the simulated run.

    ``weight`` is ``"duration"`` (measured body time), ``"cost"`` (``cost=`` hints, else
    1) or ``"unit"``. ``policy`` is ``"critical-path"`` (longest remaining path first,
    as the real scheduler does) or ``"fifo"`` (first ready, first run). A node's body
    can start when its inputs are complete and its parent's body has returned; a
    parent is complete when its children are.

    >>> from tcg_core import node, Graph, simulate
    >>> @node(cost=1)
    ... def step(*xs):
    ...     return 0
    >>> with Graph() as g:
    ...     a = step(); b = step(a); c = step(a); d = step(b, c)
    >>> simulate(g, workers=2, weight="cost").makespan
    3.0
    >>> simulate(g, workers=1, weight="cost").makespan
    4.0
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    if policy not in ("critical-path", "fifo"):
        raise ValueError(f"policy must be 'critical-path' or 'fifo', not {policy!r}")
    nodes = graph.nodes
    cost = {r.id: node_weight(r, weight) for r in nodes}
    members = set(cost)
    waits_on = {r.id: _waits_on(r, members) for r in nodes}
    successors: dict[int, list[int]] = {r.id: [] for r in nodes}
    for rid, deps in waits_on.items():
        for dep in deps:
            successors[dep].append(rid)
    rank = _remaining_path(nodes, cost, successors)
    # Bodies need their inputs complete and their parent's body returned.
    body_deps = {r.id: len(_inputs(r, members)) + (1 if _parent(r, members) else 0)
                 for r in nodes}
    completion_deps = {r.id: len(_children(r, members)) for r in nodes}
    by_id = {r.id: r for r in nodes}
    order = itertools.count()
    ready: list[tuple[float, int, int]] = []

    def make_ready(rid: int) -> None:
        key = -rank[rid] if policy == "critical-path" else 0.0
        heapq.heappush(ready, (key, next(order), rid))

    for r in nodes:
        if body_deps[r.id] == 0:
            make_ready(r.id)
    running: list[tuple[float, int, int]] = []
    starts: dict[int, float] = {}
    now, free = 0.0, workers

    def complete(rid: int) -> None:
        for succ in successors[rid]:
            rec = by_id[succ]
            if _parent(by_id[rid], members) is rec:
                completion_deps[succ] -= 1
                if completion_deps[succ] == 0 and succ in body_end:
                    complete(succ)
            else:
                body_deps[succ] -= 1
                if body_deps[succ] == 0:
                    make_ready(succ)

    body_end: dict[int, float] = {}
    while ready or running:
        while ready and free:
            _, _, rid = heapq.heappop(ready)
            starts[rid] = now
            free -= 1
            heapq.heappush(running, (now + cost[rid], next(order), rid))
        if not running:
            break
        now, _, rid = heapq.heappop(running)
        free += 1
        body_end[rid] = now
        for child in _children(by_id[rid], members):
            body_deps[child.id] -= 1
            if body_deps[child.id] == 0:
                make_ready(child.id)
        if completion_deps[rid] == 0:
            complete(rid)
    total = sum(cost.values())
    longest = graph.critical_path_length(weight)
    return Schedule(workers=workers, makespan=now, total_work=total, critical_path=longest,
                    starts=starts)


def _inputs(record: NodeRecord, members: set[int]) -> list[NodeRecord]:
    return [r for r in dict.fromkeys(record.inputs) if r.id in members]


def _children(record: NodeRecord, members: set[int]) -> list[NodeRecord]:
    return [r for r in record.children or () if r.id in members]


def _parent(record: NodeRecord, members: set[int]) -> NodeRecord | None:
    return record.parent if record.parent is not None and record.parent.id in members else None


def _waits_on(record: NodeRecord, members: set[int]) -> list[int]:
    """What must complete before ``record`` completes: inputs and children."""
    return [r.id for r in _inputs(record, members) + _children(record, members)]


def _remaining_path(nodes: list[NodeRecord], cost: dict[int, float],
                    successors: dict[int, list[int]]) -> dict[int, float]:
    rank: dict[int, float] = {}
    pending = {r.id: len(successors[r.id]) for r in nodes}
    predecessors: dict[int, list[int]] = {r.id: [] for r in nodes}
    for rid, succs in successors.items():
        for s in succs:
            predecessors[s].append(rid)
    stack = [rid for rid, n in pending.items() if n == 0]
    while stack:
        rid = stack.pop()
        rank[rid] = cost[rid] + max((rank[s] for s in successors[rid]), default=0.0)
        for p in predecessors[rid]:
            pending[p] -= 1
            if pending[p] == 0:
                stack.append(p)
    for r in nodes:
        rank.setdefault(r.id, cost[r.id])
    return rank

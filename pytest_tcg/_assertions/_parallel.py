"""``assert_ran_in_parallel``: recorded executions that overlapped."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from collections import deque
from typing import Any

from tcg_core import GraphModel, NodeRecord, is_future

from .._graphs import GraphLike, as_model
from ._timing import max_in_flight

__all__ = ["assert_ran_in_parallel"]

_TINY = 1e-4  # seconds: bodies this short rarely overlap even on a pool


def assert_ran_in_parallel(graph: GraphLike, *nodes: Any) -> None:
    """Assert the recorded executions of ``nodes`` overlapped: there was a moment when all
    of them were running at once.

    ``nodes`` are names (a name matching several nodes selects them all), futures or node
    records. This reads the start and end times the run recorded, so it does not depend on
    how fast the machine is.

    What overlap proves: the scheduler had started every one of these bodies before any
    of them returned, so nothing in the graph orders them and the executor gave them
    workers at once. It does not prove they made progress at the same time: bodies
    that wait on one lock, CPU-bound Python on threads (the GIL), or a machine with one
    free core overlap just as well. That the work got faster is what
    :func:`assert_parallel_speedup` checks. On failure the message names the cause the
    graph shows: one node depends on the other (through inputs or nesting), they all
    ran on one worker (and whether the pool had others), they were too short to
    overlap, or they waited on something outside the graph.

    >>> import time
    >>> from tcg_core import Graph, node
    >>> @node
    ... def wait(label):
    ...     time.sleep(0.02)
    ...     return label
    >>> with Graph() as g:
    ...     b, c = wait("b"), wait("c")
    >>> g.resolve(executor="threads")
    ['b', 'c']
    >>> assert_ran_in_parallel(g, "wait")
    >>> g2 = Graph.of(wait("b"), wait("c"))
    >>> g2.resolve(executor="serial")
    ['b', 'c']
    >>> assert_ran_in_parallel(g2, "wait")
    Traceback (most recent call last):
    ...
    AssertionError: wait, wait did not all run at the same time ...
    """
    __tracebackhide__ = True
    model = as_model(graph)
    records = _select(model, nodes)
    if len(records) < 2:
        raise AssertionError(f"assert_ran_in_parallel() needs two or more nodes; "
                             f"{_names(records)} selects {len(records)}")
    not_run = [r for r in records if r.start is None or r.end is None]
    if not_run:
        raise AssertionError(
            "these nodes have no recorded run, so they cannot have overlapped: "
            + ", ".join(f"{r.name} ({r.state})" for r in not_run)
            + "; resolve the graph first")
    latest_start = max(r.start or 0.0 for r in records)
    earliest_end = min(r.end or 0.0 for r in records)
    if latest_start < earliest_end:
        return
    raise AssertionError(_overlap_report(records, model))


def _select(model: GraphModel, nodes: tuple[Any, ...]) -> list[NodeRecord]:
    chosen: dict[int, NodeRecord] = {}
    for item in nodes:
        if isinstance(item, str):
            found = model.nodes_named(item)
            if not found:
                known = ", ".join(sorted({r.name for r in model.nodes}))
                raise AssertionError(f"no node named {item!r} in the graph (names: {known})")
        elif is_future(item):
            found = [item.node]
        elif isinstance(item, NodeRecord):
            found = [item]
        else:
            raise TypeError(f"name nodes by string, future or node record, not {item!r}")
        chosen.update((r.id, r) for r in found)
    return list(chosen.values())


def _names(records: list[NodeRecord]) -> str:
    return ", ".join(r.name for r in records) or "nothing"


def _overlap_report(records: list[NodeRecord], model: GraphModel) -> str:
    spans = sorted(((r.start or 0.0, r.end or 0.0, r) for r in records), key=lambda s: s[0])
    t0 = spans[0][0]
    width = max(len(r.name) for r in records)
    lines = [f"{_names(records)} did not all run at the same time (times from the first "
             "start):"]
    for start, end, r in spans:
        lines.append(f"  {r.name:<{width}}  {start - t0:7.3f} s -> {end - t0:7.3f} s"
                     f"  on {r.worker or '?'}")
    _, first_end, first = min(spans, key=lambda s: s[1])
    last_start, _, last = spans[-1]
    lines.append(f"  {last.name} started at {last_start - t0:.3f} s, after "
                 f"{first.name} had ended at {first_end - t0:.3f} s")
    lines.append(f"  at most {max_in_flight(records)} of them were running at once")
    lines.extend(f"  {cause}" for cause in _causes(records, model))
    return "\n".join(lines)


def _causes(records: list[NodeRecord], model: GraphModel) -> list[str]:
    """Why the graph says they did not overlap, most certain cause first."""
    chains = [f"{b.name} cannot start before {a.name} ends, on any executor: {chain}"
              for a in records for b in records if a is not b
              if (chain := _wait_chain(a, b, model))]
    if chains:
        return chains[:3] + ([f"... and {len(chains) - 3} more such pairs"]
                             if len(chains) > 3 else [])
    causes = []
    if all((r.duration or 0.0) < _TINY for r in records):
        causes.append("each took under 0.1 ms, too short to overlap (tcg runs nodes it "
                      "measured under 30 µs inline in the scheduler's thread; "
                      "inline_tiny=False turns that off)")
    workers = {r.worker for r in records}
    used = {r.worker for r in model.nodes if r.worker is not None}
    busy = max_in_flight(model.nodes)
    if len(workers) == 1:
        worker = next(iter(workers))
        if len(used) > 1:
            causes.append(f"they all ran on one worker ({worker}) while the run used "
                          f"{len(used)}: the others were busy (at most {busy} nodes of the "
                          "graph ran at once); give the executor more workers")
        elif worker is not None and worker.endswith(":MainThread"):
            causes.append(f"they all ran on one worker ({worker}), the calling thread: the "
                          "serial executor, or a resolve() inside a node's body (which runs "
                          "its graph inline)")
        else:
            causes.append(f"they all ran on one worker ({worker}) and the run used no "
                          "other: a pool of one worker (max_workers=1, --tcg-workers=1)?")
    elif busy <= 1:
        # A pool of one takes any idle thread of the shared pool for each body: the
        # threads differ, but never two bodies of the graph ran at once.
        causes.append(f"no two nodes of the graph ever ran at once (they took turns on "
                      f"{len(used)} threads): a pool of one worker (max_workers=1, "
                      "--tcg-workers=1)?")
    else:
        causes.append(f"nothing in the graph orders them and they ran on {len(workers)} "
                      "different workers, one after another: they waited on something "
                      "outside the graph (a lock, a semaphore, one shared connection), or "
                      f"the pool was full (at most {busy} nodes of the graph ran at once, "
                      f"on {len(used)} workers)")
    return causes


def _wait_chain(first: NodeRecord, then: NodeRecord, model: GraphModel) -> str:
    """How ``then`` must wait for ``first``'s body to end, through inputs and nesting
    ('' if it need not). Events: a body's start and end, and the node's completion
    (after its children's); a consumer starts after its inputs complete, a child after
    its parent's body returns (the body creates it), a parent completes after its
    children."""
    consumers: dict[int, list[NodeRecord]] = {}
    for rec in model.nodes:
        for src in rec.inputs:
            consumers.setdefault(src.id, []).append(rec)
    Event = tuple[str, int]
    by_id = {r.id: r for r in model.nodes}
    start: Event = ("end", first.id)
    came_from: dict[Event, tuple[Event, str] | None] = {start: None}
    todo = deque([start])
    while todo:
        kind, rid = event = todo.popleft()
        rec = by_id[rid]
        steps: list[tuple[Event, str]] = []
        if kind == "end":
            steps.append((("done", rid), ""))
            steps += [(("start", k.id), f"{k.name} is created by {rec.name}'s body")
                      for k in rec.children or () if k.id in by_id]
        elif kind == "done":
            steps += [(("start", c.id), f"{c.name} takes {rec.name}")
                      for c in consumers.get(rid, ())]
            if rec.parent is not None and rec.parent.id in by_id:
                steps.append((("done", rec.parent.id),
                              f"{rec.parent.name} completes after its child {rec.name}"))
        else:
            steps.append((("end", rid), ""))
        for nxt, why in steps:
            if nxt in came_from:
                continue
            came_from[nxt] = (event, why)
            if nxt == ("start", then.id):
                return _explain(came_from, nxt)
            todo.append(nxt)
    return ""


def _explain(came_from: dict[Any, Any], event: Any) -> str:
    reasons: list[str] = []
    while came_from[event] is not None:
        event, why = came_from[event]
        if why:
            reasons.append(why)
    return "; ".join(reversed(reasons))

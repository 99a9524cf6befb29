"""``assert_ran_in_parallel``: recorded executions that overlapped."""

from __future__ import annotations

from typing import Any

from tcg_core import GraphModel, NodeRecord, is_future

from ._graphs import GraphLike, as_model
from ._timing import max_in_flight

__all__ = ["assert_ran_in_parallel"]


def assert_ran_in_parallel(graph: GraphLike, *nodes: Any) -> None:
    """Assert the recorded executions of ``nodes`` overlapped: there was a moment when all
    of them were running at once.

    ``nodes`` are names (a name matching several nodes selects them all), futures or node
    records. This reads the start and end times the run recorded, so it does not depend on
    how fast the machine is.

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
    raise AssertionError(_overlap_report(records))


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


def _overlap_report(records: list[NodeRecord]) -> str:
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
    workers = {r.worker for r in records}
    if len(workers) == 1:
        lines.append(f"  they all ran on one worker ({workers.pop()}): was the executor "
                     "serial, or max_workers=1?")
    return "\n".join(lines)

"""The graph model's queries: a set of node records, its edges, nesting and timing.

This module knows nothing of execution or drawing. The scheduler fills records in
(``_record``); exporters and the pytest plugin read them through these queries.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from collections.abc import Iterable, Iterator

from ._record import NodeRecord, NodeState, as_state

__all__ = ["GraphModel", "NodeRecord", "NodeState", "as_state"]


def _defined_by_tcg(cls: type, name: str) -> bool:
    """``name`` is an attribute of one of tcg's own classes in ``cls``'s MRO."""
    return any(name in vars(base) for base in cls.__mro__
               if base.__module__.startswith("tcg_core"))


class GraphModel:
    """A read-only view over a set of node records and everything they reach.

    The set is closed over inputs, children and parents, so a view built from one
    future shows the whole pipeline around it.

    >>> from tcg_core import node
    >>> @node
    ... def inc(x):
    ...     return x + 1
    >>> f = inc(inc(1))
    >>> f.resolve()
    3
    >>> print(*(n.name for n in f.graph.nodes))
    inc inc
    """

    def __init__(self, records: Iterable[NodeRecord] = ()) -> None:
        self._seeds: list[NodeRecord] = list(records)

    def __setattr__(self, name: str, value: object) -> None:
        # A graph is a view: an attribute set on it would change nothing it shows, and one
        # named like a method (g.edges = ...) would hide that method. Refuse, never ignore.
        # A user's subclass may add attributes of its own, never shadow tcg's.
        if not name.startswith("_") and (_defined_by_tcg(type(self), name)
                                         or type(self).__module__.startswith("tcg_core")):
            raise AttributeError(
                f"a {type(self).__name__} is a read-only view of its nodes: cannot set "
                f"{name!r}; to change what a node does, replace its body with "
                "tcg_core.override() or the tcg_mock fixture")
        object.__setattr__(self, name, value)

    # -- the node set -------------------------------------------------------------------
    def _seed_records(self) -> list[NodeRecord]:
        return self._seeds

    @property
    def nodes(self) -> list[NodeRecord]:
        """Every node in the graph, in creation order."""
        seen: dict[int, NodeRecord] = {}
        stack = list(self._seed_records())
        while stack:
            record = stack.pop()
            if record.id in seen:
                continue
            seen[record.id] = record
            stack.extend(record.inputs)
            if record.children:
                stack.extend(record.children)
            if record.parent is not None:
                stack.append(record.parent)
        return [seen[k] for k in sorted(seen)]

    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[NodeRecord]:
        return iter(self.nodes)

    def nodes_named(self, name: str) -> list[NodeRecord]:
        """All nodes called ``name`` (a function called twice gives two nodes)."""
        return [r for r in self.nodes if r.name == name]

    def node(self, name: str) -> NodeRecord:
        """The one node called ``name``; ``LookupError`` if there is none or several."""
        found = self.nodes_named(name)
        if len(found) != 1:
            names = sorted({r.name for r in self.nodes})
            how = "no" if not found else f"{len(found)}"
            raise LookupError(f"{how} nodes named {name!r} in the graph (names: {names}); "
                              f"use nodes_named({name!r}) when a name repeats")
        return found[0]

    # -- structure ----------------------------------------------------------------------
    def edges(self) -> list[tuple[NodeRecord, NodeRecord, str]]:
        """Data edges ``(producer, consumer, argument name)``."""
        return [(src, rec, arg) for rec in self.nodes
                for src, arg in zip(rec.inputs, rec.input_names, strict=True)]

    def roots(self) -> list[NodeRecord]:
        """Nodes with no nesting parent."""
        return [r for r in self.nodes if r.parent is None]

    def children(self, record: NodeRecord) -> list[NodeRecord]:
        """Nodes created by ``record``'s body."""
        return list(record.children or ())

    def parent(self, record: NodeRecord) -> NodeRecord | None:
        """The node whose body created ``record``."""
        return record.parent

    def nesting_tree(self) -> dict[str, list[str]]:
        """``{parent name: [child names]}`` for every node that has children."""
        tree: dict[str, list[str]] = {}
        for rec in self.nodes:
            if rec.children:
                tree.setdefault(rec.name, []).extend(c.name for c in rec.children)
        return tree

    def failed(self) -> list[NodeRecord]:
        """Nodes whose body raised (or whose child failed)."""
        return [r for r in self.nodes if r.state == NodeState.FAILED]

    def skipped(self) -> list[NodeRecord]:
        """Nodes that never ran because something they needed failed."""
        return [r for r in self.nodes if r.state == NodeState.SKIPPED]

    # -- timing -------------------------------------------------------------------------
    def makespan(self) -> float:
        """Seconds from the first start to the last end (0.0 before anything ran)."""
        ran = [r for r in self.nodes if r.start is not None and r.end is not None]
        if not ran:
            return 0.0
        return max(r.end for r in ran) - min(r.start for r in ran)  # type: ignore[type-var,operator]

    def total_work(self) -> float:
        """Sum of every node's body duration."""
        return sum(r.duration or 0.0 for r in self.nodes)

    def critical_path(self, weight: str = "duration") -> list[NodeRecord]:
        """The heaviest chain of node bodies: the lower bound on the makespan with
        unlimited workers. A body starts after its inputs are complete and after its
        parent's body returned; a parent is complete when its children are.
        ``weight`` is ``"duration"`` (measured), ``"cost"`` (hints, else 1) or ``"unit"``.
        """
        records = self.nodes
        if not records:
            return []
        times, via = _event_times(records, weight)
        last = max(records, key=lambda r: times[(_DONE, r.id)])
        chain: list[NodeRecord] = []
        event: tuple[int, NodeRecord] | None = (_DONE, last)
        while event is not None:
            kind, rec = event
            if kind == _BODY:
                chain.append(rec)
            event = via[(kind, rec.id)]
        chain.reverse()
        return chain

    def critical_path_length(self, weight: str = "duration") -> float:
        """The summed weight of :meth:`critical_path`."""
        return sum(node_weight(r, weight) for r in self.critical_path(weight))


_BODY, _DONE = 0, 1


def _event_times(records: list[NodeRecord], weight: str
                 ) -> tuple[dict[tuple[int, int], float],
                            dict[tuple[int, int], tuple[int, NodeRecord] | None]]:
    """Earliest end of every body and completion of every node, with unlimited workers,
    and for each the event it waited on last (iterative: graphs may be very deep)."""
    members = {r.id for r in records}
    times: dict[tuple[int, int], float] = {}
    via: dict[tuple[int, int], tuple[int, NodeRecord] | None] = {}

    def waits(kind: int, rec: NodeRecord) -> list[tuple[int, NodeRecord]]:
        if kind == _BODY:
            deps = [(_DONE, r) for r in rec.inputs if r.id in members]
            if rec.parent is not None and rec.parent.id in members:
                deps.append((_BODY, rec.parent))
            return deps
        return [(_BODY, rec)] + [(_DONE, c) for c in rec.children or () if c.id in members]

    for root in records:
        stack = [(_DONE, root)]
        while stack:
            kind, rec = stack[-1]
            key = (kind, rec.id)
            if key in times:
                stack.pop()
                continue
            deps = waits(kind, rec)
            missing = [d for d in deps if (d[0], d[1].id) not in times]
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            last = max(deps, key=lambda d: times[(d[0], d[1].id)], default=None)
            ready = times[(last[0], last[1].id)] if last is not None else 0.0
            times[key] = ready + (node_weight(rec, weight) if kind == _BODY else 0.0)
            via[key] = last
    return times, via


def node_weight(record: NodeRecord, weight: str) -> float:
    """A node's weight for path and schedule computations (see ``critical_path``)."""
    if weight == "duration":
        return record.duration or 0.0
    if weight == "cost":
        return float(record.cost) if record.cost is not None else 1.0
    if weight == "unit":
        return 1.0
    raise ValueError(f"weight must be 'duration', 'cost' or 'unit', not {weight!r}")

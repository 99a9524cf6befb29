"""The graph model: one record per node call, data edges, the nesting tree, and queries.

This module knows nothing of execution or drawing. The scheduler fills records in;
exporters and the pytest plugin read them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from ._errors import PATH_SEPARATOR

__all__ = ["GraphModel", "NodeRecord", "NodeState"]

_ids = itertools.count(1)


class NodeState:
    """The states a node goes through (plain strings, so they print and compare simply)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    FINISHED = (DONE, FAILED, SKIPPED)


_PENDING = NodeState.PENDING


class _Nesting:
    """Where a record sits in the nesting tree; most nodes never have one."""

    __slots__ = ("children", "parent", "result", "returned")

    def __init__(self) -> None:
        self.parent: NodeRecord | None = None
        self.children: list[NodeRecord] | None = None
        self.returned = True
        self.result: Any = None  # what a parent's body returned, while it waits on it


class NodeRecord:
    """What the graph knows of one call of a node.

    Public attributes: ``id`` (unique, stable for the process), ``name``, ``parent``
    (the node whose body created this one, or ``None``), ``children``, ``state``,
    ``inputs`` (records this node consumes), ``input_names`` (the argument each came
    through), ``start``/``end`` (``time.perf_counter()`` of the body), ``worker``,
    ``error``, ``returned`` (``False`` for a child its parent created but did not
    return), ``attempts`` and ``value``. Values live on the node's ``Future``, so they
    are released as soon as nothing needs them; ``value`` reaches them while it lives.
    """

    # A record is made per call and a graph may hold millions: only what every node
    # needs has a slot of its own. The body's times and worker share one tuple, and
    # nesting (rare) lives in a side object, so a pending node stays small for both
    # memory and the garbage collector, which rescans every live record.
    __slots__ = (
        "_args",
        "_consumers",
        "_handle",
        "_inputs",
        "_kwargs",
        "_nest",
        "_npending",
        "_ran",
        "_run",
        "attempts",
        "error",
        "id",
        "input_names",
        "spec",
        "state",
    )

    def __init__(self, spec: Any, args: Any, kwargs: dict[str, Any] | None,
                 inputs: tuple[NodeRecord, ...] | None, input_names: tuple[str, ...]) -> None:
        self.id = next(_ids)
        self.spec = spec
        self.state = _PENDING
        self._inputs = inputs  # None: the records of the futures in args, made on demand
        self.input_names = input_names
        self.error: BaseException | None = None
        self.attempts = 0
        self._args = args  # a tuple; or a lone future argument as itself; None once run
        self._kwargs = kwargs
        self._run: Any = None
        self._ran: tuple[float | None, float | None, str | None] | None = None
        self._nest: _Nesting | None = None
        self._handle: Any = None

    # Set when a run claims the node, and only read by that run. (No __getattr__ to
    # default them: a class with one loses CPython's fast attribute access.)
    _npending: int
    _consumers: list[NodeRecord] | None

    def __getstate__(self) -> dict[str, Any]:
        # Records cross process boundaries as children a worker's body created: what
        # defines the call, and what already happened to it (a body may have resolved
        # its children itself), never this process's run bookkeeping or the parent.
        return {"spec": self.spec, "inputs": self.inputs,
                "input_names": self.input_names, "_args": self._args, "_kwargs": self._kwargs,
                "state": self.state, "_ran": self._ran, "error": self.error,
                "attempts": self.attempts, "children": self.children,
                "returned": self.returned}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["spec"], state["_args"], state["_kwargs"],  # type: ignore[misc]
                      state["inputs"], state["input_names"])
        for key in ("state", "_ran", "error", "attempts"):
            setattr(self, key, state[key])
        if state["children"] is not None:
            self.children = state["children"]
            for child in state["children"]:
                child.parent = self
        if not state["returned"]:
            self.returned = False

    # -- fields kept off the common path -------------------------------------------------
    @property
    def inputs(self) -> tuple[NodeRecord, ...]:
        """The records this node consumes, one per future in its arguments."""
        inputs = self._inputs
        if inputs is None:
            # A call of plain futures keeps only its arguments until a run or a reader
            # needs the records: objects made while a graph is built are the ones every
            # full collection rescans.
            args = self._args
            if args is None:
                inputs = ()
            elif args.__class__ is tuple:
                inputs = tuple([f._record for f in args])
            else:  # a lone future argument
                inputs = (args._record,)
            self._inputs = inputs
        return inputs

    @inputs.setter
    def inputs(self, value: tuple[NodeRecord, ...]) -> None:
        self._inputs = value

    @property
    def name(self) -> str:
        """The node's name (its function's, unless ``@node(name=...)`` said otherwise)."""
        return self.spec.name  # type: ignore[no-any-return]

    @property
    def start(self) -> float | None:
        """``time.perf_counter()`` when the body started, or ``None``."""
        ran = self._ran
        return ran[0] if ran is not None else None

    @start.setter
    def start(self, value: float | None) -> None:
        self._ran = (value, self.end, self.worker)

    @property
    def end(self) -> float | None:
        """``time.perf_counter()`` when the body ended, or ``None``."""
        ran = self._ran
        return ran[1] if ran is not None else None

    @end.setter
    def end(self, value: float | None) -> None:
        self._ran = (self.start, value, self.worker)

    @property
    def worker(self) -> str | None:
        """Which thread or process ran the body (``"pid:thread"``), or ``None``."""
        ran = self._ran
        return ran[2] if ran is not None else None

    @worker.setter
    def worker(self, value: str | None) -> None:
        self._ran = (self.start, self.end, value)

    def _nesting(self) -> _Nesting:
        nest = self._nest
        if nest is None:
            nest = self._nest = _Nesting()
        return nest

    @property
    def parent(self) -> NodeRecord | None:
        """The node whose body created this one, or ``None`` at the top level."""
        nest = self._nest
        return nest.parent if nest is not None else None

    @parent.setter
    def parent(self, value: NodeRecord | None) -> None:
        self._nesting().parent = value

    @property
    def children(self) -> list[NodeRecord] | None:
        """The nodes this node's body created, or ``None``."""
        nest = self._nest
        return nest.children if nest is not None else None

    @children.setter
    def children(self, value: list[NodeRecord] | None) -> None:
        self._nesting().children = value

    @property
    def returned(self) -> bool:
        """``False`` for a child its parent's body created but did not return."""
        nest = self._nest
        return nest.returned if nest is not None else True

    @returned.setter
    def returned(self, value: bool) -> None:
        self._nesting().returned = value

    @property
    def _result(self) -> Any:
        nest = self._nest
        return nest.result if nest is not None else None

    @_result.setter
    def _result(self, value: Any) -> None:
        if value is not None or self._nest is not None:
            self._nesting().result = value

    @property
    def value(self) -> Any:
        """The node's value, while its future is still referenced somewhere.

        Values are released once nothing needs them; asking then raises ``LookupError``.
        """
        if self.state != NodeState.DONE:
            raise LookupError(f"node {self.name!r} ({self.path}) is {self.state}, it has no value")
        handle = self._handle() if self._handle is not None else None
        if handle is None:
            raise LookupError(f"the value of {self.name!r} ({self.path}) was released: nothing "
                              "referenced its future any more; keep the future (or record it "
                              "in a Graph) to keep its value")
        return handle._get()

    @property
    def duration(self) -> float | None:
        """Seconds the body ran, or ``None`` if it has not finished."""
        if self.start is None or self.end is None:
            return None
        return self.end - self.start

    @property
    def path(self) -> str:
        """The nesting path, outermost first: ``'pipeline › add › _add'``."""
        return PATH_SEPARATOR.join(r.name for r in self.lineage())

    @property
    def depth(self) -> int:
        """How many parents this node has (0 for a top-level node)."""
        return len(self.lineage()) - 1

    def lineage(self) -> list[NodeRecord]:
        """This node and its parents, outermost first."""
        chain: list[NodeRecord] = []
        record: NodeRecord | None = self
        while record is not None:
            chain.append(record)
            record = record.parent
        chain.reverse()
        return chain

    @property
    def cost(self) -> float | None:
        """The ``cost=`` hint given to the node's decorator, if any."""
        return getattr(self.spec, "cost", None)

    def __repr__(self) -> str:
        return f"<node {self.name}#{self.id} {self.state}>"


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
    >>> [n.name for n in f.graph.nodes]
    ['inc', 'inc']
    """

    def __init__(self, records: Iterable[NodeRecord] = ()) -> None:
        self._seeds: list[NodeRecord] = list(records)

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


def describe_chain(records: list[NodeRecord], limit: int = 8) -> str:
    """A nesting chain for an error message, shortened in the middle when long."""
    names = [r.name for r in records]
    if len(names) > limit:
        names = [*names[:limit // 2], f"... {len(names) - limit} more ...",
                 *names[-limit // 2:]]
    return PATH_SEPARATOR.join(names)

"""Assertions on a graph's shape, nesting and recorded execution.

Each raises ``AssertionError`` with a message that shows what differs and what the graph
actually is, and hides its own frames from pytest's traceback.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tcg_core import GraphModel, NodeRecord, is_future

from ._graphs import GraphLike, as_model, data_digraph
from ._timing import SpeedupReport, max_in_flight, measure_speedup, notify, simulated_speedup

__all__ = ["assert_graph_shape", "assert_nested", "assert_ran_in_parallel",
           "assert_parallel_speedup", "assert_simulated_speedup", "SpeedupAssertionError"]

_INSTANCE = re.compile(r"^(.*)#(\d+)$")
_MAX_LINES = 40


class SpeedupAssertionError(AssertionError):
    """A speedup check failed; ``report`` holds the measurements."""

    def __init__(self, report: SpeedupReport) -> None:
        super().__init__(str(report))
        self.report = report


# -- assert_graph_shape ---------------------------------------------------------------------

def assert_graph_shape(graph: GraphLike, expected: Any) -> None:
    """Assert the graph's data edges form exactly ``expected``, with node names as labels.

    ``expected`` is a mapping ``{consumer: {inputs...}}``, a list of ``(producer,
    consumer)`` edges (a bare name in the list is a node without edges), or a
    ``networkx`` graph (label: the node's ``name`` attribute, else its key). Every node
    of the graph must appear, nested ones included. A name stands for one node; when a
    name repeats in the graph, tell the instances apart as ``"inc#1"``, ``"inc#2"``
    (any suffix works: only the wiring is compared, as a labelled isomorphism).

    >>> from tcg_core import node
    >>> @node
    ... def load():
    ...     return 2
    >>> @node
    ... def square(x):
    ...     return x * x
    >>> @node
    ... def add(a, b):
    ...     return a + b
    >>> x = load()
    >>> total = add(square(x), x)
    >>> assert_graph_shape(total, {"add": {"square", "load"}, "square": {"load"}})
    >>> assert_graph_shape(total, [("load", "square"), ("square", "add"), ("load", "add")])
    >>> assert_graph_shape(total, {"add": {"load"}})
    Traceback (most recent call last):
    ...
    AssertionError: graph shape differs from the expected one:
      unexpected nodes: square
      unexpected edges: load -> square, square -> add
    ...
    """
    __tracebackhide__ = True
    model = as_model(graph)
    actual = data_digraph(model)
    wanted = _expected_digraph(expected)
    problem = _shape_difference(model, actual, wanted)
    if problem:
        raise AssertionError(problem)


def _name_of(key: Any, data: Mapping[str, Any] | None = None) -> str:
    if data and data.get("name") is not None:
        return str(data["name"])
    if isinstance(key, str):
        match = _INSTANCE.match(key)
        return match.group(1) if match else key
    return str(key)


def _expected_digraph(expected: Any) -> Any:
    import networkx as nx

    out = nx.DiGraph()
    if hasattr(expected, "is_directed") and hasattr(expected, "nodes"):
        if not expected.is_directed():
            raise TypeError("assert_graph_shape() needs a directed networkx graph "
                            "(producer -> consumer), not an undirected one")
        for key, data in expected.nodes(data=True):
            out.add_node(key, name=_name_of(key, data))
        out.add_edges_from((u, v) for u, v in expected.edges())
        return out

    def add(key: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"node names in the expected shape must be strings, not {key!r}")
        if key not in out:
            out.add_node(key, name=_name_of(key))

    if isinstance(expected, Mapping):
        for consumer, producers in expected.items():
            add(consumer)
            for producer in [producers] if isinstance(producers, str) else producers:
                add(producer)
                out.add_edge(producer, consumer)
        return out
    if isinstance(expected, Iterable) and not isinstance(expected, (str, bytes)):
        for item in expected:
            if isinstance(item, str):
                add(item)
            elif isinstance(item, tuple) and len(item) == 2:
                add(item[0])
                add(item[1])
                out.add_edge(item[0], item[1])
            else:
                raise TypeError(f"an edge list holds (producer, consumer) pairs and bare "
                                f"node names, not {item!r}")
        return out
    raise TypeError("expected shape must be a mapping {consumer: inputs}, a list of "
                    f"(producer, consumer) edges, or a networkx DiGraph, not "
                    f"{type(expected).__name__}")


def _edge_names(graph: Any) -> Counter[tuple[str, str]]:
    names = graph.nodes
    return Counter((names[u]["name"], names[v]["name"]) for u, v in graph.edges)


def _shape_difference(model: GraphModel, actual: Any, wanted: Any) -> str | None:
    actual_names = Counter(name for _, name in actual.nodes(data="name"))
    wanted_names = Counter(name for _, name in wanted.nodes(data="name"))
    actual_edges, wanted_edges = _edge_names(actual), _edge_names(wanted)
    rows = [("missing nodes", _counted(wanted_names - actual_names)),
            ("unexpected nodes", _counted(actual_names - wanted_names)),
            ("missing edges", _counted(wanted_edges - actual_edges)),
            ("unexpected edges", _counted(actual_edges - wanted_edges))]
    rows = [(title, text) for title, text in rows if text]
    if not rows:
        import networkx as nx
        from networkx.algorithms.isomorphism import DiGraphMatcher

        if nx.faster_could_be_isomorphic(actual, wanted) and DiGraphMatcher(
                actual, wanted, node_match=_same_name).is_isomorphic():
            return None
        head = ("graph shape differs from the expected one: the same nodes and edges by "
                "name, but wired differently")
    else:
        width = max(len(title) for title, _ in rows) + 1
        head = "graph shape differs from the expected one:\n" + "\n".join(
            f"  {title + ':':<{width}} {text}" for title, text in rows)
    return head + "\n" + _describe_edges(model)


def _same_name(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(a["name"] == b["name"])


def _counted(counter: Counter[Any]) -> str:
    def show(item: Any) -> str:
        return f"{item[0]} -> {item[1]}" if isinstance(item, tuple) else str(item)

    return ", ".join(show(k) + (f" (x{n})" if n > 1 else "")
                     for k, n in sorted(counter.items(), key=lambda kv: str(kv[0])))


def _describe_edges(model: GraphModel) -> str:
    records = model.nodes
    pairs = Counter(f"{src.name} -> {dst.name}" for src, dst, _ in model.edges())
    lines = _clip([f"  {pair}" + (f" (x{n})" if n > 1 else "")
                   for pair, n in sorted(pairs.items())])
    wired = {r.id for src, dst, _ in model.edges() for r in (src, dst)}
    lonely = sorted(r.name for r in records if r.id not in wired)
    text = "the graph's data edges (producer -> consumer):\n" + (
        "\n".join(lines) if lines else "  (none)")
    if lonely:
        text += "\nnodes without data edges: " + ", ".join(lonely)
    return text


def _clip(lines: list[str]) -> list[str]:
    if len(lines) <= _MAX_LINES:
        return lines
    return [*lines[:_MAX_LINES], f"  ... {len(lines) - _MAX_LINES} more"]


# -- assert_nested --------------------------------------------------------------------------

def assert_nested(graph: GraphLike, expected: Mapping[str, Iterable[str]], *,
                  exact: bool = True) -> None:
    """Assert the nesting tree: ``{parent: [children]}`` by name, as the graph's
    ``nesting_tree()`` reports it (the children of every node with that name).

    Children are compared as multisets, in any order. With ``exact=True`` (the default)
    every node with children must be listed with all of them; with ``exact=False`` the
    listed parents must have at least the listed children. Nested nodes appear only
    after the graph ran: their parents' bodies create them.

    >>> from tcg_core import node
    >>> @node
    ... def inc(x):
    ...     return x + 1
    >>> @node
    ... def twice(x):
    ...     return inc(inc(x))
    >>> f = twice(1)
    >>> f.resolve(executor="serial")
    3
    >>> assert_nested(f, {"twice": ["inc", "inc"]})
    >>> assert_nested(f, {"twice": ["inc"]}, exact=False)
    >>> assert_nested(f, {"twice": ["inc", "double"]})
    Traceback (most recent call last):
    ...
    AssertionError: nesting differs from the expected tree:
      twice: missing children: double; unexpected children: inc
    actual nesting tree:
      twice
      ├── inc
      └── inc
    """
    __tracebackhide__ = True
    model = as_model(graph)
    actual = model.nesting_tree()
    names = {r.name for r in model.nodes}
    problems: list[str] = []
    for parent, children in expected.items():
        want = Counter([children] if isinstance(children, str) else children)
        have = Counter(actual.get(parent, []))
        if parent not in names:
            problems.append(f"{parent}: no node has this name")
            continue
        parts = []
        if want - have:
            parts.append(f"missing children: {_counted(want - have)}")
        if exact and have - want:
            parts.append(f"unexpected children: {_counted(have - want)}")
        if parts:
            problems.append(f"{parent}: " + "; ".join(parts))
    if exact:
        for parent in sorted(set(actual) - set(expected)):
            problems.append(f"{parent}: not expected to have children, but has "
                            f"{_counted(Counter(actual[parent]))}")
    if problems:
        raise AssertionError("nesting differs from the expected tree:\n"
                             + "\n".join(f"  {p}" for p in problems)
                             + "\nactual nesting tree:\n" + render_tree(model))


def render_tree(model: GraphModel) -> str:
    """The nesting forest as an indented tree; top-level nodes without children are listed
    on one line."""
    records = model.nodes
    lines: list[str] = []

    def walk(rec: NodeRecord, prefix: str, last: bool, top: bool) -> None:
        lines.append("  " + (rec.name if top else prefix + ("└── " if last else "├── ")
                             + rec.name))
        kids = list(rec.children or ())
        below = "" if top else prefix + ("    " if last else "│   ")
        for i, kid in enumerate(kids):
            walk(kid, below, i == len(kids) - 1, False)

    roots = [r for r in records if r.parent is None]
    for rec in roots:
        if rec.children:
            walk(rec, "", True, True)
    lines = _clip(lines)
    alone = [r.name for r in roots if not r.children]
    if not lines:
        lines.append("  (no node has children)")
    if alone:
        lines.append("  top-level nodes without children: " + ", ".join(alone))
    return "\n".join(lines)


# -- assert_ran_in_parallel ---------------------------------------------------------------

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


# -- speedup ------------------------------------------------------------------------------

def assert_parallel_speedup(target: Callable[[], Any], min_speedup: float = 1.5, *,
                            executor: Any = "threads", workers: int | None = None,
                            repeats: int = 3, attempts: int = 3,
                            warmup: bool = True) -> SpeedupReport:
    """Assert that running the pipeline in parallel beats running it serially by at least
    ``min_speedup``; returns the :class:`SpeedupReport`.

    ``target`` is a zero-argument callable that builds the pipeline afresh and returns
    its future(s) (a future, a list of them, or a recording ``Graph``). It is built and
    run ``repeats`` times serially and ``repeats`` times with ``executor``, interleaved
    (S P, P S, ...) in this process after one warm-up run, and the medians are compared.
    The check passes when the median serial time over the median parallel time reaches
    ``min_speedup``, the fastest serial run over the median parallel one does too (so
    serial runs slowed by load cannot pass a serialised pipeline), and the recorded runs
    show nodes really running at once. It fails
    at once (no retry) when the parallel runs never had two nodes in flight, or when the
    DAG itself cannot reach ``min_speedup`` with this many workers (simulated from the
    measured durations). Otherwise a failed attempt adds ``repeats`` more interleaved
    pairs and decides again on the medians of all runs so far, up to ``attempts`` times,
    so a burst of load on a shared machine cannot decide alone. Meant for nodes that wait
    (sleep, I/O, C code releasing the GIL); for a verdict without any clock use
    :func:`assert_simulated_speedup`.

    >>> import time
    >>> from tcg_core import node
    >>> @node
    ... def fetch(i):
    ...     time.sleep(0.01)
    ...     return i
    >>> @node
    ... def total(*xs):
    ...     return sum(xs)
    >>> report = assert_parallel_speedup(lambda: total(*[fetch(i) for i in range(4)]),
    ...                                  min_speedup=1.5)
    >>> report.passed, report.ideal_speedup > 2
    (True, True)
    """
    __tracebackhide__ = True
    report = measure_speedup(target, min_speedup=min_speedup, executor=executor,
                             workers=workers, repeats=repeats, attempts=attempts,
                             warmup=warmup)
    notify(report)
    if not report.passed:
        raise SpeedupAssertionError(report)
    return report


def assert_simulated_speedup(target: Any, min_speedup: float, *, workers: int,
                             weight: str = "cost", run: bool | None = None,
                             policy: str = "critical-path") -> SpeedupReport:
    """Assert the speedup the DAG allows on ``workers`` workers, without a clock.

    The graph is replayed by ``tcg_core.simulate`` with each node weighing its ``cost=``
    hint (``weight="cost"``; 1 without a hint), its measured duration
    (``weight="duration"``), or 1 (``"unit"``). Speedup is total work over the simulated
    makespan, so the verdict is the same on any machine. ``target`` is a graph, a future
    or list of futures, or a zero-argument callable that builds them. ``run`` resolves it
    serially first; that is the default for ``weight="duration"``, and needed for nested
    pipelines, whose inner nodes exist only once their parents ran.

    >>> from tcg_core import node
    >>> @node(cost=2)
    ... def step(*xs):
    ...     return 0
    >>> def build():
    ...     a = step()
    ...     return step(step(a), step(a), step(a))
    >>> assert_simulated_speedup(build, 1.6, workers=3).speedup
    1.6666666666666667
    """
    __tracebackhide__ = True
    report = simulated_speedup(target, min_speedup=min_speedup, workers=workers,
                               weight=weight, run=run, policy=policy)
    notify(report)
    if not report.passed:
        raise SpeedupAssertionError(report)
    return report

"""``assert_graph_shape``: the data edges by name, as a labelled isomorphism."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from tcg_core import GraphModel

from .._graphs import GraphLike, as_model, clip, counted, data_digraph

__all__ = ["assert_graph_shape"]

_INSTANCE = re.compile(r"^(.*)#(\d+)$")


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
    rows = [("missing nodes", counted(wanted_names - actual_names)),
            ("unexpected nodes", counted(actual_names - wanted_names)),
            ("missing edges", counted(wanted_edges - actual_edges)),
            ("unexpected edges", counted(actual_edges - wanted_edges))]
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


def _describe_edges(model: GraphModel) -> str:
    records = model.nodes
    pairs = Counter(f"{src.name} -> {dst.name}" for src, dst, _ in model.edges())
    lines = clip([f"  {pair}" + (f" (x{n})" if n > 1 else "")
                   for pair, n in sorted(pairs.items())])
    wired = {r.id for src, dst, _ in model.edges() for r in (src, dst)}
    lonely = sorted(r.name for r in records if r.id not in wired)
    text = "the graph's data edges (producer -> consumer):\n" + (
        "\n".join(lines) if lines else "  (none)")
    if lonely:
        text += "\nnodes without data edges: " + ", ".join(lonely)
    return text

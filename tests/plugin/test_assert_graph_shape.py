"""``assert_graph_shape``: the data edges as a mapping, an edge list or a networkx graph."""

from __future__ import annotations

from typing import Any

import networkx as nx
import pytest

from pytest_tcg import assert_graph_shape
from tcg_core import Future, Graph, node

from .conftest import RunPytest


@node
def load() -> int:
    return 1


@node
def inc(x: int) -> int:
    return x + 1


@node
def add(a: int, b: int) -> int:
    return a + b


@node
def outer(x: int) -> Any:
    return add(inc(x), 1)


def diamond() -> Graph:
    with Graph() as g:
        a = load()
        add(inc(a), inc(a))
    return g


def test_mapping_edge_list_and_networkx_forms() -> None:
    g = diamond()
    assert_graph_shape(g, {"add": {"inc#1", "inc#2"}, "inc#1": {"load"}, "inc#2": "load"})
    assert_graph_shape(g, [("load", "inc#1"), ("load", "inc#2"), ("inc#1", "add"),
                           ("inc#2", "add")])
    expected = nx.DiGraph([(0, 1), (0, 2), (1, 3), (2, 3)])
    nx.set_node_attributes(expected, {0: "load", 1: "inc", 2: "inc", 3: "add"}, "name")
    assert_graph_shape(g, expected)


def test_futures_and_lists_of_futures_are_accepted() -> None:
    f = add(inc(1), 2)
    assert_graph_shape(f, {"add": {"inc"}})
    assert_graph_shape([f, load()], ["load", ("inc", "add")])


def test_repeated_names_count() -> None:
    g = diamond()
    with pytest.raises(AssertionError) as info:
        assert_graph_shape(g, {"add": {"inc"}, "inc": {"load"}})
    assert str(info.value).splitlines()[:3] == [
        "graph shape differs from the expected one:",
        "  unexpected nodes: inc",
        "  unexpected edges: inc -> add, load -> inc",
    ]


def test_same_names_wired_differently_fail() -> None:
    with Graph() as chain:  # load -> inc -> inc -> add, and load -> add
        a = load()
        add(inc(inc(a)), a)
    with Graph() as fan:    # load -> inc -> add, inc -> inc(->nothing)... same counts by name
        b = load()
        first = inc(b)
        add(first, b)
        inc(first)
    expected = {"add": {"inc#2", "load"}, "inc#2": {"inc#1"}, "inc#1": {"load"}}
    assert_graph_shape(chain, expected)
    with pytest.raises(AssertionError, match="same nodes and edges by name, but wired "
                                             "differently"):
        assert_graph_shape(fan, expected)


def test_nested_nodes_are_part_of_the_shape() -> None:
    f: Future[int] = outer(1)
    assert_graph_shape(f, ["outer"])
    f.resolve(executor="serial")
    assert_graph_shape(f, {"add": {"inc"}, "outer": set()})
    with pytest.raises(AssertionError, match="nodes without data edges: outer"):
        assert_graph_shape(f, {"add": {"inc"}})


def test_full_failure_message() -> None:
    g = diamond()
    with pytest.raises(AssertionError) as info:
        assert_graph_shape(g, {"add": {"inc", "scale"}, "inc": {"load"}})
    assert str(info.value) == "\n".join([
        "graph shape differs from the expected one:",
        "  missing nodes:    scale",
        "  unexpected nodes: inc",
        "  missing edges:    scale -> add",
        "  unexpected edges: inc -> add, load -> inc",
        "the graph's data edges (producer -> consumer):",
        "  inc -> add (x2)",
        "  load -> inc (x2)",
    ])


@pytest.mark.parametrize(("expected", "message"), [
    (nx.Graph([("a", "b")]), "needs a directed networkx graph"),
    ({"add": [1]}, "node names in the expected shape must be strings"),
    ([("a", "b", "c")], r"an edge list holds \(producer, consumer\) pairs"),
    (42, "expected shape must be a mapping"),
])
def test_bad_expected_values(expected: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        assert_graph_shape(diamond(), expected)


def test_user_sees_the_message_not_the_helper(project: pytest.Pytester, run: RunPytest) -> None:
    project.makepyfile(test_shape="""
        from pytest_tcg import assert_graph_shape
        from tcgpipes import add, inc

        def test_shape():
            total = add(inc(1), 2)
            assert_graph_shape(total, {"add": {"inc", "load"}})
    """)
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        ">       assert_graph_shape(total, {\"add\": {\"inc\", \"load\"}})",
        "E       AssertionError: graph shape differs from the expected one:",
        "E         missing nodes: load",
        "E         missing edges: load -> add",
        "E       the graph's data edges (producer -> consumer):",
        "E         inc -> add",
    ])
    assert "pytest_tcg/_" not in result.stdout.str()  # the helpers hide their frames

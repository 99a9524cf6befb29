"""``@node(pure=True)``: identical calls within one graph share one node."""

from __future__ import annotations

from typing import Any

import pytest

from tcg_core import Graph, node

RAN: list[Any] = []


@node(pure=True)
def load(name: Any) -> str:
    RAN.append(name)
    return str(name).upper()


@node(pure=True, nout=2)
def halves(x: int) -> tuple[int, int]:
    return x // 2, x - x // 2


@node
def join(*parts: Any) -> str:
    return "".join(parts)


@pytest.fixture(autouse=True)
def _clear() -> None:
    RAN.clear()


@pytest.mark.parametrize("executor", ["serial", "threads"])
def test_equal_calls_share_one_node_and_run_once(executor: str) -> None:
    total = join(load("a"), load("a"), load("b"))
    assert total.resolve(executor) == "AAB"
    assert sorted(RAN) == ["a", "b"]
    assert len(total.graph.nodes_named("load")) == 2


def test_arguments_are_compared_by_type_and_value() -> None:
    assert load(1) is load(1)
    assert load(1) is not load(True)
    assert load(1) is not load(1.0)
    assert load(name=2) is load(name=2)


def test_unhashable_arguments_make_a_node_each() -> None:
    assert load([1]) is not load([1])


def test_calls_inside_one_body_share_one_child() -> None:
    @node
    def outer() -> Any:
        return join(load("x"), load("x"))

    future = outer()
    assert future.resolve("threads") == "XX"
    assert len(future.node.children or []) == 2  # one load, one join
    assert RAN == ["x"]


def test_a_recording_graph_shares_within_itself() -> None:
    with Graph() as g:
        a = load("g")
        b = load("g")
    assert a is b
    g.resolve(executor="serial")
    assert RAN == ["g"]


def test_pure_nodes_with_several_outputs_share_the_call() -> None:
    first, _ = halves(7)
    again, _ = halves(7)
    assert first.node is again.node
    assert (first.resolve("serial"), again.resolve("serial")) == (3, 3)


def test_a_forgotten_call_is_not_kept_alive() -> None:
    import gc

    node_id = load("gone").node.id
    gc.collect()
    assert load("gone").node.id != node_id

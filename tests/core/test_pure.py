"""``@node(pure=True)``: identical calls within one graph share one node."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tcg_core import Graph, node, resolve

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


# -- by type and value all the way down (issue 20: calls a body can tell apart) -----------

DISTINCT_PAIRS = [
    ((1,), (True,)), ((1,), (1.0,)), (0.0, -0.0), ((0.0,), (-0.0,)),
    (Decimal("1.0"), Decimal("1.00")), (frozenset({1}), frozenset({1.0})),
    (frozenset({1}), frozenset({True})), (complex(0.0, 0.0), complex(-0.0, 0.0)),
    (((1, 2),), ((1, 2.0),)), ("1", b"1"),
]


@pytest.mark.parametrize(("a", "b"), DISTINCT_PAIRS, ids=[repr(p) for p in DISTINCT_PAIRS])
def test_calls_a_body_can_tell_apart_are_not_merged(a: Any, b: Any) -> None:
    assert a == b or type(a) is not type(b)  # what plain == would have merged
    first, second = load(a), load(b)
    assert first is not second
    assert resolve(first, second) == (str(a).upper(), str(b).upper())


def test_equal_nested_values_still_share_one_node() -> None:
    assert load((1, ("a", 2.5), frozenset({3}))) is load((1, ("a", 2.5), frozenset({3})))
    assert load(Decimal("1.0")) is load(Decimal("1.0"))


class _Touchy:
    """Hashes alike, and refuses to be compared: a dict lookup that collides raises."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __hash__(self) -> int:
        return 42

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparing")

    def __str__(self) -> str:
        return self.tag


def test_an_argument_whose_comparison_raises_gets_a_node_of_its_own() -> None:
    first, second = load(_Touchy("x")), load(_Touchy("y"))  # used to raise in the call
    assert first is not second
    assert resolve(first, second) == ("X", "Y")

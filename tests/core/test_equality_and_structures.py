"""``==``/``!=`` on a future is a mistake said plainly (identity hashing stays), and
``tcg_core.resolve`` takes structures of futures as ``dask.compute`` does."""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pytest

import tcg_core
from tcg_core import Graph, node
from tests.core import _values_for_processes as V


@pytest.mark.parametrize("compare, symbol", [(operator.eq, "=="), (operator.ne, "!=")])
@pytest.mark.parametrize("other", [1, None, "x", "future"])
def test_comparing_a_future_raises_the_teaching_error(compare: Callable[[Any, Any], Any],
                                                      symbol: str, other: Any) -> None:
    future = V.value(1)
    if other == "future":
        other = V.value(1)
    with pytest.raises(TypeError, match=f"'value'.*'{symbol}' before it is resolved.*"
                                        "resolve it first"):
        compare(future, other)
    with pytest.raises(TypeError, match=f"'{symbol}'"):
        compare(other, future)


def test_futures_refuse_equality_yet_hash_by_identity_and_work_as_keys() -> None:
    a, b = V.value(1), V.value(1)
    with pytest.raises(TypeError):
        a == b  # noqa: B015 - the comparison itself is what is tested
    assert hash(a) == object.__hash__(a)
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b" and len({a, b, a}) == 2
    assert a is not b
    # the engine itself never compares futures with ==: repeats and shared inputs
    with Graph() as g:
        shared = V.value(2)
        first = V.identity(shared)
        second = V.identity(shared)
    assert g.resolve(executor="serial") == [2, 2, 2]
    assert tcg_core.resolve(first, second, first, executor="threads") == (2, 2, 2)
    assert len(g.nodes) == 3


@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_resolve_of_structures_gives_each_argument_back_in_its_shape(executor: str) -> None:
    f1, f2 = V.value(1), V.value(2)
    assert tcg_core.resolve({"a": f1, "b": [f2, 3]}, executor=executor) == (
        {"a": 1, "b": [2, 3]},)
    got = tcg_core.resolve(f1, [f1, (f2,)], V.Pair(f2, "x"), OrderedDict(k=f1), 7,
                           executor=executor)
    assert got == (1, [1, (2,)], V.Pair(2, "x"), OrderedDict(k=1), 7)
    assert type(got[2]) is V.Pair and type(got[3]) is OrderedDict


def test_resolve_of_structures_is_one_run() -> None:
    runs: list[int] = []

    @node
    def counted(x: int) -> int:
        runs.append(x)
        return x

    shared = counted(1)
    first, second = V.identity(shared), V.identity(shared)
    assert tcg_core.resolve([first, second], {"s": shared}, executor="threads") == (
        [1, 1], {"s": 1})
    assert runs == [1]


def test_resolve_still_refuses_a_function_that_was_not_called() -> None:
    with pytest.raises(TypeError, match=r"Call it first: value\(\.\.\.\)"):
        tcg_core.resolve([V.value(1)], V.value)

"""``assert_order_independent`` and the ``schedules()`` strategy, called directly."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import find, given, settings

from pytest_tcg import OrderAssertionError, assert_order_independent
from pytest_tcg.strategies import schedules
from tcg_core import ShuffledExecutor
from tests.core import _nodes_for_processes as P


def appending() -> Any:
    shared = P.fresh_list()
    return P.pair(P.append_to(shared, "a"), P.append_to(shared, "b"))


def pure() -> Any:
    shared = P.fresh_list()
    return P.pair(P.count_with(shared, "a"), P.count_with(shared, "b"))


@pytest.mark.parametrize("seed", [0, 7, 1000, None])
def test_two_nodes_appending_to_one_input_are_caught_within_the_default_runs(
        seed: int | None) -> None:
    with pytest.raises(OrderAssertionError) as caught:
        assert_order_independent(appending, seed=seed)
    err = caught.value
    text = str(err)
    a, b = err.seeds
    assert f"seed {a} gave (1, 2), seed {b} gave (2, 1)" in text \
        or f"seed {a} gave (2, 1), seed {b} gave (1, 2)" in text
    assert err.node == "fresh_list"
    assert "first node (in topological order) whose value differed after the run: " \
           "'fresh_list'" in text
    assert f"executor=tcg_core.ShuffledExecutor(seed={b})" in text


def test_the_seeds_named_replay_exactly() -> None:
    with pytest.raises(OrderAssertionError) as caught:
        assert_order_independent(appending, seed=0)
    a, b = caught.value.seeds
    assert appending().resolve(executor=ShuffledExecutor(seed=a)) != \
        appending().resolve(executor=ShuffledExecutor(seed=b))
    for s in (a, b):
        assert appending().resolve(executor=ShuffledExecutor(seed=s)) == \
            appending().resolve(executor=ShuffledExecutor(seed=s))


def test_the_pure_pipeline_passes_and_returns_the_seeds() -> None:
    assert assert_order_independent(pure, runs=5, seed=3) == [3, 4, 5, 6, 7]
    assert len(assert_order_independent(pure)) == 20


def test_a_run_that_fails_under_some_orders_only_is_a_difference() -> None:
    def fragile() -> Any:
        shared = P.fresh_list()
        first = P.append_to(shared, "a")
        return P.pair(first, P.count_with(shared, "b"))

    with pytest.raises(OrderAssertionError, match="depends on the order"):
        assert_order_independent(fragile, seed=0)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"runs": 1}, "runs must be an int >= 2"), ({"runs": True}, "runs must be"),
    ({"seed": "1"}, "seed must be an int or None")])
def test_bad_options_are_refused(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(TypeError, match=match):
        assert_order_independent(pure, **kwargs)


def test_a_ready_made_future_is_refused() -> None:
    built = pure()
    built.resolve(executor="serial")
    with pytest.raises(ValueError, match="afresh"):
        assert_order_independent(lambda: built)


def test_schedules_shrink_to_the_simplest_failing_order() -> None:
    def order_bug(executor: Any) -> bool:
        return bool(appending().resolve(executor=executor) != (1, 2))

    found = find(schedules(), order_bug, settings=settings(database=None, max_examples=200))
    assert isinstance(found, ShuffledExecutor)
    assert appending().resolve(executor=found) == (2, 1)
    assert find(schedules(), lambda e: True) == "serial"


@given(schedules())
@settings(max_examples=20, database=None)
def test_a_pure_pipeline_passes_under_every_schedule(executor: Any) -> None:
    assert pure().resolve(executor=executor) == (1, 1)


def test_schedules_checks_its_option() -> None:
    with pytest.raises(TypeError, match=r"schedules\(\): max_seed"):
        schedules(max_seed=-1)


# Outcomes compared as a user would (issue 20): by full content, ids set aside.

def test_a_pipeline_that_always_raises_the_same_error_is_order_independent() -> None:
    # The message names the failing call as `boom#<id>`: ids differ from build to build.
    assert assert_order_independent(lambda: P.nested_boom(P.fresh_list()), runs=4, seed=0)


def test_a_pipeline_that_always_returns_nan_is_order_independent() -> None:
    assert assert_order_independent(lambda: P.nan_pair(P.fresh_list()), runs=4, seed=0)


def test_an_order_dependent_array_with_equal_shortened_reprs_is_caught() -> None:
    pytest.importorskip("numpy")

    def pipeline() -> Any:
        shared = P.fresh_list()
        return P.long_array(P.append_to(shared, "a"), P.append_to(shared, "b"))

    with pytest.raises(OrderAssertionError, match="depends on the order"):
        assert_order_independent(pipeline, seed=0)


def test_an_order_dependent_frame_is_caught() -> None:
    pytest.importorskip("pandas")

    def pipeline() -> Any:
        shared = P.fresh_list()
        return P.long_frame(P.append_to(shared, "a"), P.append_to(shared, "b"))

    with pytest.raises(OrderAssertionError, match="depends on the order"):
        assert_order_independent(pipeline, seed=0)


def test_an_order_independent_array_with_nan_passes() -> None:
    pytest.importorskip("numpy")
    assert assert_order_independent(lambda: P.long_array(1, 2), runs=3, seed=0)


def test_a_node_deep_in_many_children_is_keyed_by_its_position() -> None:
    # Keys are built in one pass over each parent's children (was a scan per child).
    from pytest_tcg._assertions._order import _keys
    from tcg_core import Graph
    with Graph() as graph:
        P.fan_children(300).resolve(executor="serial")
    keys = _keys(graph.nodes)
    assert sorted(keys.values())[:302] == [(0,)] + [(0, i) for i in range(301)]


def test_values_that_cannot_be_compared_are_refused_not_judged_by_repr() -> None:
    from pytest_tcg._outcomes import same_outcome

    class Opaque:
        def __eq__(self, other: object) -> bool:
            raise RuntimeError("no")

        __hash__ = object.__hash__

        def __reduce__(self) -> Any:
            raise TypeError("no pickle")

    with pytest.raises(TypeError, match="cannot compare two values of type"):
        same_outcome(Opaque(), Opaque())


@pytest.mark.parametrize(("a", "b", "same"), [
    (float("nan"), float("nan"), True), ([1, float("nan")], [1, float("nan")], True),
    ({"k": (float("nan"),)}, {"k": (float("nan"),)}, True), (0.0, -0.0, True),
    ((1, 2), (2, 1), False), ({"a": 1}, {"a": 2}, False), (1, 1.0, True),
])
def test_outcomes_compare_by_content(a: Any, b: Any, same: bool) -> None:
    from pytest_tcg._outcomes import same_outcome
    assert same_outcome(a, b) is same


def test_the_node_that_changed_its_input_is_named_as_the_cause() -> None:
    with pytest.raises(OrderAssertionError) as caught:
        assert_order_independent(appending, seed=0)
    assert caught.value.culprit is not None
    assert "the cause: node 'append_to' changed its argument 'items'" in str(caught.value)


def test_no_cause_is_invented_when_no_input_was_changed() -> None:
    # Order-dependent through a shared global, not through an argument: nothing to name.
    with pytest.raises(OrderAssertionError) as caught:
        assert_order_independent(lambda: P.pair(P.stamp("a"), P.stamp("b")), seed=0)
    assert caught.value.culprit is None and "the cause" not in str(caught.value)

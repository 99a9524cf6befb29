"""Schedule fuzzing (``ShuffledExecutor``) and the input-mutation check
(``resolve(check_mutation=True)``): order bugs are found, pure pipelines pass."""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
import warnings
from typing import Any

import pytest

from tcg_core import (
    Graph,
    InputMutationError,
    NodeError,
    ShuffledExecutor,
    load_json,
    node,
    resolve,
    to_dot,
    to_json,
    to_mermaid,
)
from tests.core import _nodes_for_processes as P

EXECUTORS = ["serial", "threads", ShuffledExecutor(seed=1),
             ShuffledExecutor(seed=2, jitter=0.002)]


@node
def leaf(i: int) -> int:
    return i


@node
def total(*parts: int) -> int:
    return sum(parts)


def _fan(width: int = 8) -> tuple[Graph, Any]:
    with Graph() as graph:
        out = total(*[leaf(i) for i in range(width)])
    return graph, out


def _orders(seed: int) -> list[tuple[str, int | None]]:
    graph, out = _fan()
    out.resolve(executor=ShuffledExecutor(seed=seed))
    return [(f"{r.name}{i}", r.order) for i, r in enumerate(graph.nodes)]


# -- ShuffledExecutor ----------------------------------------------------------------------

def test_the_same_seed_gives_the_same_order_and_other_seeds_other_orders() -> None:
    assert _orders(5) == _orders(5)
    assert len({tuple(_orders(seed)) for seed in range(10)}) > 1


def test_the_order_used_is_recorded_and_every_input_runs_before_its_consumer() -> None:
    for seed in range(10):
        graph, out = _fan()
        assert out.resolve(executor=ShuffledExecutor(seed=seed)) == sum(range(8))
        orders = {r.id: r.order for r in graph.nodes}
        assert sorted(orders.values()) == list(range(1, 10))
        for rec in graph.nodes:
            assert all(orders[i.id] < orders[rec.id] for i in rec.inputs)  # type: ignore[operator]


def test_an_unshuffled_run_records_no_order() -> None:
    graph, out = _fan()
    out.resolve(executor="serial")
    assert {r.order for r in graph.nodes} == {None}


@node
def parent_of_two(base: int) -> Any:
    return total(leaf(base), leaf(base + 1))


def test_children_finish_before_their_parent_completes_under_every_seed() -> None:
    for seed in range(8):
        with Graph() as graph:
            out = total(parent_of_two(1), parent_of_two(10), leaf(100))
        assert out.resolve(executor=ShuffledExecutor(seed=seed)) == 1 + 2 + 10 + 11 + 100
        for rec in graph.nodes:
            for child in rec.children or ():
                assert child.order is not None and rec.order is not None
                assert child.order > rec.order and child.end is not None


def test_jitter_runs_on_threads_in_a_valid_order() -> None:
    seen: set[str] = set()

    @node
    def where(i: int) -> int:
        seen.add(threading.current_thread().name)
        return i

    graph_values = resolve(*[where(i) for i in range(6)],
                           executor=ShuffledExecutor(seed=4, jitter=0.001))
    assert graph_values == tuple(range(6))
    assert threading.main_thread().name not in seen


def test_the_order_is_in_json_and_diagrams() -> None:
    graph, out = _fan(2)
    out.resolve(executor=ShuffledExecutor(seed=0))
    data = json.loads(to_json(graph))
    assert sorted(n["order"] for n in data["nodes"]) == [1, 2, 3]
    assert [r.order for r in load_json(to_json(graph)).nodes] == [r.order for r in graph.nodes]
    assert "order 3" in to_dot(graph) and "order 3" in to_mermaid(graph)


@pytest.mark.parametrize(("kwargs", "kind"), [
    ({"seed": "1"}, TypeError), ({"seed": True}, TypeError), ({"jitter": -1.0}, ValueError),
    ({"jitter": float("nan")}, ValueError), ({"jitter": True}, TypeError)])
def test_bad_shuffled_executor_options_are_refused_where_given(kwargs: dict[str, Any],
                                                               kind: type[Exception]) -> None:
    with pytest.raises(kind, match=r"ShuffledExecutor\(\): (seed|jitter) must be"):
        ShuffledExecutor(**kwargs)


def test_a_shuffled_executor_is_a_plain_value() -> None:
    assert ShuffledExecutor(seed=1) == ShuffledExecutor(seed=1) != ShuffledExecutor(seed=2)
    assert repr(ShuffledExecutor(3, 0.5)) == "ShuffledExecutor(seed=3, jitter=0.5)"
    assert len({ShuffledExecutor(1), ShuffledExecutor(1)}) == 1


# -- check_mutation -------------------------------------------------------------------------

def _appending() -> Any:
    shared = P.fresh_list()
    return P.pair(P.append_to(shared, "a"), P.append_to(shared, "b"))


def _pure() -> Any:
    shared = P.fresh_list()
    return P.pair(P.count_with(shared, "a"), P.count_with(shared, "b"))


@pytest.mark.parametrize("executor", [*EXECUTORS, "processes"], ids=str)
def test_a_node_that_appends_to_a_shared_input_is_caught(executor: Any) -> None:
    with pytest.raises(InputMutationError) as caught:
        _appending().resolve(executor=executor, check_mutation=True)
    err = caught.value
    assert isinstance(err, NodeError) and err.argument == "items"
    assert err.node.name == "append_to" and err.path == "append_to"  # type: ignore[attr-defined]
    text = str(err)
    assert "changed its argument 'items' (list, the value of node 'fresh_list')" in text
    assert "'append_to' also consumes it" in text and "copy.deepcopy(items)" in text


@pytest.mark.parametrize("executor", [*EXECUTORS, "processes"], ids=str)
def test_the_same_pipeline_written_purely_passes_on_every_executor(executor: Any) -> None:
    assert _pure().resolve(executor=executor, check_mutation=True) == (1, 1)


def test_without_the_check_the_mutation_goes_unnoticed() -> None:
    assert _appending().resolve(executor="serial") == (1, 2)


@dataclasses.dataclass
class Box:
    items: list[int]


@node
def poke(value: Any) -> int:
    if isinstance(value, dict):
        value["new"] = 1
    elif isinstance(value, set):
        value.add(99)
    elif isinstance(value, bytearray):
        value[0] = 0
    elif isinstance(value, Box):
        value.items.sort()
    elif isinstance(value, list):
        value[0][0] = 5  # deep inside
    else:
        value[0] = 7  # a numpy array
    return 0


@pytest.mark.parametrize("value", [
    {"a": 1}, {1, 2}, bytearray(b"xy"), Box([3, 1, 2]), [[1], [2]]],
    ids=["dict", "set", "bytearray", "dataclass", "nested list"])
def test_common_values_are_fingerprinted(value: Any) -> None:
    with pytest.raises(InputMutationError, match=r"changed its argument 'value'.*a value "
                                                 r"passed to the call"):
        poke(value).resolve(executor="serial", check_mutation=True)


def test_numpy_arrays_are_fingerprinted() -> None:
    np = pytest.importorskip("numpy")
    with pytest.raises(InputMutationError, match="ndarray"):
        poke(np.zeros(3)).resolve(executor="serial", check_mutation=True)


def test_a_changed_keyword_argument_is_named() -> None:
    shared = P.fresh_list()
    out = P.pair(P.append_to(items=shared, item="a"), P.count_with(shared, "b"))
    with pytest.raises(InputMutationError, match=r"argument 'items'.*'count_with' also consumes"):
        out.resolve(executor="serial", check_mutation=True)


def test_a_value_that_cannot_be_fingerprinted_is_skipped_with_one_warning() -> None:
    @node
    def uses(lock: Any) -> int:
        return 1

    class Unpicklable:
        def __reduce__(self) -> Any:
            raise TypeError("no pickling")

    with pytest.warns(RuntimeWarning, match="Unpicklable cannot be fingerprinted") as record:
        assert resolve(uses(Unpicklable()), uses(Unpicklable()), executor="serial",
                       check_mutation=True) == (1, 1)
    assert len([w for w in record if "Unpicklable" in str(w.message)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert uses(Unpicklable()).resolve(executor="serial", check_mutation=True) == 1


def test_a_mutating_node_is_not_retried_and_its_consumers_are_skipped() -> None:
    runs: list[int] = []

    @node(retries=3)
    def sorts(xs: list[int]) -> list[int]:
        runs.append(1)
        xs.sort()
        return xs

    out = P.pair(sorts([3, 1]), 1)
    with pytest.raises(InputMutationError):
        out.resolve(executor="serial", check_mutation=True)
    assert runs == [1]
    assert out._record.state == "skipped"


def test_immutable_arguments_and_copies_pass() -> None:
    @node
    def careful(xs: list[int], n: int, s: str) -> list[int]:
        xs = copy.copy(xs)
        xs.append(n)
        return xs

    assert careful([1], 2, "x").resolve(executor="threads", check_mutation=True) == [1, 2]


@pytest.mark.parametrize("value", [1, "yes", None])
def test_check_mutation_must_be_a_bool(value: Any) -> None:
    with pytest.raises(TypeError, match=r"resolve\(\): check_mutation must be True or False"):
        leaf(1).resolve(executor="serial", check_mutation=value)

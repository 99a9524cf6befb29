"""``pytest_tcg.strategies.dags``: valid, buildable DAG specs that shrink to small examples."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from pytest_tcg import assert_graph_shape
from pytest_tcg.strategies import DagSpec, NodeSpec, dags
from tcg_core import Graph, resolve


@given(dags(max_nodes=10, max_inputs=4))
def test_specs_are_dags_within_bounds(spec: DagSpec) -> None:
    assert 1 <= len(spec.nodes) <= 10
    for i, node in enumerate(spec.nodes):
        assert len(node.inputs) <= 4
        assert list(node.inputs) == sorted(set(node.inputs))
        assert all(0 <= j < i for j in node.inputs)
        assert node.inner is None and node.cost is None


@given(dags(max_nodes=6, nested=True))
def test_serial_values_match_plain_python(spec: DagSpec) -> None:
    assert list(resolve(*spec.build(), executor="serial")) == spec.expected()


@given(dags(max_nodes=6))
def test_graph_shape_matches_the_spec(spec: DagSpec) -> None:
    with Graph() as g:
        spec.build()
    expected = [f"n{i}" for i in range(len(spec.nodes))] + [
        (f"n{j}", f"n{i}") for i, node in enumerate(spec.nodes) for j in node.inputs]
    assert_graph_shape(g, expected)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_costs_and_sleeps(data: st.DataObject) -> None:
    spec = data.draw(dags(max_nodes=4, costs=(2, 3), sleep=0.001))
    with Graph() as g:
        futures = spec.build()
    resolve(*futures, executor="serial")
    for rec, node in zip(g.nodes, spec.nodes, strict=True):
        assert rec.cost == node.cost and node.cost in (2, 3)
        assert rec.duration is not None and rec.duration >= 0.001 * node.cost


def test_shrinks_to_small_readable_examples() -> None:
    assert repr(find(dags(), lambda s: len(s.nodes) >= 4)) == "dag(n0, n1, n2, n3)"
    assert repr(find(dags(), lambda s: any(n.inputs for n in s.nodes))) == "dag(n0, n1(n0))"
    nested = find(dags(nested=True), lambda s: any(n.inner for n in s.nodes))
    assert repr(nested) == "dag(g0{n0})"
    deep = find(dags(nested=True), lambda s: any(n.inner and any(m.inner for m in n.inner.nodes)
                                                 for n in s.nodes))
    assert repr(deep) == "dag(g0{g0{n0}})"
    costed = find(dags(costs=(1, 5)), lambda s: sum(n.cost or 0 for n in s.nodes) >= 6)
    assert len(costed.nodes) <= 3 and sum(n.cost or 0 for n in costed.nodes) == 6
    assert not any(n.inputs or n.inner for n in costed.nodes)


def test_expected_values_and_repr() -> None:
    inner = DagSpec((NodeSpec(), NodeSpec(inputs=(0,))))
    spec = DagSpec((NodeSpec(cost=2), NodeSpec(inputs=(0,), inner=inner),
                    NodeSpec(inputs=(0, 1))))
    assert repr(spec) == "dag(n0@cost=2, g1(n0){n0, n1(n0)}, n2(n0, g1))"
    # n0 = 0; g1 = 1 + n0 + (0 + 1) = 2; n2 = 2 + n0 + g1 = 4
    assert spec.expected() == [0, 2, 4]
    assert spec.count() == 6
    assert spec.tags("t") == ["t0", "t1", "t1/0", "t1/1", "t1/out", "t2"]
    assert pickle.loads(pickle.dumps(spec)) == spec


def test_node_functions_pickle_by_name() -> None:
    spec = DagSpec((NodeSpec(cost=4), NodeSpec(inner=DagSpec((NodeSpec(),)))))
    for future in spec.build():
        func = future.node.spec
        assert pickle.loads(pickle.dumps(func)) is func


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"min_nodes": 0}, "1 <= min_nodes <= max_nodes"),
    ({"min_nodes": 5, "max_nodes": 4}, "1 <= min_nodes <= max_nodes"),
    ({"max_inputs": -1}, "max_inputs must be >= 0"),
    ({"costs": (3, 1)}, "costs must be"),
])
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dags(**kwargs)  # type: ignore[arg-type]

"""Properties of ``ShuffledExecutor`` over random DAGs: any seed gives the values plain
Python computes, in an order where every input started before its consumer and every
child after its parent's body; the same seed gives the same order."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_tcg.strategies import DagSpec, dags, schedules
from tcg_core import Graph, ShuffledExecutor, resolve

_SETTINGS = settings(deadline=None, max_examples=60,
                     suppress_health_check=[HealthCheck.too_slow])


def _run(spec: DagSpec, executor: Any) -> tuple[list[Any], Graph]:
    with Graph() as graph:
        futures = spec.build()
    return list(resolve(*futures, executor=executor)), graph


@given(dags(max_nodes=10, nested=True), schedules())
@_SETTINGS
def test_every_schedule_gives_plain_pythons_values(spec: DagSpec, executor: Any) -> None:
    values, _ = _run(spec, executor)
    assert values == spec.expected()


@given(dags(max_nodes=10, nested=True), st.integers(0, 2**32 - 1))
@_SETTINGS
def test_a_shuffled_order_is_valid_and_reproducible(spec: DagSpec, seed: int) -> None:
    _, graph = _run(spec, ShuffledExecutor(seed=seed))
    orders = {rec.id: rec.order for rec in graph.nodes}
    assert None not in orders.values()
    for rec in graph.nodes:
        assert all(orders[i.id] < orders[rec.id] for i in rec.inputs)  # type: ignore[operator]
        if rec.parent is not None:
            assert orders[rec.parent.id] < orders[rec.id]  # type: ignore[operator]
    _, again = _run(spec, ShuffledExecutor(seed=seed))
    assert [r.order for r in again.nodes] == [orders[r.id] for r in graph.nodes]

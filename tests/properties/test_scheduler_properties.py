"""Properties of the scheduler over random DAGs (``pytest_tcg.strategies.dags``).

Every executor gives the values plain Python computes; every node runs exactly once;
no node starts before its inputs ended (nor a child before its parent's body ended);
and a run's makespan lies between the critical path and the total work.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from pytest_tcg import _dagnodes
from pytest_tcg.strategies import DagSpec, NodeSpec, dags
from tcg_core import Graph, GraphModel, resolve, simulate

EPS = 1e-9
_BASE = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _settings(max_examples: int = 50) -> settings:
    return settings(_BASE, max_examples=max_examples)


@pytest.fixture(scope="module")
def process_pool() -> Iterator[concurrent.futures.Executor]:
    # One pool for the module: starting processes per example would dominate the run.
    method = "forkserver" if sys.platform.startswith("linux") else None
    with concurrent.futures.ProcessPoolExecutor(
            max_workers=2, mp_context=multiprocessing.get_context(method)) as pool:
        yield pool


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=4, processes=False,
                                       dashboard_address=":0")  # any free port
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


def _executor(name: str, request: pytest.FixtureRequest) -> Any:
    if name == "processes":
        return request.getfixturevalue("process_pool")
    if name == "dask":
        return request.getfixturevalue("dask_client")
    return name


def _run(spec: DagSpec, executor: Any, **options: Any) -> tuple[list[Any], GraphModel]:
    with Graph() as graph:
        futures = spec.build(tag="t")
    values = list(resolve(*futures, executor=executor, **options))
    return values, graph


@pytest.mark.parametrize(("name", "examples"), [
    ("serial", 60), ("threads", 60), ("processes", 15), ("dask", 10)])
def test_every_executor_gives_the_expected_values(name: str, examples: int,
                                                  request: pytest.FixtureRequest) -> None:
    executor = _executor(name, request)

    @_settings(examples)
    @given(dags(max_nodes=7, max_inputs=3, nested=True))
    def check(spec: DagSpec) -> None:
        values, graph = _run(spec, executor)
        assert values == spec.expected()
        assert len(graph.nodes) == spec.count()

    check()


@pytest.mark.parametrize("executor", ["serial", "threads"])
@_settings()
@given(spec=dags(max_nodes=8, nested=True))
def test_every_node_runs_exactly_once(executor: str, spec: DagSpec) -> None:
    log: list[str] = []
    _dagnodes.CALL_LOG = log
    try:
        _, graph = _run(spec, executor)
    finally:
        _dagnodes.CALL_LOG = None
    assert Counter(log) == Counter(spec.tags("t"))  # every body once, none twice
    assert all(r.state == "done" and r.attempts == 1 for r in graph.nodes)


@pytest.mark.parametrize("name", ["threads", "processes"])
def test_no_node_starts_before_what_it_waits_for(name: str,
                                                 request: pytest.FixtureRequest) -> None:
    executor = _executor(name, request)

    @_settings(40 if name == "threads" else 10)
    @given(dags(max_nodes=8, max_inputs=3, nested=True, sleep=0.0005))
    def check(spec: DagSpec) -> None:
        _, graph = _run(spec, executor)
        for producer, consumer, _arg in graph.edges():
            assert producer.end is not None and consumer.start is not None
            assert producer.end <= consumer.start, (producer.path, consumer.path)
        for rec in graph.nodes:
            if rec.parent is not None:
                assert rec.parent.end is not None and rec.start is not None
                assert rec.parent.end <= rec.start, (rec.parent.path, rec.path)

    check()


@_settings()
@given(spec=dags(max_nodes=10, max_inputs=3, nested=True, costs=(1, 4)))
def test_simulated_makespan_is_bounded(spec: DagSpec) -> None:
    _, graph = _run(spec, "serial")  # nested nodes exist once their parents ran
    total = sum(float(r.cost or 1) for r in graph.nodes)
    critical = graph.critical_path_length("cost")
    for workers in (1, 2, 3, 8):
        schedule = simulate(graph, workers=workers, weight="cost")
        assert critical - EPS <= schedule.makespan <= total + EPS
    assert simulate(graph, workers=1, weight="cost").makespan == pytest.approx(total)


@_settings()
@given(spec=dags(max_nodes=10, max_inputs=3, costs=(1, 4)))
def test_simulated_makespan_meets_grahams_bound(spec: DagSpec) -> None:
    _, graph = _run(spec, "serial")
    total = sum(float(r.cost or 1) for r in graph.nodes)
    critical = graph.critical_path_length("cost")
    for workers in (1, 2, 3, 8):
        # List scheduling never idles a worker while work is ready, hence this bound.
        assert simulate(graph, workers=workers, weight="cost").makespan <= (
            total / workers + critical + EPS)
    # With as many workers as nodes, the makespan is the critical path itself.
    assert simulate(graph, workers=len(graph.nodes), weight="cost").makespan == (
        pytest.approx(critical))


def test_nested_critical_path_is_the_makespan_on_unlimited_workers() -> None:
    spec = DagSpec((NodeSpec(cost=1), NodeSpec(inputs=(0,), cost=1,
                                               inner=DagSpec((NodeSpec(cost=1),)))))
    _, graph = _run(spec, "serial")
    unlimited = simulate(graph, workers=len(graph.nodes), weight="cost")
    # n0, then g1's body, then its child n0, then out: 4 units one after another.
    assert unlimited.makespan == 4.0
    assert graph.critical_path_length("cost") == unlimited.makespan


@_settings(25)
@given(spec=dags(max_nodes=8, max_inputs=3, nested=True, sleep=0.002))
def test_real_makespan_is_bounded(spec: DagSpec) -> None:
    _, graph = _run(spec, "threads")
    makespan = graph.makespan()
    # No schedule beats the critical path: its nodes ran one after another.
    assert graph.critical_path_length() <= makespan + EPS
    # Every body started after the bodies of its inputs had ended (observed order). How
    # promptly the scheduler reacts is a performance figure: benchmarks/_makespan.py
    # measures it; a wall-clock upper bound here would flake on a loaded machine.
    for record in graph.nodes:
        for source in record.inputs:
            assert source.end is not None and record.start is not None
            assert source.end <= record.start + EPS, (source.path, record.path)

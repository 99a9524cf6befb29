"""Random DAGs with random failing nodes, under every executor.

Properties, for every graph:
* ``keep_going=True`` raises exactly the failures that happened (a planned failure whose
  inputs all succeeded), every node not downstream of a failure completes with the right
  value, nothing downstream of a failure runs, and no node runs twice;
* fail fast raises one of those failures, runs nothing downstream of a failure and nothing
  twice; without planned failures both modes return every value.

The DAG strategy is deliberately tiny and local (``pytest_tcg.strategies`` is separate).
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import multiprocessing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcg_core import NodeError, NodeFailures, resolve
from tests.core import _nodes_for_processes as P
from tests.core._dask_clusters import loopback_cluster

pytestmark = pytest.mark.timeout(180)


@dataclass(frozen=True)
class Spec:
    inputs: tuple[int, ...]  # indices of earlier nodes
    fail: bool
    nested: bool  # the value (or the failure) comes from a child node


@st.composite
def dags(draw: Any, max_nodes: int = 10) -> list[Spec]:
    """A DAG as a list of node specs; node ``i`` may consume any of nodes ``0..i-1``.

    Shrinks towards fewer nodes, fewer edges, no failures and no nesting.
    """
    size = draw(st.integers(1, max_nodes))
    specs = []
    for i in range(size):
        inputs = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        fail = draw(st.integers(0, 4)) == 4  # about one node in five fails
        nested = draw(st.booleans())
        specs.append(Spec(tuple(sorted(inputs)), fail, nested))
    return specs


def expectations(specs: list[Spec]) -> tuple[dict[int, int], set[int], set[int]]:
    """(values of nodes that complete, nodes that fail themselves, nodes downstream)."""
    values: dict[int, int] = {}
    failing: set[int] = set()
    downstream: set[int] = set()
    for i, spec in enumerate(specs):
        if any(j in failing or j in downstream for j in spec.inputs):
            downstream.add(i)
        elif spec.fail:
            failing.add(i)
        else:
            values[i] = i + sum(values[j] for j in spec.inputs)
    return values, failing, downstream


def _label_of(err: NodeError) -> int:
    """The DAG index a failure came from: its body says 'planned failure of n<i>[.child]'."""
    text = str(err.__cause__)
    assert text.startswith("planned failure of n"), text
    return int(text.rsplit(" n", 1)[1].split(".")[0])


def check(specs: list[Spec], executor: Any, keep_going: bool, log_dir: Path,
          max_workers: int | None = None) -> None:
    log_dir.mkdir()
    log = str(log_dir)
    futures: list[Any] = []
    for i, spec in enumerate(specs):
        futures.append(P.dag_node(log, f"n{i}", spec.fail, spec.nested,
                                  *[futures[j] for j in spec.inputs]))
    values, failing, downstream = expectations(specs)
    try:
        got = resolve(*futures, executor=executor, keep_going=keep_going,
                      max_workers=max_workers)
    except NodeFailures as exc:
        assert keep_going, "fail fast raises a single NodeError"
        reported = sorted(_label_of(e) for e in exc.errors)
        assert reported == sorted(failing), (reported, failing)
        raised: set[int] = set(reported)
    except NodeError as exc:
        assert not keep_going, "keep_going raises NodeFailures"
        raised = {_label_of(exc)}
        assert raised <= failing, (raised, failing)
    else:
        raised = set()
        assert list(got) == [values[i] for i in range(len(specs))]
    assert bool(raised) == bool(failing)

    ran = P.runs(log)
    assert all(count == 1 for count in ran.values()), f"a node ran twice: {ran}"
    ran_nodes = {int(label[1:]) for label in ran if "." not in label}
    assert not ran_nodes & downstream, "a node downstream of a failure ran"
    if keep_going:
        assert ran_nodes == set(values) | failing
        for i, value in values.items():
            assert futures[i].state == "done"
            assert futures[i].resolve() == value
        for i in failing | downstream:
            assert futures[i].state in ("failed", "skipped")


_counter = itertools.count()


def _fresh(tmp_path: Path) -> Path:
    return tmp_path / f"example-{next(_counter)}"


@pytest.mark.parametrize("keep_going", [True, False], ids=["keep_going", "fail_fast"])
def test_random_dags_serial(keep_going: bool, tmp_path: Path) -> None:
    @settings(max_examples=60, deadline=None, database=None)
    @given(dags())
    def run(specs: list[Spec]) -> None:
        check(specs, "serial", keep_going, _fresh(tmp_path))

    run()


@pytest.mark.parametrize("keep_going", [True, False], ids=["keep_going", "fail_fast"])
def test_random_dags_threads(keep_going: bool, tmp_path: Path) -> None:
    @settings(max_examples=60, deadline=None, database=None)
    @given(dags(), st.integers(1, 4))
    def run(specs: list[Spec], workers: int) -> None:
        check(specs, "threads", keep_going, _fresh(tmp_path), max_workers=workers)

    run()


@pytest.mark.parametrize("keep_going", [True, False], ids=["keep_going", "fail_fast"])
def test_random_dags_processes(keep_going: bool, tmp_path: Path) -> None:
    context = multiprocessing.get_context("forkserver")
    with cf.ProcessPoolExecutor(2, mp_context=context) as pool:

        @settings(max_examples=10, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(dags(max_nodes=8))
        def run(specs: list[Spec]) -> None:
            check(specs, pool, keep_going, _fresh(tmp_path))

        run()


def test_the_strategy_produces_failures_nesting_and_edges() -> None:
    """The properties above are only as good as the graphs: make sure they vary."""
    seen = {"fail": False, "nested": False, "edge": False, "downstream": False}

    @settings(max_examples=200, deadline=None, database=None)
    @given(dags())
    def look(specs: list[Spec]) -> None:
        seen["fail"] |= any(s.fail for s in specs)
        seen["nested"] |= any(s.nested for s in specs)
        seen["edge"] |= any(s.inputs for s in specs)
        seen["downstream"] |= bool(expectations(specs)[2])

    look()
    assert all(seen.values()), seen


@pytest.mark.parametrize("keep_going", [True, False], ids=["keep_going", "fail_fast"])
def test_random_dags_dask(keep_going: bool, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    cluster = loopback_cluster(processes=False)
    try:
        with distributed.Client(cluster, set_as_default=False) as client:

            @settings(max_examples=10, deadline=None, database=None,
                      suppress_health_check=[HealthCheck.too_slow])
            @given(dags(max_nodes=8))
            def run(specs: list[Spec]) -> None:
                check(specs, client, keep_going, _fresh(tmp_path))

            run()
    finally:
        cluster.close()


@pytest.mark.parametrize("keep_going", [True, False], ids=["keep_going", "fail_fast"])
def test_random_dags_dask_whatever_order_outcomes_arrive_in(
        keep_going: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On Dask a task below a failed one fails with the same error, and the client hears
    of tasks in no fixed order: each outcome here is held back a random while (children
    run on the cluster by bodies on its workers included, the workers being threads of
    this process), and the properties above still hold."""
    distributed = pytest.importorskip("distributed")
    import random
    import threading

    from tcg_core._executors import _dask

    tell = _dask._tell
    delays = random.Random(0)

    def tell_later(events: Any, event_key: Any, future: Any) -> None:
        threading.Timer(delays.random() * 0.02, tell, (events, event_key, future)).start()

    monkeypatch.setattr(_dask, "_tell", tell_later)
    cluster = loopback_cluster(processes=False, n_workers=1, threads_per_worker=3)
    try:
        with distributed.Client(cluster, set_as_default=False) as client:

            @settings(max_examples=15, deadline=None, database=None,
                      suppress_health_check=[HealthCheck.too_slow])
            @given(dags(max_nodes=8), st.integers(0, 2**32 - 1))
            def run(specs: list[Spec], seed: int) -> None:
                delays.seed(seed)
                check(specs, client, keep_going, _fresh(tmp_path))

            run()
    finally:
        cluster.close()

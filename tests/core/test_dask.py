"""Dask: graphs, nested ones included, run on a real ``distributed.LocalCluster`` on loopback
(thread workers and process workers); failures, timeouts and killed workers end in an error
naming the node (or Dask's own retry), never a hang.

``processes=False`` clusters talk over in-process queues unless told otherwise, and that
transport refuses ``host=``: the thread-worker cluster is asked for ``protocol="tcp"``.
``dashboard_address=None`` still binds the scheduler's HTTP server to port 8787 (and warns
when it is taken, e.g. under ``-n 2``): ``"127.0.0.1:0"`` asks for any free loopback port.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from queue import SimpleQueue
from typing import Any

import pytest

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

from tcg_core import (  # noqa: E402 - after the importorskip
    Graph,
    NodeError,
    NodeFailures,
    NodeTimeoutError,
    ResolveCancelled,
    TcgError,
    node,
    resolve,
)
from tests.core import _nodes_for_processes as P  # noqa: E402
from tests.core._dask_clusters import clients, loopback_cluster  # noqa: E402
from tests.core.test_timeouts_and_interrupts import CtrlC  # noqa: E402

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module", params=["thread-workers", "process-workers"])
def client(request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from clients(request.param)


@pytest.fixture
def killable_client() -> Iterator[Any]:
    """A process-worker cluster of its own (workers get killed here); Dask gives a task up
    after it killed two workers, so the test stays short."""
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = loopback_cluster(processes=True)
        with distributed.Client(cluster, set_as_default=False) as dask_client:
            yield dask_client
        cluster.close()


def test_the_seed_pipeline_runs_on_the_cluster_nested_graph_included(client: Any) -> None:
    future = P.pipeline(10, 2, 5, 6)
    assert future.resolve(executor=client) == -60
    graph = future.graph
    assert sorted(r.path for r in graph.nodes) == [
        "pipeline", "pipeline › add", "pipeline › multiply", "pipeline › subtract"]
    assert all(r.state == "done" for r in graph.nodes)
    assert all("Dask" in (r.worker or "") for r in graph.nodes), [r.worker for r in graph.nodes]
    if client.cluster.processes:
        assert all(not r.worker.startswith(f"{os.getpid()}:") for r in graph.nodes)


def test_a_child_returned_from_a_body_on_dask_runs_once(client: Any, tmp_path: Path) -> None:
    """Each graph node is one call: a child the body both created and returned must not
    come back from the worker as two separate nodes that both run."""
    log = str(tmp_path)
    future = P.logged_parent(log)
    assert future.resolve(executor=client) == "child"
    assert P.runs(log) == {"parent": 1, "child": 1}
    (child,) = future.node.children or []
    assert child.parent is future.node and child.state == "done"


def test_executor_dask_uses_the_current_client(client: Any) -> None:
    future = P.pid_of()
    with client.as_current():
        pid = future.resolve(executor="dask", inline_tiny=False)
    worker_pids = set(client.run(os.getpid).values())
    assert pid in worker_pids


def test_a_failing_grandchild_on_dask_names_the_path_and_the_cause(client: Any) -> None:
    with pytest.raises(NodeError) as info:
        P.top(4).resolve(executor=client)
    assert "node 'boom' failed (top › middle › boom): ValueError: bad input 4" in str(info.value)
    assert isinstance(info.value.__cause__, ValueError)


def test_keep_going_on_dask_reports_every_failure_and_finishes_the_rest(client: Any) -> None:
    with Graph() as g:
        P.boom(1)
        P.top(2)
        good = [P.pipeline(i, 1, 2, 3) for i in range(4)]
    with pytest.raises(NodeFailures) as info:
        g.resolve(executor=client, keep_going=True)
    assert sorted(e.path for e in info.value.errors) == ["boom", "top › middle › boom"]
    assert [f.resolve() for f in good] == [(i + 1) * 2 * (2 - 3) for i in range(4)]


def test_a_node_past_its_timeout_on_dask_fails_in_time(client: Any, tmp_path: Path) -> None:
    """The body ends only once the test opens its gate: resolve() returning first is the
    deadline holding, observed without a clock."""
    log = str(tmp_path)
    try:
        with pytest.raises(NodeError) as info:
            P.gated_hang(log).resolve(executor=client)
        assert P.ended(log) == [], "resolve waited for the body instead of its timeout"
    finally:
        P.open_gate(log)
    assert isinstance(info.value.__cause__, NodeTimeoutError)
    assert "node 'gated_hang' failed (gated_hang)" in str(info.value)


def test_a_lambda_node_on_dask_runs(client: Any) -> None:
    """dask users ship lambdas without thinking: they travel by value (cloudpickle)."""
    assert node(lambda x: x + 1)(1).resolve(executor=client) == 2


def test_a_body_resolving_inside_a_dask_worker(client: Any) -> None:
    assert P.resolves_inside(P.resolves_inside(1)).resolve(executor=client) == 210


def test_a_worker_killed_mid_run_is_retried_by_dask(killable_client: Any,
                                                     tmp_path: Path) -> None:
    marker = str(tmp_path / "killed-once")
    assert P.die_once(marker).resolve(executor=killable_client) == "survived"
    assert os.path.exists(marker)


def test_a_task_that_kills_every_worker_is_a_clear_error(killable_client: Any) -> None:
    with pytest.raises(NodeError) as info:
        P.die(1).resolve(executor=killable_client)
    message = str(info.value)
    assert message.startswith("node 'die' failed (die): KilledWorker")
    assert "died" in message


def test_a_closed_client_is_a_clear_error() -> None:
    cluster = loopback_cluster(processes=False, n_workers=1)
    dask_client = distributed.Client(cluster, set_as_default=False)
    dask_client.close()
    cluster.close()
    with pytest.raises(TcgError) as info:
        P.add(1, 2).resolve(executor=dask_client, inline_tiny=False)
    assert "closed" in str(info.value) or "shut down" in str(info.value), str(info.value)


def test_a_client_closed_during_resolve_stops_it_and_a_new_client_finishes_it(
        tmp_path: Any) -> None:
    cluster = loopback_cluster(processes=False, n_workers=1)
    dask_client = distributed.Client(cluster, set_as_default=False)
    log = str(tmp_path)
    try:
        # Nothing can finish before the client closes: the naps wait at a gate the test
        # opens only after resolve() returned.
        futures = [P.add(P.gated_nap(log, f"n{i}"), "!") for i in range(4)]
        closer = threading.Timer(0.5, dask_client.close)
        closer.start()
        try:
            with pytest.raises(ResolveCancelled) as info:
                resolve(*futures, executor=dask_client, inline_tiny=False)
        finally:
            P.open_gate(log)
        closer.join()
        assert "shut down" in str(info.value)
        # A stop, not a failure (0.2 failed the nodes in flight and skipped their
        # consumers, so the next resolve failed too): all of them went back to pending.
        assert {r.state for f in futures for r in f.graph.nodes} == {"pending"}
        with distributed.Client(cluster, set_as_default=False) as again:
            assert resolve(*futures, executor=again) == tuple(f"n{i}!" for i in range(4))
    finally:
        dask_client.close()
        cluster.close()


def test_a_value_lost_when_the_client_closed_says_so_and_what_to_do() -> None:
    cluster = loopback_cluster(processes=False, n_workers=1)
    dask_client = distributed.Client(cluster, set_as_default=False)
    try:
        futures = [P.add(P.nap(i, 0.2), 1) for i in range(12)]
        closer = threading.Timer(0.5, dask_client.close)
        closer.start()
        with pytest.raises(ResolveCancelled):
            resolve(*futures, executor=dask_client, inline_tiny=False)
        closer.join()
        lost = [r for f in futures for r in f.graph.nodes if r.state == "failed"]
        for rec in lost:  # done on the cluster, never fetched: it cannot be run again
            assert "the resolve stopped (the client closed, or Ctrl-C) before it was " \
                   "fetched; build the graph again" in str(rec.error)
        assert {r.state for f in futures for r in f.graph.nodes} <= {
            "pending", "done", "failed"}
    finally:
        dask_client.close()
        cluster.close()


def test_executor_dask_starts_a_cluster_of_its_own_and_nests_on_it() -> None:
    """``executor="dask"`` with no current client: an in-process cluster for this resolve
    whose workers run the children a body creates (their own client is still starting
    when the first child is sent, and must not be refused as a closed one)."""
    futures = [P.pipeline(10 + i, 2, 5, 6) for i in range(4)]  # bodies nesting at once
    assert resolve(*futures, executor="dask") == tuple((12 + i) * 5 * -1 for i in range(4))
    future = futures[0]
    assert sorted(r.path for r in future.graph.nodes) == [
        "pipeline", "pipeline › add", "pipeline › multiply", "pipeline › subtract"]
    assert all("Dask" in (r.worker or "") for r in future.graph.nodes)


def test_ctrl_c_cancels_what_was_handed_to_the_cluster(client: Any, sigint: None,
                                                       tmp_path: Path) -> None:
    """The node below the long ones is already on the cluster, waiting for its inputs:
    Ctrl-C cancels it (it never starts), control comes back before the bodies in flight
    end (they wait at a gate opened only after the interrupt), and a second resolve
    finishes the graph."""
    log = str(tmp_path)
    with Graph() as g:
        firsts = [P.gated_nap(log, f"long{i}") for i in range(2)]
        last = P.logged_nap(log, "after", 0.0, *firsts)
    interrupted = False
    ended_at_interrupt: list[str] | None = None
    try:
        with CtrlC(lambda: bool(P.runs(log)), "interrupt_main") as ctrl_c:
            try:
                g.resolve(executor=client)
            except KeyboardInterrupt:
                interrupted = True
                ended_at_interrupt = P.ended(log)
    finally:
        P.open_gate(log)
    assert ctrl_c.sent_at is not None and interrupted
    assert ended_at_interrupt == []
    # the long bodies end on their workers once the gate opens; 'after' must not follow
    assert P.wait_until(lambda: len(P.ended(log)) == 2, 30.0), P.ended(log)
    time.sleep(0.5)
    assert "after" not in P.runs(log)
    assert last.state == "pending"
    assert last.resolve(executor=client) == "after"


@pytest.mark.parametrize("every", [1, 3, 10_000])
def test_when_and_where_bodies_ran_is_recorded_also_when_collected_during_the_run(
        client: Any, every: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from tcg_core._scheduler import _handover

    monkeypatch.setattr(_handover, "COLLECT_EVERY", every)
    with Graph() as g:
        value = P.identity(0)
        for _ in range(9):
            value = P.add(value, 1)
        tops = [P.pipeline(i, 2, 5, 6) for i in range(2)]
    assert resolve(value, *tops, executor=client) == (9, -10, -15)
    assert len(g.nodes) == 10 + 2 * 4
    for rec in g.nodes:
        assert rec.start is not None and rec.end is not None and rec.start <= rec.end
        assert "Dask" in (rec.worker or ""), rec.worker


def test_retries_on_dask_rerun_the_body_and_keep_every_attempts_error(
        client: Any, tmp_path: Path) -> None:
    """A node with retries= is a new task per attempt, and its consumer (already known to
    the cluster for any other node) waits for the attempt that succeeds."""
    log = str(tmp_path)
    flaky = P.flaky(log, 2)
    after = P.identity(flaky)
    assert after.resolve(executor=client) == "recovered"
    assert flaky.node.attempts == 3
    errors = flaky.node.attempt_errors or []
    assert [type(e) for e in errors] == [ConnectionError, ConnectionError]
    assert P.runs(log) == {"flaky": 3}


def test_retries_exhausted_on_dask_fail_with_every_attempt_and_skip_downstream(
        client: Any, tmp_path: Path) -> None:
    flaky = P.flaky(str(tmp_path), 5)
    after = P.identity(flaky)
    with pytest.raises(NodeError) as info:
        after.resolve(executor=client)
    assert info.value.node is flaky.node and flaky.node.attempts == 3
    assert "after 3 attempts; earlier attempts: 1: ConnectionError" in str(info.value)
    assert after.node.state == "skipped"


def test_a_retry_does_not_count_as_a_second_input_handed_over(client: Any,
                                                              tmp_path: Path) -> None:
    """``pair`` waits for the retried ``flaky`` and for ``identity``, which is held back
    behind a node with a timeout: the retry's task must not stand in for ``identity``
    too (``pair`` would be sent with no value for it)."""
    slow = P.identity(P.timed_nap("t", 1.0))
    both = P.pair(P.flaky(str(tmp_path), 1), slow)
    assert both.resolve(executor=client) == ("recovered", "t")


@pytest.mark.parametrize("first", ["boom", "add"])
def test_a_failure_below_a_failed_node_is_a_skip_whatever_the_order_of_outcomes(
        client: Any, first: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask fails ``add`` with the error of ``boom``, its input; the two outcomes reach
    the client in either order, possibly together: ``boom`` is the failure, ``add`` is
    skipped."""
    from tcg_core._executors import _dask

    tell = _dask._tell
    held: list[tuple[Any, Any]] = []
    lock = threading.Lock()

    def tell_failures_together(events: Any, event_key: Any, future: Any) -> None:
        if future.status != "error":
            tell(events, event_key, future)
            return
        outcome: SimpleQueue[Any] = SimpleQueue()
        tell(outcome, event_key, future)  # asks the client for the error: may block
        with lock:
            held.append((events, outcome.get()))
            if len(held) < 2:
                return
            batch = sorted(held, key=lambda h: h[1][0][0].name != first)
        switch = sys.getswitchinterval()
        sys.setswitchinterval(5.0)  # both on the queue before the resolve's thread wakes
        try:
            for queue, event in batch:
                queue.put(event)
        finally:
            sys.setswitchinterval(switch)

    monkeypatch.setattr(_dask, "_tell", tell_failures_together)
    failing = P.boom(1)
    below = P.add(failing, 1)
    with pytest.raises(NodeError) as info:
        below.resolve(executor=client)
    assert info.value.node is failing.node
    assert below.node.state == "skipped" and failing.node.state == "failed"

"""The Dask hand-over (``HandoverRun``): what a resolve on a ``distributed.Client`` must
do beyond giving the right values, proved on real loopback ``LocalCluster``s.

* values stay on the cluster: only the values the caller can still ask for reach the
  client (``Marked`` notes every process it is unpickled in: on process workers, the
  test process is the client);
* a node's inputs on the cluster are Dask dependencies, and a chain goes out as one
  graph, not one ``update-graph`` per node (``GraphLog``, a scheduler plugin);
* children a body creates are sent from its worker, and the graph records them as a
  resolve on threads does;
* every node, children included, has its start, end and a Dask worker recorded;
* failures, retries, timeouts and skipped consumers, on thread and process workers.

The cluster helper is ``test_dask.py``'s (thread workers over tcp, any free port).
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

distributed = pytest.importorskip("distributed")

from tcg_core import (  # noqa: E402 - after the importorskip
    NodeError,
    NodeFailures,
    NodeRecord,
    NodeTimeoutError,
    resolve,
)
from tests.core import _nodes_for_dask as D  # noqa: E402
from tests.core._dask_clusters import clients  # noqa: E402

pytestmark = pytest.mark.timeout(120)

#: tiny nodes would run on the client: every node here must be a Dask task
ON_DASK: dict[str, Any] = {"inline_tiny": False}


@pytest.fixture(scope="module", params=["thread-workers", "process-workers"])
def client(request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from clients(request.param)


@pytest.fixture
def graph_log(client: Any) -> Iterator[D.GraphLog]:
    """Every graph the cluster's scheduler receives during the test."""
    log = D.GraphLog()
    scheduler = client.cluster.scheduler  # a LocalCluster's scheduler runs in this process
    scheduler.add_plugin(log)
    yield log
    scheduler.remove_plugin(name=log.name)


def _needs_process_workers(client: Any) -> None:
    if not client.cluster.processes:
        pytest.skip("on thread workers the client and the workers share one process")


def _tree(rec: NodeRecord) -> tuple[Any, ...]:
    """What the graph records of ``rec`` and below, independent of ids and order."""
    kids = sorted(_tree(k) for k in rec.children or [])
    assert all(k.parent is rec for k in rec.children or [])
    return (rec.name, rec.state, rec.returned, tuple(kids))


def _everything(rec: NodeRecord) -> list[NodeRecord]:
    found = [rec]
    for kid in rec.children or []:
        found.extend(_everything(kid))
    return found


# -- values stay on the cluster ------------------------------------------------------------


def test_an_intermediate_value_never_reaches_the_client(client: Any) -> None:
    _needs_process_workers(client)
    D.REVIVED.clear()
    root = D.tag_of(D.relabel(D.relabel(D.marked("a"), "b"), "c"))
    assert root.resolve(executor=client, **ON_DASK) == "a>b>c"
    assert D.REVIVED == []  # the root is a str; no Marked came back


def test_only_the_values_the_caller_holds_are_fetched(client: Any) -> None:
    _needs_process_workers(client)
    D.REVIVED.clear()
    held = D.relabel(D.marked("a"), "b")
    root = D.tag_of(D.relabel(held, "c"))
    assert root.resolve(executor=client, **ON_DASK) == "a>b>c"
    assert D.REVIVED == ["a>b"]  # the held future's value, once; not "a" nor "a>b>c"
    assert held.resolve().tag == "a>b"


# -- dependencies are Dask dependencies ----------------------------------------------------


def test_a_chain_is_one_graph_whose_tasks_depend_on_each_other(
        client: Any, graph_log: D.GraphLog) -> None:
    future = D.hop_start(0)
    for _ in range(20):
        future = D.hop(future)
    assert future.resolve(executor=client, **ON_DASK) == 20
    graphs = graph_log.sent_by("hop-")
    assert len(graphs) == 1, [len(keys) for _, keys in graphs]
    ((_, hops),) = graphs
    assert len(hops) == 20
    (start,) = (k for _, keys in graph_log.sent_by("hop_start-") for k in keys)
    # each hop depends on exactly the task before it: together they form the chain
    deps = {key: next(iter(d)) for key, d in hops.items() if len(d) == 1}
    assert len(deps) == 20, hops
    assert sorted(deps.values()) == sorted({start, *hops} - {future_key(hops, deps)})


def future_key(hops: dict[str, set[str]], deps: dict[str, str]) -> str:
    """The last hop of the chain: the one no other hop depends on."""
    (last,) = set(hops) - set(deps.values())
    return last


def test_the_same_input_twice_is_one_dependency(client: Any, graph_log: D.GraphLog) -> None:
    shared = D.hop(D.hop_start(1))
    assert D.plus(shared, shared).resolve(executor=client, **ON_DASK) == 4
    ((_, plus),) = graph_log.sent_by("plus-")
    ((_, hop),) = graph_log.sent_by("hop-")
    assert list(plus.values()) == [set(hop)]


# -- nesting on the cluster ----------------------------------------------------------------


def test_children_are_sent_from_the_worker_not_the_client(
        client: Any, graph_log: D.GraphLog) -> None:
    future = D.hop_parent(1)
    assert future.resolve(executor=client, **ON_DASK) == 22
    senders = {who for who, _ in graph_log.sent_by("hop_child-")}
    assert senders and client.id not in senders, senders
    assert sum(len(keys) for _, keys in graph_log.sent_by("hop_child-")) == 2


def test_the_graph_of_nested_bodies_is_recorded_as_on_threads(client: Any) -> None:
    on_dask, on_threads = D.outer(3), D.outer(3)
    assert on_dask.resolve(executor=client, **ON_DASK) == on_threads.resolve() == 26
    assert _tree(on_dask.node) == _tree(on_threads.node)
    paths = sorted(r.path for r in _everything(on_dask.node))
    assert paths == sorted(r.path for r in _everything(on_threads.node))
    assert "outer › inner › hop_parent › hop_child" in paths


def test_every_node_children_included_records_when_and_where_it_ran(client: Any) -> None:
    future = D.plus(D.outer(3), D.hop(D.hop_start(1)))
    assert future.resolve(executor=client, **ON_DASK) == 28
    records = [r for top in future.graph.nodes if top.parent is None for r in _everything(top)]
    assert len(records) == 9  # plus, hop_start, hop; outer, inner, hop_parent, 3 hop_child
    for rec in records:
        assert rec.start is not None and rec.end is not None, rec.path
        assert rec.start <= rec.end, rec.path
        assert "Dask" in (rec.worker or ""), (rec.path, rec.worker)
        if client.cluster.processes:
            assert not (rec.worker or "").startswith(f"{os.getpid()}:"), rec.path


def test_several_bodies_nesting_at_once_on_a_client(client: Any) -> None:
    parents = [D.hop_parent(i) for i in range(6)]
    assert resolve(*parents, executor=client, **ON_DASK) == tuple(
        (i + 10) * 2 for i in range(6))
    assert all(len(p.node.children or []) == 2 for p in parents)


def test_items_and_containers_of_handed_over_nodes(client: Any) -> None:
    """Parity: item futures of a ``nout=`` node and a dict of futures as an argument."""
    first, second = D.split(D.hop_start(1))
    both = D.total({"a": first, "b": second, "c": first})
    assert both.resolve(executor=client, **ON_DASK) == 12
    assert (first.resolve(), second.resolve()) == (1, 10)


# -- failures, retries, timeouts -----------------------------------------------------------


def test_a_failing_grandchild_names_its_path_its_type_and_its_line(client: Any) -> None:
    failing = D.top(4)
    consumer = D.plus(failing, 1)
    with pytest.raises(NodeError) as info:
        consumer.resolve(executor=client, **ON_DASK)
    assert "node 'boom' failed (top › middle › boom): ValueError: bad input 4" in str(
        info.value)
    cause = info.value.__cause__
    assert isinstance(cause, ValueError)
    assert 'raise ValueError(f"bad input {n}")' in "".join(traceback.format_exception(cause))
    assert failing.state == "failed"
    assert consumer.state == "skipped"


def test_keep_going_skips_what_is_below_a_failure_and_runs_the_rest(client: Any) -> None:
    failing = D.top(4)
    below = [D.plus(failing, i) for i in range(3)]
    good = D.hop(D.hop_start(1))
    with pytest.raises(NodeFailures) as info:
        resolve(*below, good, executor=client, keep_going=True, **ON_DASK)
    assert [e.path for e in info.value.errors] == ["top › middle › boom"]
    assert [f.state for f in below] == ["skipped"] * 3
    assert good.resolve() == 2


def test_retries_on_dask_count_attempts_and_keep_their_errors(client: Any,
                                                             tmp_path: Path) -> None:
    flaky = D.flaky(str(tmp_path / "count"))
    assert D.plus(flaky, 1).resolve(executor=client, **ON_DASK) == 3
    assert flaky.node.attempts == 3
    errors = flaky.node.attempt_errors or []
    assert [str(e) for e in errors] == ["attempt 1 fails", "attempt 2 fails"]
    assert all(isinstance(e, RuntimeError) for e in errors)


def test_a_node_out_of_retries_fails_and_its_consumers_are_skipped(client: Any) -> None:
    failing = D.always_fails(D.hop_start(1))
    consumer = D.plus(failing, 1)
    with pytest.raises(NodeError) as info:
        consumer.resolve(executor=client, **ON_DASK)
    assert "node 'always_fails' failed (always_fails): KeyError" in str(info.value)
    assert failing.node.attempts == 2
    assert consumer.state == "skipped"


@pytest.mark.timeout(60)  # the body sleeps 600 s: only the node's timeout ends the test
def test_a_timeout_fails_in_time_and_skips_its_consumers(client: Any) -> None:
    stuck = D.stuck(D.hop_start(1))
    consumer = D.plus(stuck, 1)
    good = D.hop(D.hop_start(1))
    with pytest.raises(NodeFailures) as info:
        resolve(consumer, good, executor=client, keep_going=True, **ON_DASK)
    (error,) = info.value.errors
    assert isinstance(error.__cause__, NodeTimeoutError)
    assert stuck.state == "failed" and consumer.state == "skipped"
    assert good.resolve() == 2


# -- defects found by the probe (see the report of issue 12) -------------------------------


@pytest.fixture
def events_in_one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """After sending a graph, the run waits until every task sent has told its end, so
    the client receives them in one batch (what process workers do by chance)."""
    from tcg_core._scheduler._handover import HandoverRun

    send = HandoverRun.flush

    def flush_then_let_the_events_pile_up(self: HandoverRun) -> None:
        sending = bool(self.batch)
        send(self)
        while sending and self.events.qsize() < len(self.in_flight):
            time.sleep(0.01)  # polls a condition; the test's timeout bounds it

    monkeypatch.setattr(HandoverRun, "flush", flush_then_let_the_events_pile_up)


def test_a_consumer_told_in_the_same_batch_as_its_failed_input_is_skipped(
        client: Any, events_in_one_batch: None) -> None:
    failing = D.boom(1)
    below = D.plus(D.plus(failing, 1), 2)
    with pytest.raises(NodeFailures) as info:
        resolve(below, executor=client, keep_going=True, **ON_DASK)
    assert [e.path for e in info.value.errors] == ["boom"]
    assert below.state == "skipped"


def test_a_wide_fan_out_below_a_failure_is_skipped_not_failed(client: Any) -> None:
    for _ in range(5):  # by chance, some events arrive in one batch
        failing = D.boom(1)
        level = [D.plus(failing, i) for i in range(20)]
        below = [D.plus(f, f) for f in level]
        with pytest.raises(NodeFailures) as info:
            resolve(*below, executor=client, keep_going=True, **ON_DASK)
        assert [e.path for e in info.value.errors] == ["boom"]
        assert {f.state for f in level + below} == {"skipped"}


def test_the_call_in_an_error_names_its_inputs_not_an_address(client: Any) -> None:
    with pytest.raises(NodeError) as info:
        D.always_fails(D.hop_start(1)).resolve(executor=client, **ON_DASK)
    (call,) = [line for line in str(info.value).splitlines() if "the call:" in line]
    assert "always_fails#" in call
    assert " at 0x" not in call, call


def _cached_elsewhere(x: int) -> int:
    return x


def test_a_cache_node_defined_elsewhere_does_not_turn_the_hand_over_off(
        client: Any, graph_log: D.GraphLog) -> None:
    from tcg_core import node as make_node

    cached = make_node(cache=True)(_cached_elsewhere)  # alive while the test runs
    future = D.hop(D.hop(D.hop_start(0)))
    assert future.resolve(executor=client, **ON_DASK) == 2
    graphs = graph_log.sent_by("hop-")
    assert len(graphs) == 1 and all(len(d) == 1 for d in graphs[0][1].values()), graphs
    assert cached._hooks  # it existed all along

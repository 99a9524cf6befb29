"""Faults and bad input: every failure names the node, its nesting path and the fix; no hang,
no lost error, nothing new started after a fail-fast failure, and retries that behave.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import multiprocessing
import threading
import time
import traceback
from pathlib import Path

import pytest

from tcg_core import (
    DependencyError,
    Graph,
    NodeError,
    NodeFailures,
    NodeRecord,
    ResolveCancelled,
    node,
    resolve,
)
from tests.core import _nodes_for_processes as P

EXECUTORS = ["serial", "threads", "processes"]

pytestmark = pytest.mark.timeout(60)


def _chain(err: BaseException | None) -> list[BaseException]:
    """``err`` and every exception it was raised from or during."""
    seen: list[BaseException] = []
    while err is not None and err not in seen:
        seen.append(err)
        err = err.__cause__ or err.__context__
    return seen


# -- a node raises ---------------------------------------------------------------------------


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_failing_node_names_itself_and_chains_the_original_exception(executor: str) -> None:
    with pytest.raises(NodeError) as info:
        P.add(P.boom(3), 1).resolve(executor=executor)
    err = info.value
    assert str(err).startswith("node 'boom' failed (boom): ValueError: bad input 3")
    assert isinstance(err.__cause__, ValueError)
    record = err.node
    assert isinstance(record, NodeRecord) and record.name == "boom" and record.state == "failed"
    assert err.path == "boom"


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_nested_grandchild_failure_carries_the_path_and_the_original_traceback(
        executor: str) -> None:
    future = P.top(5)
    with pytest.raises(NodeError) as info:
        future.resolve(executor=executor)
    err = info.value
    assert "node 'boom' failed (top › middle › boom): ValueError: bad input 5" in str(err)
    assert err.path == "top › middle › boom"
    text = "".join(traceback.format_exception(err))
    # The frame that raised, whether it ran here or in a worker process.
    assert "in boom" in text and 'raise ValueError(f"bad input {x}")' in text, text
    graph = future.graph
    assert graph.node("boom").state == "failed"
    assert graph.node("middle").state == "failed" and graph.node("top").state == "failed"


def test_the_original_traceback_object_survives_on_threads() -> None:
    with pytest.raises(NodeError) as info:
        P.top(1).resolve(executor="threads")
    frames = traceback.extract_tb(info.value.__cause__.__traceback__)  # type: ignore[union-attr]
    assert frames[-1].name == "boom"


@pytest.mark.parametrize("executor", ["serial", "threads"])
def test_a_node_returning_the_future_of_a_failing_node_fails_with_both_named(
        executor: str) -> None:
    @node
    def relay() -> int:
        return P.boom(9)  # type: ignore[no-any-return]

    future = relay()
    with pytest.raises(NodeError) as info:
        future.resolve(executor=executor)
    assert "node 'boom' failed (relay › boom): ValueError: bad input 9" in str(info.value)
    assert future.state == "failed"


def test_a_node_returning_an_already_failed_future_keeps_the_original_error() -> None:
    """The future failed in an earlier resolve; a body returns it. The error must name the
    failed node and still lead to the original exception (no lost error)."""
    failed = P.boom(11)
    with pytest.raises(NodeError):
        failed.resolve(executor="serial")

    @node
    def relay_old() -> object:
        return failed

    with pytest.raises(NodeError) as info:
        relay_old().resolve(executor="serial")
    assert "relay_old" in str(info.value) and "'boom'" in str(info.value)
    originals = [e for e in _chain(info.value) if isinstance(e, ValueError)]
    assert originals and str(originals[0]) == "bad input 11", _chain(info.value)


def test_a_consumer_of_an_already_failed_input_keeps_the_original_error() -> None:
    failed = P.boom(12)
    with pytest.raises(NodeError):
        failed.resolve(executor="serial")
    consumer = P.add(failed, 1)
    with pytest.raises(NodeError) as info:
        consumer.resolve(executor="serial")
    message = str(info.value)
    assert "node 'add'" in message and "input 'boom' (boom) failed" in message
    assert isinstance(info.value.__cause__, DependencyError)
    originals = [e for e in _chain(info.value) if isinstance(e, ValueError)]
    assert originals and str(originals[0]) == "bad input 12", _chain(info.value)


def test_resolving_a_failed_future_again_raises_the_same_error_without_rerunning(
        tmp_path: Path) -> None:
    future = P.logged_boom(str(tmp_path), "once")
    for _ in range(3):
        with pytest.raises(NodeError, match="once broke"):
            future.resolve(executor="threads")
    assert P.runs(str(tmp_path)) == {"once": 1}


# -- two branches fail at the same moment ----------------------------------------------------


def _twin_failures() -> tuple[Graph, list[object]]:
    both_running = threading.Barrier(2, timeout=10)

    @node
    def branch(label: str) -> int:
        both_running.wait()
        raise RuntimeError(f"{label} failed")

    @node
    def after(x: int) -> int:
        return x

    with Graph() as g:
        left = after(branch("left"))
        right = after(branch("right"))
        healthy = P.add(1, 1)
    return g, [left, right, healthy]


def test_two_branches_failing_at_once_are_both_reported_with_keep_going() -> None:
    g, (left, right, healthy) = _twin_failures()
    with pytest.raises(NodeFailures) as info:
        g.resolve(executor="threads", keep_going=True, inline_tiny=False)
    messages = sorted(str(e).splitlines()[0] for e in info.value.errors)  # then the call
    assert messages == ["node 'branch' failed (branch): RuntimeError: left failed",
                        "node 'branch' failed (branch): RuntimeError: right failed"]
    assert "2 nodes failed" in str(info.value)
    assert healthy.resolve() == 2  # type: ignore[attr-defined]
    assert left.state == right.state == "skipped"  # type: ignore[attr-defined]


def test_two_branches_failing_at_once_fail_fast_with_one_of_them() -> None:
    g, _ = _twin_failures()
    with pytest.raises(NodeError) as info:
        g.resolve(executor="threads", inline_tiny=False)
    assert not isinstance(info.value, NodeFailures)
    assert str(info.value).splitlines()[0] in (
        "node 'branch' failed (branch): RuntimeError: left failed",
        "node 'branch' failed (branch): RuntimeError: right failed")
    assert P.settled(g.nodes), [r.state for r in g.nodes]
    assert sorted(r.state for r in g.nodes if r.name == "branch") in (
        ["failed", "failed"], ["failed", "pending"], ["failed", "skipped"])


# -- fail fast and keep going ----------------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_fail_fast_starts_nothing_after_the_first_failure(executor: str, tmp_path: Path) -> None:
    """The naps wait at a gate the test opens only after resolve() returned: a resolve that
    waited for the bodies in flight would return only once they ended (GATE_CAP), and the
    end markers below would show it. No clock is read."""
    log = str(tmp_path)
    with Graph() as g:
        naps = [P.gated_nap(log, f"nap{i}") for i in range(8)]
        P.urgent_boom(log, "first")
    try:
        with pytest.raises(NodeError, match="first broke"):
            g.resolve(executor=executor, max_workers=2, inline_tiny=False)
        assert P.ended(log) == [], "fail fast waited for the bodies in flight"
    finally:
        P.open_gate(log)
    time.sleep(0.6)  # anything wrongly started would have logged by now
    starts = P.run_starts(log)
    labels = [label for _, label in starts]
    assert labels.count("first") == 1
    # Two workers: besides the failing body, at most one nap was in flight when it failed,
    # and no nap could finish before it (they wait at the gate): nothing may start after.
    assert len(labels) - 1 <= 1, starts
    assert P.settled(naps, 30.0), [n.state for n in naps]
    assert [r.name for r in g.failed()] == ["urgent_boom"]


def test_fail_fast_serial_does_not_run_anything_after_the_failing_node(tmp_path: Path) -> None:
    log = str(tmp_path)

    @node
    def step(label: str, *after: object) -> str:
        P.note_run(log, label)
        return label

    first = step("a")
    broken = P.logged_boom(log, "b", first)
    last = step("c", broken)
    with Graph() as g:
        g.add(first, broken, last)
        for i in range(5):
            step(f"later{i}", last)
    with pytest.raises(NodeError):
        g.resolve(executor="serial")
    assert sorted(P.runs(log)) == ["a", "b"]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_keep_going_finishes_every_independent_branch_and_reports_all_failures(
        executor: str, tmp_path: Path) -> None:
    log = str(tmp_path)
    with Graph() as g:
        bad_a = P.logged_boom(log, "bad_a")
        bad_b = P.logged_boom(log, "bad_b")
        after_a = P.add(bad_a, 1)
        after_after_a = P.add(after_a, 1)
        nested_bad = P.top(3)  # fails inside: top › middle › boom
        good = [P.add(P.add(i, 1), P.add(i, 2)) for i in range(5)]
        mixed = P.add(P.add(1, 1), bad_b)
    with pytest.raises(NodeFailures) as info:
        g.resolve(executor=executor, keep_going=True, max_workers=2)
    err = info.value
    assert "3 nodes failed" in str(err)
    reported = sorted(e.path for e in err.errors)
    assert reported == ["logged_boom", "logged_boom", "top › middle › boom"]
    assert "RuntimeError: bad_a broke" in str(err) and "RuntimeError: bad_b broke" in str(err)
    assert "ValueError: bad input 3" in str(err)
    assert [f.resolve() for f in good] == [2 * i + 3 for i in range(5)]
    assert P.runs(log) == {"bad_a": 1, "bad_b": 1}
    assert after_a.state == after_after_a.state == mixed.state == "skipped"
    assert nested_bad.state == "failed"
    assert sorted(r.path for r in g.failed()) == ["logged_boom", "logged_boom", "top",
                                                  "top › middle", "top › middle › boom"]
    assert sorted(r.name for r in g.skipped()) == ["add"] * 4  # after_a, its consumer,
    # mixed, and the add inside middle that waited on boom
    with pytest.raises(NodeError, match="did not complete: input 'logged_boom'"):
        mixed.resolve()


def test_keep_going_with_nothing_failing_returns_values() -> None:
    assert resolve(P.add(1, 2), P.add(3, 4), keep_going=True) == (3, 7)


# -- a later resolve after fail fast ---------------------------------------------------------


def test_a_node_still_running_when_fail_fast_stopped_is_not_poisoned_for_later_resolves(
        ) -> None:
    """Fail fast gives up on ``slow_ok`` while it runs. ``slow_ok`` itself never failed, so a
    later resolve of something that needs it must give the value, not 'skipped'."""

    @node
    def slow_ok() -> int:
        time.sleep(0.3)
        return 40

    shared = slow_ok()
    with pytest.raises(NodeError, match="bad input 0"):
        resolve(P.add(shared, P.boom(0)), executor="threads", inline_tiny=False)
    time.sleep(0.5)  # the abandoned body has finished by now
    assert P.add(shared, 2).resolve(executor="threads") == 42


def test_a_later_resolve_waits_for_a_body_still_running_instead_of_running_it_again(
        tmp_path: Path) -> None:
    """Right after fail fast gave up, ``shared`` is still running in its thread. Resolving
    something that needs it must take its result when it arrives, not start it twice."""
    log = str(tmp_path)
    shared = P.logged_nap(log, "shared", 0.5, 40)
    with pytest.raises(NodeError, match="bad input 0"):
        resolve(P.add(shared, P.boom(0)), executor="threads", inline_tiny=False)
    assert shared.state in ("running", "done")
    assert P.identity(shared).resolve(executor="threads") == "shared"
    assert P.runs(log) == {"shared": 1}


# -- retries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_flaky_node_that_fails_twice_then_succeeds(executor: str, tmp_path: Path) -> None:
    future = P.flaky(str(tmp_path), 2)  # retries=2
    assert future.resolve(executor=executor) == "recovered"
    assert future.node.attempts == 3
    assert future.state == "done" and future.node.error is None
    assert P.runs(str(tmp_path)) == {"flaky": 3}


@pytest.mark.parametrize("executor", EXECUTORS)
def test_exhausted_retries_raise_the_last_error_once(executor: str, tmp_path: Path) -> None:
    future = P.flaky(str(tmp_path), 5)  # retries=2: three attempts, all fail
    with pytest.raises(NodeError) as info:
        future.resolve(executor=executor)
    assert str(info.value).startswith(
        "node 'flaky' failed (flaky): ConnectionError: transient failure")
    assert isinstance(info.value.__cause__, ConnectionError)
    assert future.node.attempts == 3
    assert P.runs(str(tmp_path)) == {"flaky": 3}


def test_exhausted_retries_say_how_many_attempts_were_made(tmp_path: Path) -> None:
    """A user reading 'transient failure' must learn that it was already retried."""
    with pytest.raises(NodeError) as info:
        P.flaky(str(tmp_path), 5).resolve(executor="serial")
    assert "3 attempts" in str(info.value), str(info.value)


def test_no_retry_of_a_node_whose_failure_came_from_an_input(tmp_path: Path) -> None:
    log = str(tmp_path)
    runs: list[int] = []

    @node(retries=3)
    def patient(x: int) -> int:
        runs.append(x)
        return x

    consumer = patient(P.logged_boom(log, "source"))
    with pytest.raises(NodeError, match="source broke"):
        consumer.resolve(executor="threads")
    assert runs == [] and consumer.node.attempts == 0
    assert P.runs(log) == {"source": 1}


def test_no_retry_of_a_parent_whose_child_failed() -> None:
    runs: list[int] = []

    @node(retries=3)
    def parent() -> int:
        runs.append(1)
        return P.boom(1)  # type: ignore[no-any-return]

    future = parent()
    with pytest.raises(NodeError, match=r"node 'boom' failed \(parent › boom\)"):
        future.resolve(executor="threads")
    assert runs == [1] and future.node.attempts == 1


def test_a_retried_node_runs_again_only_after_its_failure(tmp_path: Path) -> None:
    """Retries never overlap: attempt n+1 starts after attempt n ended."""
    spans: list[tuple[float, float]] = []

    @node(retries=3)
    def shaky() -> str:
        start = time.perf_counter()
        time.sleep(0.02)
        spans.append((start, time.perf_counter()))
        if len(spans) < 4:
            raise OSError("again")
        return "ok"

    assert shaky().resolve(executor="threads") == "ok"
    assert all(b[0] >= a[1] for a, b in itertools.pairwise(spans))


# -- the user's own executor shut down -------------------------------------------------------


def _fresh_node() -> object:
    """A node never run before, so the scheduler has no reason to run it inline."""

    @node
    def work(x: int) -> int:
        return x * 2

    return work


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_a_users_executor_shut_down_before_resolve_is_a_clear_error(kind: str) -> None:
    if kind == "threads":
        pool: cf.Executor = cf.ThreadPoolExecutor(2)
        future = _fresh_node()(1)  # type: ignore[operator]
    else:
        pool = cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver"))
        future = P.add(1, 1)
    pool.shutdown()
    with pytest.raises(NodeError) as info:
        future.resolve(executor=pool, inline_tiny=False)
    message = str(info.value)
    assert "could not start" in message and "is shut down" in message
    assert "pass a running executor" in message
    assert isinstance(info.value.__cause__, ResolveCancelled)


@pytest.mark.parametrize("kind", ["threads", "processes"])
@pytest.mark.parametrize("keep_going", [False, True])
def test_a_users_executor_shut_down_during_resolve_is_a_clear_error(
        kind: str, keep_going: bool, tmp_path: Path) -> None:
    log = str(tmp_path)
    if kind == "threads":
        pool: cf.Executor = cf.ThreadPoolExecutor(2)
    else:
        pool = cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver"))
    try:
        with Graph() as g:
            for i in range(10):
                P.logged_nap(log, f"nap{i}", 0.2)
        stopper = threading.Timer(0.3, pool.shutdown, kwargs={"wait": False,
                                                              "cancel_futures": True})
        stopper.start()
        with pytest.raises(NodeError) as info:
            g.resolve(executor=pool, keep_going=keep_going, inline_tiny=False)
        stopper.join()
        assert "is shut down" in str(info.value) and "pass a running executor" in str(info.value)
        assert P.settled(g.nodes), [r.state for r in g.nodes]
        done = [r for r in g.nodes if r.state == "done"]
        assert 1 <= len(done) < 10
        # every node that reported done really ran once; nothing ran twice
        ran = P.runs(log)
        assert all(n == 1 for n in ran.values())
        assert all(ran.get(f"nap{i}") == 1 for i in range(10)
                   if g.nodes[i].state == "done")
    finally:
        pool.shutdown(wait=True)

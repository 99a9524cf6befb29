"""The process executor under bad input and dying workers: an error naming the node, never a hang.

Bodies run in other processes here, so the nodes live in ``_nodes_for_processes``.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import pickle
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcg_core import Graph, NodeError, NodeFailures, SerializationError, TcgError, node, resolve
from tests.core import _nodes_for_processes as P

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def user_process_pool() -> Iterator[cf.ProcessPoolExecutor]:
    context = multiprocessing.get_context("forkserver")
    pool = cf.ProcessPoolExecutor(max_workers=2, mp_context=context)
    yield pool
    pool.shutdown(wait=False, cancel_futures=True)
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()


def _chain_text(err: BaseException) -> str:
    return "".join(traceback.format_exception(err))


def test_pickles_by_reference_and_runs_in_another_process() -> None:
    """The helper module's nodes reach worker processes (the premise of this file)."""
    assert pickle.loads(pickle.dumps(P.add)) is P.add
    here = P.pid_of().resolve(executor="serial")
    there = P.pid_of().resolve(executor="processes", max_workers=1)
    assert here != there
    assert P.top.func is not None and P.add(2, 3).resolve(executor="processes") == 5


# -- things that cannot be pickled -----------------------------------------------------------


def test_a_lambda_node_runs_in_another_process() -> None:
    """Shipped by value with cloudpickle (it has no importable name)."""
    shout = node(lambda text: text.upper())
    assert shout("hi").resolve(executor="processes", max_workers=1) == "HI"


def test_a_local_function_node_runs_in_another_process() -> None:
    @node
    def local_helper(x: int) -> int:
        return x + 1

    assert local_helper(1).resolve(executor="processes", max_workers=1) == 2


def test_node_of_a_builtin_runs_in_another_process() -> None:
    """The dask idiom delayed(divmod): node(divmod) is not importable by its name."""
    assert node(divmod)(7, 2).resolve(executor="processes", max_workers=1) == (3, 1)


@pytest.mark.parametrize("argument", [threading.Lock(), lambda: 1],
                         ids=["lock", "lambda"])
def test_an_unpicklable_argument_names_the_node_and_the_fix(argument: object) -> None:
    with pytest.raises(NodeError) as info:
        P.takes_anything(argument).resolve(executor="processes", max_workers=1)
    message = str(info.value)
    assert "node 'takes_anything' failed (takes_anything)" in message
    assert "pickled" in message and "executor='threads'" in message
    assert isinstance(info.value.__cause__, SerializationError)


def test_an_unpicklable_result_names_the_node_and_the_fix() -> None:
    with pytest.raises(NodeError) as info:
        P.returns_a_lock().resolve(executor="processes", max_workers=1)
    message = str(info.value)
    assert "node 'returns_a_lock' failed (returns_a_lock)" in message
    assert "pickled" in message and "return plain data" in message
    assert isinstance(info.value.__cause__, SerializationError)


def test_a_serialization_error_is_not_retried() -> None:
    """Pickling fails the same way every time: retrying would only waste attempts."""
    lock = threading.Lock()
    shout = node(retries=3)(lambda text: (lock, text)[1])
    future = shout("x")
    with pytest.raises(NodeError):
        future.resolve(executor="processes", max_workers=1)
    assert future.node.attempts == 1


# -- workers that die ------------------------------------------------------------------------


def test_a_worker_that_dies_fails_the_node_by_name() -> None:
    with pytest.raises(NodeError) as info:
        P.add(P.die(1), 1).resolve(executor="processes", max_workers=2)
    message = str(info.value)
    assert "node 'die' failed (die)" in message
    assert "worker process running it died" in message


def test_keep_going_after_a_worker_dies_names_the_node_not_a_raw_broken_pool(
        tmp_path: Path) -> None:
    """Other nodes still in flight or not yet started when the pool breaks must be reported
    as node failures (or run), not escape as a bare BrokenProcessPool."""
    log = str(tmp_path)
    with Graph() as g:
        naps = [P.logged_nap(log, f"nap{i}", 0.6) for i in range(4)]
        P.die_after(0.2)
    with pytest.raises(NodeFailures) as info:
        g.resolve(executor="processes", max_workers=2, keep_going=True, inline_tiny=False)
    names = [err.path for err in info.value.errors]
    assert "die_after" in names
    assert "worker process running it died" in str(info.value)
    assert all(f.state in ("done", "failed") for f in naps)


def test_retrying_a_node_whose_worker_died_names_the_node() -> None:
    """retries=1 resubmits to the broken pool: the second attempt must fail (or succeed on a
    fresh pool) with an error naming the node, not a bare BrokenProcessPool."""
    future = P.die_with_retries(1)
    with pytest.raises(NodeError) as info:
        future.resolve(executor="processes", max_workers=1)
    assert "die_with_retries" in str(info.value)


def test_the_processes_executor_works_again_after_a_worker_died() -> None:
    with pytest.raises(NodeError):
        P.die(2).resolve(executor="processes", max_workers=1)
    assert P.add(P.add(1, 2), 3).resolve(executor="processes", max_workers=1) == 6


def test_a_worker_dying_in_the_users_pool_names_the_node(
        user_process_pool: cf.ProcessPoolExecutor) -> None:
    with pytest.raises(NodeError) as info:
        P.die(3).resolve(executor=user_process_pool)
    assert "node 'die' failed (die)" in str(info.value)
    assert "worker process running it died" in str(info.value)


def test_resolving_on_a_users_pool_that_broke_earlier_names_the_node(
        user_process_pool: cf.ProcessPoolExecutor) -> None:
    """The user's pool broke in an earlier resolve: the next one must say which node could
    not start and why, not raise the pool's BrokenProcessPool unexplained."""
    with pytest.raises(NodeError):
        P.die(4).resolve(executor=user_process_pool)
    with pytest.raises(TcgError) as info:
        P.add(1, 2).resolve(executor=user_process_pool, inline_tiny=False)
    assert "add" in str(info.value)


# -- the traceback of a failure in another process -------------------------------------------


def test_a_grandchild_failing_in_a_worker_process_keeps_path_and_remote_traceback() -> None:
    with pytest.raises(NodeError) as info:
        P.top(7).resolve(executor="processes", max_workers=2)
    message = str(info.value)
    assert "node 'boom' failed (top › middle › boom): ValueError: bad input 7" in message
    assert isinstance(info.value.__cause__, ValueError)
    text = _chain_text(info.value)
    assert "_nodes_for_processes.py" in text and "in boom" in text, text


def test_resolve_of_several_futures_with_processes_returns_every_value() -> None:
    futures = [P.add(i, i) for i in range(20)]
    assert resolve(*futures, executor="processes", max_workers=2) == tuple(
        2 * i for i in range(20))

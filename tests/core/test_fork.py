"""A process forked at any moment can resolve: after a threads resolve, while one runs in
another thread, and in ``multiprocessing`` fork pools (Linux's default before 3.14)."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable

import pytest

from tcg_core import node, resolve
from tests.core import _nodes_for_processes as P

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork"),
    pytest.mark.timeout(120),
    # Forking a process that runs threads is what this file tests on purpose.
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

EXECUTORS = ["serial", "threads", "processes"]


def _in_forked_child(work: Callable[[], object], expected: object,
                     seconds: float = 60.0) -> None:
    """Run ``work`` in a forked child; fail (never hang) unless it returns ``expected``."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running the parent's cleanup
        code = 1
        try:
            code = 0 if work() == expected else 2
        except BaseException:
            code = 3
        finally:
            os.write(write, bytes([code]))
            os._exit(code)
    os.close(write)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            os.close(read)
            assert os.waitstatus_to_exitcode(status) == 0, "the child's resolve failed"
            return
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    os.close(read)
    pytest.fail("the forked child's resolve hung")


@node
def plus_one(x: int) -> int:
    return x + 1


@node
def slow(x: int) -> int:
    time.sleep(0.5)
    return x


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_child_forked_after_a_threads_resolve_can_resolve(executor: str) -> None:
    assert resolve(*[plus_one(i) for i in range(20)], executor="threads",
                   inline_tiny=False) == tuple(range(1, 21))
    _in_forked_child(lambda: P.add(P.add(1, 2), 3).resolve(executor=executor,
                                                           inline_tiny=False), 6)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_child_forked_while_a_resolve_runs_can_resolve_the_same_nodes(
        executor: str) -> None:
    shared = slow(1)
    consumer = plus_one(shared)
    background = threading.Thread(target=lambda: consumer.resolve(executor="threads"))
    background.start()
    time.sleep(0.1)  # the background resolve owns shared and runs its body now
    try:
        _in_forked_child(lambda: plus_one(shared).resolve(executor=executor), 2)
        _in_forked_child(lambda: P.add(1, 1).resolve(executor=executor), 2)
    finally:
        background.join(10)
    assert consumer.resolve() == 2


def _pool_task(n: int) -> int:
    # inline_tiny=False: every body goes through the thread pool, even measured tiny.
    return plus_one(plus_one(n)).resolve(  # type: ignore[no-any-return]
        executor="threads", inline_tiny=False)


def test_multiprocessing_fork_pool_workers_can_resolve_after_the_parent_did() -> None:
    assert resolve(*[plus_one(i) for i in range(8)], executor="threads",
                   inline_tiny=False)[0] == 1
    context = multiprocessing.get_context("fork")
    with context.Pool(2) as pool:
        result = pool.map_async(_pool_task, range(6))
        assert result.get(timeout=60) == [2, 3, 4, 5, 6, 7]


@pytest.mark.skipif(sys.platform != "linux", reason="gc.freeze matters before fork")
def test_a_child_forked_during_a_resolve_gets_its_garbage_collector_back() -> None:
    import gc

    shared = slow(5)
    background = threading.Thread(target=lambda: shared.resolve(executor="threads"))
    background.start()
    time.sleep(0.1)
    try:
        _in_forked_child(lambda: gc.get_freeze_count() == 0 or gc.get_freeze_count() < 1000,
                         True)
    finally:
        background.join(10)

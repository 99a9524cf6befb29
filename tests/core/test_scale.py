"""Deep and wide graphs, runaway recursion, and bodies that resolve inside their worker.

Nothing here may need Python recursion proportional to the graph, and no configuration may
deadlock: a body calling ``resolve()`` works (or fails clearly) even with one worker.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from typing import Any

import pytest

from tcg_core import NodeError, RecursionDepthError, TcgError, node, resolve
from tests.core import _nodes_for_processes as P


@node
def inc(x: int) -> int:
    return x + 1


@node
def one() -> int:
    return 1


@node
def total(*xs: int) -> int:
    return sum(xs)


@node
def spread(width: int) -> int:
    """A body that creates ``width`` children and returns their sum."""
    source = one()
    return total(*[inc(source) for _ in range(width)])  # type: ignore[no-any-return]


def _chain(length: int) -> Any:
    future: Any = 0
    for _ in range(length):
        future = inc(future)
    return future


# -- deep --------------------------------------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize("executor", ["serial", "threads"])
def test_a_200_000_node_chain(executor: str) -> None:
    future = _chain(200_000)
    assert future.resolve(executor=executor) == 200_000
    first = future.node
    for _ in range(199_999):
        first = first.inputs[0]
    assert first.state == "done" and not first.inputs


@pytest.mark.timeout(300)
def test_a_1_000_000_node_chain() -> None:
    """9-14 s alone, up to ~20 s beside the soak under -n 2, ~0.8 GB (2-core machine)."""
    future = _chain(1_000_000)
    assert future.resolve(executor="threads") == 1_000_000
    del future  # dropping a million linked records must not overflow the C stack either


@pytest.mark.timeout(120)
def test_a_chain_without_inlining_still_runs_every_hop_through_the_pool() -> None:
    future = _chain(20_000)
    assert future.resolve(executor="threads", inline_tiny=False) == 20_000


# -- wide --------------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_a_100_000_wide_fan_out_and_in() -> None:
    source = one()
    gathered = total(*[inc(source) for _ in range(100_000)])
    assert gathered.resolve(executor="threads") == 200_000
    assert len(gathered.node.inputs) == 100_000


@pytest.mark.timeout(120)
def test_a_body_creating_100_000_children() -> None:
    future = spread(100_000)
    assert future.resolve(executor="threads") == 200_000
    children = future.node.children or []
    assert len(children) == 100_002  # one(), 100,000 inc(), total()
    assert all(r.parent is future.node and r.state == "done" for r in children)
    assert len(children[-1].inputs) == 100_000


@pytest.mark.timeout(120)
def test_resolving_100_000_independent_futures_at_once() -> None:
    futures = [inc(i) for i in range(100_000)]
    assert resolve(*futures, executor="threads") == tuple(range(1, 100_001))


# -- recursion depth ---------------------------------------------------------------------------


@node
def forever(n: int) -> int:
    """Recursion without a base case."""
    return forever(n + 1)  # type: ignore[no-any-return]


@node
def countdown(n: int) -> int:
    if n == 0:
        return 0
    return inc(countdown(n - 1))  # type: ignore[no-any-return]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_runaway_recursion_stops_at_max_depth_naming_the_chain(executor: str) -> None:
    with pytest.raises(NodeError) as info:
        forever(0).resolve(executor=executor, max_depth=30)
    message = str(info.value)
    assert isinstance(info.value.__cause__, RecursionDepthError)
    assert isinstance(info.value.__cause__, RecursionError)
    assert "nodes nested 31 deep" in message
    assert "forever › forever › forever" in message
    assert "max_depth=30" in message
    assert "base case" in message and "resolve(max_depth=...)" in message


def test_the_default_max_depth_stops_runaway_recursion() -> None:
    with pytest.raises(NodeError, match=r"over max_depth=200"):
        forever(0).resolve(executor="threads")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("executor", ["serial", "threads"])
def test_deep_legitimate_recursion_needs_no_python_recursion(executor: str) -> None:
    import sys

    depth = sys.getrecursionlimit() + 500
    assert countdown(depth).resolve(executor=executor, max_depth=depth + 10) == depth


# -- a body that resolves inside its worker ----------------------------------------------------


@node
def eager(x: int) -> int:
    return inc(x).resolve() * 10  # type: ignore[no-any-return]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["serial", "threads-1", "threads", "user-threads-1",
                                  "processes-1", "user-processes-1"])
def test_a_body_that_resolves_inside_its_worker_never_deadlocks(kind: str) -> None:
    pool: cf.Executor | None = None
    if kind == "user-threads-1":
        pool = cf.ThreadPoolExecutor(1)
    elif kind == "user-processes-1":
        pool = cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver"))
    executor: Any = pool or kind.split("-")[0]
    workers = 1 if kind.endswith("-1") and pool is None else None
    try:
        if kind.startswith(("processes", "user-processes")):
            future = P.resolves_inside(P.resolves_inside(1))
            expected = ((1 + 1) * 10 + 1) * 10
        else:
            future = eager(eager(1))
            expected = ((1 + 1) * 10 + 1) * 10
        assert future.resolve(executor=executor, max_workers=workers) == expected
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


@pytest.mark.timeout(60)
def test_many_bodies_resolving_inside_one_worker_each() -> None:
    assert resolve(*[eager(i) for i in range(50)], executor="threads", max_workers=2) == tuple(
        (i + 1) * 10 for i in range(50))


@pytest.mark.timeout(60)
def test_a_body_resolving_a_future_its_own_resolve_is_running_fails_clearly() -> None:
    """The enclosing resolve owns ``slow``: a nested resolve cannot wait for it without
    risking a deadlock, so it must fail at once and say what to do instead."""
    slow = P.nap("slow", 1.0)

    @node
    def peek() -> str:
        return slow.resolve()  # type: ignore[no-any-return]

    with pytest.raises(NodeError) as info:
        resolve(slow, peek(), executor="threads", max_workers=2, inline_tiny=False)
    message = str(info.value)
    assert "node 'peek' failed" in message
    assert "Return the future from the body instead" in message
    assert isinstance(info.value.__cause__, TcgError)


@pytest.mark.timeout(60)
def test_a_failing_graph_resolved_inside_a_body_names_both_nodes() -> None:
    @node
    def outer_eager() -> int:
        return P.boom(5).resolve()  # type: ignore[no-any-return]

    with pytest.raises(NodeError) as info:
        outer_eager().resolve(executor="threads", max_workers=1)
    message = str(info.value)
    assert message.startswith("node 'outer_eager' failed (outer_eager): NodeError: ")
    assert "node 'boom' failed" in message and "bad input 5" in message

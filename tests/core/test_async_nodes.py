"""``async def`` nodes: awaited on every executor, many at once on one event loop,
cancelled at their timeout, nesting from inside; generator functions are refused."""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from typing import Any

import pytest

from tcg_core import NodeError, NodeTimeoutError, node, resolve

pytestmark = pytest.mark.timeout(120)


@node
async def later(x: int) -> int:
    await asyncio.sleep(0.001)
    return x * 10


@node
def total(*xs: int) -> int:
    return sum(xs)


@node
async def fans_out(n: int) -> list[Any]:
    await asyncio.sleep(0)
    return [later(i) for i in range(n)]


@node
async def with_children(n: int) -> int:
    children = [later(i) for i in range(n)]  # created in the body: they are its children
    await asyncio.sleep(0)
    return len(children)


# "dask" needs the optional extra (pip install -e '.[dask]'): skipped without it.
DASK = pytest.param("dask", marks=pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None, reason="needs pytest-tcg[dask]"))

@pytest.mark.parametrize("executor", ["serial", "threads", "processes", DASK])
def test_an_async_body_is_awaited_and_its_value_is_the_nodes(executor: str) -> None:
    assert total(later(1), later(2)).resolve(executor=executor) == 30


@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_an_async_body_may_return_futures_and_create_children(executor: str) -> None:
    assert fans_out(3).resolve(executor=executor) == [0, 10, 20]
    assert with_children(4).resolve(executor=executor) == 4


def test_many_waiting_async_nodes_run_at_once_on_two_workers() -> None:
    """Every body waits until all have started: with a thread each on a pool of two,
    this could never finish; on the event loop all are in flight together."""
    n = 200
    arrived = 0
    everyone = asyncio.Event()
    loops: set[int] = set()

    @node
    async def gather_point(i: int) -> int:
        nonlocal arrived
        loops.add(id(asyncio.get_running_loop()))
        arrived += 1
        if arrived == n:
            everyone.set()
        await asyncio.wait_for(everyone.wait(), 30)
        return i

    futures = [gather_point(i) for i in range(n)]
    values = resolve(*futures, executor="threads", max_workers=2)
    assert list(values) == list(range(n))
    assert len(loops) == 1
    # The recorded intervals overlap: every body started before the first one ended.
    first_end = min(f.node.end for f in futures)
    assert all(f.node.start < first_end for f in futures)


@pytest.mark.parametrize("executor", ["threads", "serial"])
def test_a_timeout_cancels_the_coroutine(executor: str) -> None:
    cancelled = threading.Event()

    @node(timeout=0.05)
    async def hangs() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(NodeError) as info:
        hangs().resolve(executor=executor)
    assert isinstance(info.value.__cause__, NodeTimeoutError)
    assert cancelled.wait(10)


def test_an_async_body_that_raises_fails_its_node() -> None:
    @node
    async def broken() -> None:
        await asyncio.sleep(0)
        raise ValueError("bad row")

    with pytest.raises(NodeError, match="bad row"):
        broken().resolve()


def test_a_resolve_nested_in_an_async_body_runs() -> None:
    @node
    async def outer() -> int:
        return total(later(1), later(2)).resolve() + 1

    assert outer().resolve() == 31
    assert outer().resolve(executor="serial") == 31


def test_a_generator_function_is_refused_at_decoration() -> None:
    def rows() -> Any:
        yield 1

    async def arows() -> Any:
        yield 1

    with pytest.raises(TypeError, match=r"generator function 'rows'.*list"):
        node(rows)
    with pytest.raises(TypeError, match="generator function 'x'"):
        node(name="x")(arows)


def test_func_stays_the_coroutine_function() -> None:
    assert asyncio.run(later.func(2)) == 20


@pytest.mark.parametrize("executor", ["serial", "threads"])
def test_an_async_node_can_be_replaced_and_checked(executor: str) -> None:
    """The wrappers of override and check_mutation run what they wrap, async or not."""
    from tcg_core import override

    with override({later: 7}):
        assert total(later(1), 1).resolve(executor=executor) == 8
    assert total(later(1), 1).resolve(executor=executor, check_mutation=True) == 11

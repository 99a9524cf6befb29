"""A test double means the same on every executor (issue 20): stateful doubles keep
their state, async doubles are awaited, and a resolve inside a worker's body refuses a
replaced node instead of running the real body.

Every test runs on serial, threads, processes, a shuffled order and Dask
(``every_executor``), unless it says why one does not apply.
"""

from __future__ import annotations

import itertools
from typing import Any
from unittest.mock import AsyncMock, Mock, call

import pytest

from tcg_core import NodeError, override, resolve
from tests.core import _nodes_for_overrides as O

pytestmark = pytest.mark.timeout(120)


def _three_fetches_in_turn() -> Any:
    # Each fetch waits for the one before (through `after`), so the calls come in order.
    first = O.fetch("a")
    second = O.fetch(O.after("b", first))
    third = O.fetch(O.after("c", second))
    return first, second, third


def test_a_mock_with_a_side_effect_sequence_answers_in_turn(every_executor: Any) -> None:
    fake = Mock(side_effect=["10", "20", "30"])
    with override({O.fetch: fake}) as o:
        assert resolve(*_three_fetches_in_turn(), executor=every_executor) == (
            "10", "20", "30")
    # The test's own Mock was called (not a copy in a worker process): its records hold.
    assert fake.call_args_list == [call("a"), call("b"), call("c")]
    assert o.calls(O.fetch) == [call("a"), call("b"), call("c")]


def test_a_callable_keeping_state_keeps_it(every_executor: Any) -> None:
    counter = itertools.count(1)
    with override({O.fetch: lambda url: f"{url}{next(counter)}"}):
        assert resolve(*_three_fetches_in_turn(), executor=every_executor) == (
            "a1", "b2", "c3")
    assert next(counter) == 4


def test_nested_doubles_keep_their_state_too(every_executor: Any) -> None:
    fake = Mock(side_effect=["x", "y"])
    with override({O.fetch: fake, O.score: len}):
        assert sorted(resolve(O.etl(["u", "v"]), executor=every_executor)[0]) == [1, 1]
    assert fake.call_count == 2


def test_an_async_mock_replacing_an_async_node_is_awaited(every_executor: Any) -> None:
    fake = AsyncMock(return_value="<html>")
    with override({O.afetch: fake}):
        assert resolve(O.afetch("u"), executor=every_executor) == ("<html>",)
    fake.assert_awaited_once_with("u")


def test_an_async_fake_is_awaited(every_executor: Any) -> None:
    async def fake(url: str) -> str:
        return url.upper()

    with override({O.afetch: fake, O.fetch: fake}):
        assert resolve(O.afetch("u"), O.fetch("v"), executor=every_executor) == ("U", "V")


def test_an_async_body_behind_a_sync_decorator_is_awaited(every_executor: Any) -> None:
    assert resolve(O.behind_a_sync_decorator(21), executor=every_executor) == (42,)


def test_a_resolve_inside_a_worker_body_refuses_a_replaced_node(
        every_executor: Any, request: pytest.FixtureRequest) -> None:
    kind = request.node.callspec.params["every_executor"]
    with override({O.fetch: O.fake_fetch}) as o:
        if kind in ("processes", "dask"):
            # The body runs in a worker process, the double here: the real body must not
            # run there silently.
            with pytest.raises(NodeError) as info:
                resolve(O.resolves_inside("u"), executor=every_executor)
            assert isinstance(info.value.__cause__, NodeError)  # the inner resolve's
            assert "ReplacementError: node 'fetch' is replaced by a test double" in str(
                info.value)
            assert "return the futures from the body" in str(info.value)
            assert o.calls(O.fetch) == []
        else:
            assert resolve(O.resolves_inside("u"), executor=every_executor) == ("u,row",)
            assert o.calls(O.fetch) == [call("u")]


def test_check_mutation_is_honoured_while_an_override_is_active(every_executor: Any) -> None:
    from tcg_core import InputMutationError
    from tests.core import _nodes_for_processes as P

    with override({O.fetch: "x"}), pytest.raises(InputMutationError, match="append_to"):
        resolve(P.append_to(P.fresh_list(), "a"), O.fetch("u"), executor=every_executor,
                check_mutation=True)

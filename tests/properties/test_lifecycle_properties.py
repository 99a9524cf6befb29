"""Injected failures at every internal step of running and finishing a node.

Each example makes one of the scheduler's own steps raise once, at its k-th call, while
a nested pipeline (children, returned futures, a fan-in, optionally a failing node)
resolves. Whatever the step and the moment: the resolve returns the right value or
raises an error naming a node; no node is left ready or running (a waiting parent is
left unowned, for the next resolve); and a second resolve gives the value, or an error,
never ``None`` and never a hang.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcg_core import NodeError, NodeState, node
from tcg_core._scheduler import _lifecycle, _run

pytestmark = pytest.mark.timeout(300)

#: The functions the lifecycle calls while it starts, finishes and propagates nodes.
FUNCTIONS = ["arguments", "scan_futures", "substitute", "adopt", "claim", "count_waits",
             "rank", "notify", "node_error", "explain_pool_failure", "internal_error",
             "release"]
#: Its transitions and the loop's event handling (methods of Run).
METHODS = ["make_ready", "start", "body_returned", "body_raised", "retry", "complete",
           "complete_waiting", "fail", "child_failed", "skip", "finish", "drain",
           "dispatch", "on_outcome"]


class Injected(Exception):
    """The failure the test injects."""


@node
def leaf(x: int) -> int:
    return x


@node
def add(a: int, b: int) -> int:
    return a + b


@node
def inner(x: int) -> int:
    return add(leaf(x), leaf(x + 1))  # type: ignore[no-any-return]


@node
def outer(n: int) -> list[int]:
    return [inner(i) for i in range(n)]  # type: ignore[misc]


@node(retries=1)
def fails(x: int) -> int:
    raise ValueError(f"planned failure {x}")


@node
def lone(x: int) -> int:
    return x + 1


@node
def total(xs: list[int], y: int) -> int:
    return sum(xs) + y


EXPECTED = (1 + 3 + 5) + 6


def _pipeline(with_failure: bool) -> Any:
    last = fails(1) if with_failure else lone(leaf(5))
    return total(outer(3), last)


@contextmanager
def _raising_once(target: Any, name: str, at_call: int) -> Iterator[list[int]]:
    """Make ``target.name`` raise ``Injected`` on its ``at_call``-th call only."""
    original = getattr(target, name)
    calls = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == at_call:
            raise Injected(f"{name} broke at call {at_call}")
        return original(*args, **kwargs)

    with mock.patch.object(target, name, wrapper):
        yield calls


def _assert_nothing_half_way(future: Any) -> None:
    for rec in future.graph.nodes:
        assert rec.state != NodeState.READY, rec
        if rec.state == NodeState.RUNNING:  # a body still running on a thread: the
            assert rec._run is not None, rec  # stopped run records its late outcome
        if rec.state == NodeState.WAITING:
            assert rec._run is None, f"{rec} is still owned by a resolve that returned"


@settings(max_examples=150, deadline=None)
@given(step=st.sampled_from([("f", n) for n in FUNCTIONS] + [("m", n) for n in METHODS]),
       at_call=st.integers(1, 25), executor=st.sampled_from(["serial", "threads"]),
       with_failure=st.booleans(), keep_going=st.booleans())
def test_an_injected_failure_at_any_internal_step_never_leaves_a_node_half_way(
        step: tuple[str, str], at_call: int, executor: str, with_failure: bool,
        keep_going: bool) -> None:
    kind, name = step
    target = _lifecycle if kind == "f" else _run.Run
    future = _pipeline(with_failure)
    first: Any
    with _raising_once(target, name, at_call):
        try:
            first = future.resolve(executor=executor, keep_going=keep_going)
        except NodeError as exc:
            first = exc
        except Injected as exc:  # raised before any node was being handled
            first = exc
    if isinstance(first, NodeError):
        names = {rec.name for rec in future.graph.nodes}
        assert any(f"'{n}'" in str(first) for n in names), first
    elif not isinstance(first, Injected):
        assert not with_failure and first == EXPECTED
    _assert_nothing_half_way(future)

    try:
        second = future.resolve(executor=executor, keep_going=keep_going)
    except NodeError:
        assert any(r.state == NodeState.FAILED for r in future.graph.nodes)
    else:
        assert second == EXPECTED and not with_failure
        assert not any(r.state == NodeState.FAILED for r in future.graph.nodes)
    assert future.state in NodeState.FINISHED
    _assert_nothing_half_way(future)  # nodes a skipped consumer no longer needs stay pending

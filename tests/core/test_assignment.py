"""Assigning a node function's public attributes: it takes effect on every executor, or it
raises an error that says what to write (``tcg_core/_assignment.py``).

Each behaviour runs on serial, threads, processes, a shuffled order and Dask (a loopback
cluster of one process worker, so the replacement crosses a real process boundary).
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from tcg_core import Graph, NodeError, ShuffledExecutor, node
from tests.core import _nodes_for_processes as P

pytestmark = pytest.mark.timeout(120)

def negate(a: int, b: int) -> int:
    """A replacement body for ``P.add`` (module level, as a user's fake often is)."""
    return -(a + b)


def test_assigning_func_replaces_the_body_everywhere(
        every_executor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(P.add, "func", negate)
    assert P.add(1, 2).resolve(executor=every_executor) == -3
    monkeypatch.undo()
    assert P.add(1, 2).resolve(executor=every_executor) == 3


def test_a_lambda_assigned_as_func_runs_in_the_worker(
        every_executor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(P.identity, "func", lambda x: ("fake", x))
    assert P.identity(7).resolve(executor=every_executor) == ("fake", 7)


def test_a_replaced_child_runs_the_replacement_when_its_parent_runs_in_a_worker(
        every_executor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``pipeline``'s body calls ``add`` inside the worker: the child must be the fake."""
    monkeypatch.setattr(P.add, "func", negate)
    # multiply(add(a, b), c, subtract(c, d)) with add negated: -(1 + 2) * 3 * (3 - 4)
    assert P.pipeline(1, 2, 3, 4).resolve(executor=every_executor) == 9


def test_the_replacement_keeps_the_nodes_name_and_options(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(P.add, "func", negate)
    future = P.add(1, 2)
    assert future.resolve() == -3
    assert future.node.name == "add"
    assert P.add.__wrapped__ is negate and P.add.body is negate


def test_an_async_function_assigned_to_a_sync_node_is_awaited(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def later(a: int, b: int) -> int:
        return a * b

    monkeypatch.setattr(P.add, "func", later)
    assert P.add.is_async
    assert P.add(3, 4).resolve(executor="threads") == 12
    monkeypatch.undo()
    assert not P.add.is_async and P.add(3, 4).resolve() == 7


def test_a_module_node_ships_by_name_until_replaced_and_again_after(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert pickle.loads(pickle.dumps(P.add)) is P.add
    monkeypatch.setattr(P.add, "func", negate)
    assert pickle.dumps(P.add) != pickle.dumps("add")  # by value while replaced
    monkeypatch.undo()
    assert pickle.loads(pickle.dumps(P.add)) is P.add


@pytest.mark.parametrize(("attribute", "value", "words"), [
    ("pure", True, "write @node(pure=True) where it is made"),
    ("nout", 2, "write @node(nout=N) where it is made"),
    ("body", abs, "tcg_core.override"),
    ("is_async", True, "derived from .func"),
])
def test_attributes_fixed_at_decoration_refuse_assignment(
        attribute: str, value: Any, words: str) -> None:
    @node
    def step(x: int) -> int:
        return x

    with pytest.raises(AttributeError) as info:
        setattr(step, attribute, value)
    assert str(info.value).startswith(f"step.{attribute} = ...: {attribute!r} cannot change")
    assert words in str(info.value)
    assert step(1).resolve() == 1


@pytest.mark.parametrize(("attribute", "value", "error"), [
    ("retries", -1, ValueError), ("retries", True, TypeError), ("timeout", 0, ValueError),
    ("cost", float("nan"), ValueError), ("name", "", TypeError), ("cache", "yes", TypeError),
    ("cache_key", [], TypeError), ("func", 3, TypeError),
])
def test_options_assigned_are_checked_as_the_decorator_checks_them(
        attribute: str, value: Any, error: type[Exception]) -> None:
    @node
    def step(x: int) -> int:
        return x

    with pytest.raises(error, match=rf"^step\.{attribute} = \.\.\.: "):
        setattr(step, attribute, value)


def test_options_assigned_are_honoured(every_executor: Any, tmp_path: Any,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """retries and name take effect from the next resolve on (timeout: see the gate)."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    monkeypatch.setattr(P.flaky, "retries", 0)
    with pytest.raises(NodeError, match="transient failure"):
        P.flaky(str(first), 1).resolve(executor=every_executor)
    monkeypatch.setattr(P.flaky, "retries", 1)
    assert P.flaky(str(second), 1).resolve(executor=every_executor) == "recovered"
    monkeypatch.setattr(P.add, "name", "plus")
    future = P.add(1, 1)
    future.resolve(executor=every_executor)
    assert future.node.name == "plus"


@pytest.mark.parametrize("attribute", ["edges", "nodes", "name", "anything"])
def test_a_graph_refuses_public_attributes(attribute: str) -> None:
    with Graph() as g:
        P.add(1, 2)
    with pytest.raises(AttributeError, match="read-only view"):
        setattr(g, attribute, 1)
    assert callable(g.edges) and len(g.nodes) == 1


@pytest.mark.parametrize("attribute", ["state", "node", "name", "graph", "anything"])
def test_a_future_refuses_assignment(attribute: str) -> None:
    with pytest.raises(AttributeError):
        setattr(P.add(1, 2), attribute, 1)


def test_a_users_graph_subclass_may_add_attributes_but_not_shadow_tcgs() -> None:
    class Labelled(Graph):
        def __init__(self, label: str) -> None:
            super().__init__()
            self.label = label  # the subclass's own attribute

    with Labelled("nightly") as g:
        P.add(1, 2)
    assert g.label == "nightly" and g.resolve() == [3]
    with pytest.raises(AttributeError, match="read-only view"):
        g.edges = []  # type: ignore[method-assign]


def test_a_mock_assigned_as_func_is_called_not_asked_for_attributes(
        every_executor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Mock answers every attribute: tcg must not take it for one of its own node
    functions (it returned ``<Mock name='mock.body()'>`` instead of calling it).

    Processes and Dask run the worker's copy of the Mock: the value is right, the calls
    are recorded there (issue 20: doubles that keep state; tcg_mock records them)."""
    from unittest.mock import Mock, call

    fake = Mock(return_value=7)
    monkeypatch.setattr(P.identity, "func", fake)
    assert P.identity(5).resolve(executor=every_executor) == 7
    if every_executor == "processes" or not isinstance(every_executor,
                                                          str | ShuffledExecutor):
        return  # the worker's copy was called (see the docstring)
    assert fake.call_args_list == [call(5)]


def test_a_functions_own_attributes_do_not_overwrite_the_nodes() -> None:
    """``functools.update_wrapper`` copies the function's ``__dict__``: it must run before
    the node sets its own attributes, or a function attribute ``name`` renames the node."""

    def step(x: int) -> int:
        return x

    step.name = "not the node's name"  # type: ignore[attr-defined]
    step.retries = "nonsense"  # type: ignore[attr-defined]
    made = node(step)
    assert made.name == "step" and made.retries == 0
    assert made(1).resolve() == 1

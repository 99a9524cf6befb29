"""The lifecycle's transition table and the validate mode that checks every state
change against it (on for the whole suite: ``tests/conftest.py``)."""

from __future__ import annotations

import itertools
import pickle
import re
from typing import Any

import pytest

from tcg_core import NodeRecord, NodeState, TcgError, node, resolve
from tcg_core._scheduler import _lifecycle
from tcg_core._scheduler._lifecycle import Lifecycle
from tcg_core._scheduler._transitions import (
    ARROWS,
    VALIDATE_ENV,
    CheckedRecord,
    InvalidTransition,
    check_finished,
)

pytestmark = pytest.mark.timeout(120)

def is_dask(executor: Any) -> bool:
    return type(executor).__name__ == "Client"


STATES = ["pending", "ready", "running", "waiting", "done", "failed", "skipped"]


@node
def inc(x: int) -> int:
    return x + 1


@node
def parent(x: int) -> Any:
    return [inc(x), inc(x + 1)]


def _graph() -> Any:
    return parent(inc(1))


def _diagram_arrows() -> set[tuple[str, str]]:
    """The arrows drawn in ``_lifecycle``'s docstring (``a ─name─▶ b ─name─▶ c``, a
    comment in parentheses after), ``unfinished`` spelt out."""
    doc = _lifecycle.__doc__ or ""
    found: set[tuple[str, str]] = set()
    for line in doc.splitlines():
        parts = re.split(r" ─\w+─▶ ", line.split("(")[0].strip())
        for sources, target in itertools.pairwise(parts):
            target = target.split()[0]
            for source in sources.split(","):
                source = source.strip()
                if source == "unfinished":  # release: what it changes (waiting stays)
                    found |= {("ready", target), ("running", target)}
                else:
                    found.add((source, target))
    return found


def test_the_table_is_the_diagram_every_arrow_drawn_once() -> None:
    assert set(ARROWS) == _diagram_arrows()
    assert {state for pair in ARROWS for state in pair} == set(STATES)
    assert all(NodeState.DONE != source for source, target in ARROWS if target != "failed")


def test_validate_is_on_in_this_suite_and_a_claimed_record_is_checked(
        every_executor: Any) -> None:
    future = _graph()
    assert resolve(future, executor=every_executor) == ([2 + 1, 3 + 1],)
    made_here = [rec for rec in future.graph.nodes
                 if not (is_dask(every_executor) and rec.parent is not None)]
    # On Dask the children are made and run inside a cluster worker (whose own resolve
    # validates them: the variable is inherited) and arrive here finished.
    assert len(made_here) == (2 if is_dask(every_executor) else 4)
    assert all(isinstance(rec, CheckedRecord) for rec in made_here)


def test_a_transition_that_is_not_in_the_table_is_refused_naming_the_node() -> None:
    future = inc(1)
    future.resolve(executor="serial")
    rec = future.graph.nodes[0]
    with pytest.raises(InvalidTransition, match=r"'inc' \(inc\): done → pending is not"):
        rec.state = NodeState.PENDING
    assert rec.state == NodeState.DONE


def test_validate_catches_a_broken_transition_inside_the_engine(
        monkeypatch: pytest.MonkeyPatch, every_executor: Any) -> None:
    def broken_make_ready(self: Lifecycle, rec: NodeRecord) -> None:
        rec.state = NodeState.RUNNING  # skips ready: not an arrow

    monkeypatch.setattr(Lifecycle, "make_ready", broken_make_ready)
    with pytest.raises((InvalidTransition, TcgError)) as info:
        resolve(inc(1), executor=every_executor)
    chain = [info.value, info.value.__cause__, info.value.__context__]
    assert any(isinstance(exc, InvalidTransition) and "pending → running" in str(exc)
               for exc in chain), chain


def test_without_validate_records_stay_plain_and_are_not_checked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VALIDATE_ENV, "0")
    future = _graph()
    assert resolve(future, executor="serial") == ([3, 4],)
    assert all(type(rec) is NodeRecord for rec in future.graph.nodes)


def test_a_checked_record_crosses_a_process_boundary_as_a_plain_one() -> None:
    future = inc(1)
    future.resolve(executor="serial")
    rec = future.graph.nodes[0]
    copy = pickle.loads(pickle.dumps(rec))
    assert type(copy) is NodeRecord
    assert (copy.name, copy.state) == ("inc", "done")


def test_the_end_of_run_check_names_a_node_left_owned() -> None:
    future = inc(1)
    rec = future.graph.nodes[0]
    owner = object()
    rec._run = owner
    try:
        with pytest.raises(InvalidTransition, match=r"'inc' \(inc\) is pending and still owned"):
            check_finished(owner, [rec], {})
        with pytest.raises(InvalidTransition, match="1 bodies still counted in flight"):
            check_finished(object(), [], {rec: 1})
    finally:
        rec._run = None
    check_finished(owner, [rec], {})  # let go: nothing to say

"""The scheduler's hot-path copies agree with the functions they write out (the list is
in ``tcg_core/_scheduler/__init__.py``). Each test runs the same graph through the copy
and through the original, and compares what a user can observe: values, states,
attempts, errors, inputs, and the durations the run measured."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tcg_core import NodeState, node, resolve
from tcg_core._scheduler import _lifecycle
from tcg_core._scheduler._run import Run
from tcg_core._scheduler._state import RunState

pytestmark = pytest.mark.timeout(60)


@node
def source() -> int:
    return 2


@node
def lone(x: int) -> int:
    return x + 1


@node
def pair(a: int, b: int) -> int:
    return a * b


@node
def broken(x: int) -> int:
    raise ValueError(f"broken {x}")


@node(cost=1.0)
def weighed(a: int, b: int) -> int:
    return a * b


def _graph(weighted: bool = False) -> Any:
    s = source()
    left, right = lone(s), lone(lone(s))
    top = (weighed if weighted else pair)(left, right)
    return [top, lone(top), broken(s)]


def _records(futures: list[Any]) -> list[Any]:
    """Every record of the graph, in creation order."""
    found = {r.id: r for f in futures for r in f.graph.nodes}
    return [found[key] for key in sorted(found)]


def _facts(futures: list[Any]) -> list[tuple[Any, ...]]:
    kept = {f.node.id: f.node.value for f in futures if f.node.state == NodeState.DONE}
    return [(r.name, r.state, r.attempts, type(r.error).__name__, [i.name for i in r.inputs],
             kept.get(r.id)) for r in _records(futures)]


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[RunState]]:
    """Every run started in the test, kept to read what it measured."""
    seen: list[RunState] = []
    run_to_end = Run.run_to_end

    def kept(self: Run, roots: Any) -> None:
        seen.append(self)
        run_to_end(self, roots)

    monkeypatch.setattr(Run, "run_to_end", kept)
    yield seen


def _resolve(futures: list[Any], **options: Any) -> None:
    with pytest.raises(Exception, match="broken 2"):
        resolve(*futures, keep_going=True, **options)


def test_finish_without_the_lock_equals_let_go(monkeypatch: pytest.MonkeyPatch) -> None:
    # finish() writes let_go's lock-free case out; a free-threaded build takes let_go.
    plain = _graph()
    _resolve(plain, executor="threads")
    monkeypatch.setattr(_lifecycle, "FREE_THREADED", True)
    locked = _graph()
    _resolve(locked, executor="threads")
    assert _facts(plain) == _facts(locked)


def test_finish_notifying_consumers_equals_notify() -> None:
    # finish() writes notify's common case out while ready nodes are not ranked; a run
    # that ranks them (a cost= hint on threads) takes notify() and the todo queue.
    unranked = _graph()
    _resolve(unranked, executor="threads", max_workers=4)
    ranked = _graph(weighted=True)
    _resolve(ranked, executor="threads", max_workers=4)
    def renamed(name: str) -> str:
        return "pair" if name == "weighed" else name

    assert _facts(unranked) == [(renamed(f[0]), f[1], f[2], f[3], [renamed(i) for i in f[4]],
                                 f[5]) for f in _facts(ranked)]


def test_claims_inputs_of_a_plain_call_equal_the_records_inputs() -> None:
    # claim() derives the inputs of a call of plain futures itself (the record's
    # ``inputs`` property does the same for a record no run has claimed).
    claimed, fresh = _graph(), _graph()
    _resolve(claimed, executor="serial")
    left = [[i.name for i in r.inputs] for r in _records(claimed)]
    right = [[i.name for i in r.inputs] for r in _records(fresh)]
    assert left == right


def test_the_inline_duration_update_equals_record_duration(runs: list[RunState]) -> None:
    futures = _graph()
    _resolve(futures, executor="serial")
    [run] = runs
    spec_of = {r.name: r.spec for r in _records(futures)}
    twin = RunState(run.adapter, run.options, False, run.generation)
    for rec in sorted(_records(futures), key=lambda r: r.start or 0.0):
        if rec.start is not None and rec.end is not None and rec.name != "broken":
            twin.record_duration(rec.spec, rec.end - rec.start)
    for name in ("source", "lone", "pair"):
        assert run.durations[spec_of[name]] == pytest.approx(twin.durations[spec_of[name]])

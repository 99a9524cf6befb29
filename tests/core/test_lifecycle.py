"""The node lifecycle is safe at every step: whatever raises between a body ending and
its node finishing fails that node by name; a node is never left running, and resolving
it again gives its value or its error, never ``None``, never a hang.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tcg_core import NodeError, NodeState, TcgError, node, resolve
from tests.core import _nodes_for_processes as P

EXECUTORS = ["serial", "threads", "processes"]

pytestmark = pytest.mark.timeout(60)


@node
def child() -> int:
    return 42


@node
def parent() -> int:
    return child()  # type: ignore[no-any-return]


def test_a_bad_option_leaves_nothing_half_way_and_the_next_resolve_gives_the_value() -> None:
    p = parent()
    with pytest.raises(TypeError, match="max_depth"):
        p.resolve(max_depth="5")  # type: ignore[arg-type]
    assert p.state == NodeState.PENDING
    assert p.resolve() == 42


class _HashOnce:
    """A dict key that breaks when it is hashed a second time (when tcg rebuilds it)."""

    def __init__(self) -> None:
        self.hashed = 0

    def __hash__(self) -> int:
        self.hashed += 1
        if self.hashed > 1:
            raise RuntimeError("hashed twice")
        return 1


@node
def returns_a_breaking_dict() -> dict[Any, int]:
    return {_HashOnce(): child()}


class _BadLen(list[int]):
    def __len__(self) -> int:
        raise ValueError("no length today")


@node(nout=2)
def unpacks_badly() -> list[int]:
    return _BadLen([1, 2])


class _Undescribable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("cannot describe myself")


@node
def raises_undescribable() -> None:
    raise _Undescribable


@pytest.mark.parametrize("executor", ["serial", "threads"])
@pytest.mark.parametrize(("build", "expected"), [
    (returns_a_breaking_dict, "substituting the values of the futures its body returned"),
    (unpacks_badly, "nout=2"),
    (raises_undescribable, "str() of the _Undescribable raised RuntimeError"),
], ids=["substitute", "unpack", "describe"])
def test_a_value_or_exception_that_breaks_inside_tcg_fails_the_node_by_name(
        executor: str, build: Any, expected: str) -> None:
    future = build()
    if isinstance(future, tuple):  # nout=2
        future = future[0]
    with pytest.raises(NodeError) as info:
        future.resolve(executor=executor)
    assert f"'{build.name}'" in str(info.value) and expected in str(info.value)
    assert future.state == NodeState.FAILED
    with pytest.raises(NodeError) as again:  # the same error, nothing run again
        future.resolve(executor=executor)
    assert str(again.value) == str(info.value)


def test_no_node_is_left_running_or_waiting_after_a_failure_inside_tcg() -> None:
    future = returns_a_breaking_dict()
    with pytest.raises(NodeError):
        future.resolve()
    assert all(r.state in NodeState.FINISHED for r in future.graph.nodes)


# -- KeyboardInterrupt and SystemExit -----------------------------------------------------


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize(("kind", "exception"), [("exit", SystemExit),
                                                 ("interrupt", KeyboardInterrupt)])
def test_systemexit_and_keyboardinterrupt_stop_the_resolve_the_same_on_every_executor(
        tmp_path: Path, executor: str, kind: str, exception: type[BaseException]) -> None:
    future = P.stops_once(str(tmp_path), kind)
    with pytest.raises(exception):
        future.resolve(executor=executor)
    assert P.runs(str(tmp_path)) == {"stops": 1}, "never retried"
    assert future.state == NodeState.PENDING
    assert future.resolve(executor=executor) == "ran again"


def test_a_body_raising_systemexit_stops_a_threads_resolve_once_measured_tiny() -> None:
    calls = []

    @node
    def quick(x: int) -> int:
        calls.append(x)
        if x == 99:
            raise SystemExit(2)
        return x

    for i in range(5):  # measured tiny: it now runs inline in the scheduler's thread
        assert quick(i).resolve(executor="threads") == i
    with pytest.raises(SystemExit):
        quick(99).resolve(executor="threads", max_workers=4)
    assert calls.count(99) == 1


# -- retries -------------------------------------------------------------------------------


@pytest.mark.parametrize("executor", EXECUTORS)
def test_retries_keep_every_attempts_error(tmp_path: Path, executor: str) -> None:
    with pytest.raises(NodeError) as info:
        P.fails_differently(str(tmp_path)).resolve(executor=executor)
    err = info.value
    assert [type(e) for e in err.attempt_errors] == [ValueError, KeyError, OSError]
    message = str(err)
    assert "after 3 attempts" in message
    assert "1: ValueError: first" in message and "2: KeyError: 'second'" in message
    assert isinstance(err.__cause__, OSError)


# -- deep nesting --------------------------------------------------------------------------


@node
def deeper(n: int) -> int:
    return deeper(n - 1) if n else 0  # type: ignore[no-any-return]


def test_deep_nesting_does_not_walk_the_nesting_path_per_level(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tcg_core import NodeRecord

    walks = []
    original = NodeRecord.lineage

    def counting(self: NodeRecord) -> list[NodeRecord]:
        walks.append(self)
        return original(self)

    monkeypatch.setattr(NodeRecord, "lineage", counting)
    assert deeper(2_000).resolve(executor="serial", max_depth=5_000) == 0
    assert len(walks) <= 2, f"the nesting path was walked {len(walks)} times"


@pytest.mark.timeout(120)
def test_200_000_levels_of_nesting_resolve() -> None:
    started = time.perf_counter()
    assert deeper(200_000).resolve(executor="serial", max_depth=300_000) == 0
    print(f"200,000 levels: {time.perf_counter() - started:.1f} s")


def test_runaway_nesting_still_stops_at_max_depth_naming_the_chain() -> None:
    with pytest.raises(NodeError, match=r"nested 51 deep \(deeper › deeper"):
        deeper(10_000).resolve(max_depth=50)


# -- options -------------------------------------------------------------------------------


@pytest.mark.parametrize(("options", "kind", "text"), [
    ({"timeout": float("nan")}, ValueError, "timeout must be a finite number of seconds > 0"),
    ({"timeout": float("inf")}, ValueError, "timeout must be a finite number"),
    ({"timeout": "5"}, TypeError, "timeout must be a finite number of seconds > 0, got str"),
    ({"timeout": 0}, ValueError, "timeout must be"),
    ({"retries": "2"}, TypeError, "retries must be an int >= 0, got str '2'"),
    ({"retries": 1.5}, TypeError, "retries must be an int >= 0, got float 1.5"),
    ({"retries": True}, TypeError, "retries must be an int >= 0, got bool True"),
    ({"retries": -1}, ValueError, "retries must be an int >= 0"),
    ({"cost": "big"}, TypeError, "cost must be a finite number >= 0, got str 'big'"),
    ({"cost": -1}, ValueError, "cost must be"),
    ({"nout": True}, TypeError, "nout must be an int >= 1, got bool True"),
    ({"nout": 0}, ValueError, "nout must be an int >= 1"),
    ({"name": 123}, TypeError, "name must be a non-empty str, got int 123"),
    ({"name": ""}, TypeError, "name must be a non-empty str"),
])
def test_every_node_option_is_checked_where_it_is_given(
        options: dict[str, Any], kind: type[Exception], text: str) -> None:
    with pytest.raises(kind) as info:
        node(**options)
    assert str(info.value).startswith("node(): ") and text in str(info.value)
    from tcg_core import Node

    with pytest.raises(kind, match=r"^Node\(\): "):
        Node(**options)


@pytest.mark.parametrize(("options", "kind", "text"), [
    ({"max_workers": True}, TypeError, "max_workers must be an int >= 1, got bool True"),
    ({"max_workers": 0}, ValueError, "max_workers must be an int >= 1"),
    ({"max_workers": 2.0}, TypeError, "max_workers must be an int >= 1"),
    ({"max_depth": "5"}, TypeError, "max_depth must be an int >= 1, got str '5'"),
    ({"keep_going": 1}, TypeError, "keep_going must be True or False, got int 1"),
    ({"inline_tiny": None}, TypeError, "inline_tiny must be True or False"),
    ({"executr": "serial"}, TypeError, "unexpected keyword argument 'executr'"),
    ({"executor": "thread"}, TcgError, "unknown executor 'thread'"),
    ({"executor": 42}, TcgError, "unknown executor 42"),
])
def test_every_resolve_option_is_checked_where_it_is_given(
        options: dict[str, Any], kind: type[Exception], text: str) -> None:
    for call in (lambda: child().resolve(**options), lambda: resolve(child(), **options)):
        with pytest.raises(kind) as info:
            call()
        assert str(info.value).startswith("resolve()") and text in str(info.value)
    from tcg_core import Graph

    with pytest.raises(kind, match=r"^Graph\.resolve\(\)"):
        Graph.of(child()).resolve(**options)


def test_a_bad_executor_is_refused_in_a_nested_resolve_too() -> None:
    @node
    def resolves_inside() -> int:
        return child().resolve(executor="thread")  # type: ignore[no-any-return]

    with pytest.raises(NodeError, match="unknown executor 'thread'"):
        resolves_inside().resolve()


# -- the graph of a recorded future --------------------------------------------------------


def test_the_graph_of_a_recorded_future_is_the_recording_graph() -> None:
    from tcg_core import Graph

    with Graph() as g:
        a = child()
        b = child()
    assert a.graph is g and b.graph is g
    assert len(a.graph.nodes) == 2
    unrecorded = child()
    assert unrecorded.graph is not g and len(unrecorded.graph.nodes) == 1


# -- the inline fast path is a copy of the outcome path: they must agree ------------------


@node
def source() -> int:
    return 1


@node
def lone(x: int) -> int:
    return x + 1


@node
def several(*xs: int) -> int:
    return sum(xs)


@node
def keyed(a: int, *, b: int) -> int:
    return a * b


def _record_facts(record: Any, durations: dict[Any, float]) -> tuple[Any, ...]:
    return (record.name, record.state, record.attempts, type(record.error).__name__,
            len(record.inputs), record.start is not None, record.end is not None,
            record.worker is not None, record._future is None, record._args is None,
            record._inputs is not None, durations.get(record.spec, -1.0) >= 0)


def _run_pipeline(executor: str, inline_tiny: bool, monkeypatch: pytest.MonkeyPatch
                  ) -> tuple[Any, list[tuple[Any, ...]]]:
    from tcg_core._scheduler._run import Run

    runs: list[Any] = []
    run_to_end = Run.run_to_end

    def kept(self: Any, roots: Any) -> None:
        runs.append(self)
        run_to_end(self, roots)

    with monkeypatch.context() as patch:
        patch.setattr(Run, "run_to_end", kept)
        s = source()
        out = several(lone(s), lone(lone(s)), keyed(lone(s), b=3), s)
        value = out.resolve(executor=executor, inline_tiny=inline_tiny)
    [run] = runs
    facts = [_record_facts(r, run.durations) for r in out.graph.nodes]
    return value, facts


def test_the_inline_fast_path_and_the_outcome_path_agree(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # serial runs every body inline (run_inline's written-out common case); threads
    # with inline_tiny=False hand every body to a worker (on_outcome → body_returned).
    inline = _run_pipeline("serial", True, monkeypatch)
    handed = _run_pipeline("threads", False, monkeypatch)
    assert inline == handed
    assert inline[0] == 2 + 3 + 6 + 1
    assert all(fact[1] == NodeState.DONE for fact in inline[1])


def _failing_graph() -> Any:
    return P.top(2)


def test_a_failing_body_s_exception_carries_nothing_of_tcg_and_its_time_is_kept(
        every_executor: Any) -> None:
    # tcg used to write __tcg_ran__ (and, on Dask, __tcg_key__) on the user's exception;
    # what it knows of the failure now travels beside it (``Err``).
    future = _failing_graph()
    with pytest.raises(NodeError):
        resolve(future, executor=every_executor)
    [failed] = [rec for rec in future.graph.nodes if rec.name == "boom"]
    error = failed.error
    assert type(error) is ValueError and str(error) == "bad input 2"
    assert not [name for name in vars(error) if "tcg" in name]
    assert failed.start is not None and failed.end is not None
    assert failed.start <= failed.end and failed.worker


def test_what_one_resolve_measured_does_not_change_how_the_next_runs() -> None:
    # Durations were learned on the node function, across resolves: after a few quick
    # runs, a later resolve (another test's) ran this body inline in the caller's
    # thread instead of on a worker. Each resolve now measures afresh.
    import threading

    here = threading.current_thread().name
    for _ in range(4):
        future = lone(1)
        assert future.resolve(executor="threads") == 2
        assert future.node.worker is not None and here not in future.node.worker


def test_mean_duration_is_deprecated_and_no_longer_learned() -> None:
    lone(1).resolve(executor="serial")
    with pytest.warns(DeprecationWarning, match=r"mean_duration .*cost="):
        assert lone.mean_duration is None
    with pytest.warns(DeprecationWarning, match="removed in 0.4"):
        lone.record_duration(1.0)

"""resolve(): nesting, unreturned children, recursion, ordering, executors, errors."""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from examples.pipeline import _add, add, pipeline
from tcg_core import (
    Callback,
    CycleError,
    Graph,
    NodeError,
    NodeFailures,
    RecursionDepthError,
    node,
    resolve,
)

EXECUTORS = ["serial", "threads", "processes"]


@node
def fib(n: int) -> int:
    if n < 2:
        return n
    return _add(fib(n - 1), fib(n - 2))  # type: ignore[no-any-return]


@node
def nap(label: str, seconds: float = 0.05, *after: object) -> str:
    time.sleep(seconds)
    return label


@node
def side_effect_parent() -> int:
    _add(1, 1)  # created, never returned: still runs
    return 5


@node
def boom(x: int) -> int:
    raise ValueError(f"bad input {x}")


@node
def nested_boom() -> int:
    return add(1, boom(2))  # type: ignore[no-any-return]


@node
def outer_boom() -> int:
    return nested_boom()  # type: ignore[no-any-return]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_seed_pipeline_value_and_nesting(executor: str) -> None:
    future = pipeline(10, 2, 5, 6)
    assert future.resolve(executor=executor) == -60
    graph = future.graph
    paths = sorted(r.path for r in graph.nodes)
    assert paths == ["pipeline", "pipeline › add", "pipeline › add › _add",
                     "pipeline › multiply", "pipeline › subtract"]
    assert graph.nesting_tree() == {"pipeline": ["add", "subtract", "multiply"],
                                    "add": ["_add"]}
    edges = sorted((a.name, b.name, arg) for a, b, arg in graph.edges())
    assert edges == [("add", "multiply", "a"), ("subtract", "multiply", "c")]
    assert all(r.state == "done" for r in graph.nodes)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_recursion_through_nodes(executor: str) -> None:
    assert fib(12).resolve(executor=executor) == 144


def test_unbounded_recursion_stops_with_a_clear_error() -> None:
    @node
    def forever(n: int) -> int:
        return forever(n + 1)  # type: ignore[no-any-return]

    with pytest.raises(NodeError) as info:
        forever(0).resolve(executor="serial", max_depth=20)
    assert isinstance(info.value.__cause__, RecursionDepthError)
    assert "max_depth=20" in str(info.value)
    assert "forever › forever" in str(info.value)


def test_unreturned_children_run_and_are_marked() -> None:
    future = side_effect_parent()
    assert future.resolve() == 5
    (child,) = future.node.children or []
    assert child.state == "done"
    assert child.returned is False
    assert child.parent is future.node


def test_a_body_returning_its_own_ancestor_is_a_cycle_error() -> None:
    holder: list[object] = []

    @node
    def inner() -> object:
        return holder[0]

    @node
    def outer() -> object:
        return inner()

    top = outer()
    holder.append(top)
    with pytest.raises(NodeError) as info:
        top.resolve(executor="serial")
    assert isinstance(info.value.__cause__, CycleError)


def test_graph_records_every_future_even_unconsumed() -> None:
    with Graph() as g:
        a = _add(1, 2)
        _add(a, 3)
        _add(100, 0)
    assert [f.name for f in g.futures] == ["_add"] * 3
    assert g.resolve(executor="serial") == [3, 6, 100]
    with pytest.raises(LookupError):  # names repeat: value() needs a unique name
        g.value("_add")


def test_graph_context_does_not_record_children_created_in_bodies() -> None:
    with Graph() as g:
        pipeline(1, 1, 1, 1)
        g.resolve(executor="serial")
    assert len(g.futures) == 1
    assert len(g.nodes) == 5


@node
def meet(label: str, folder: str, *after: object) -> str:
    """Check in, then wait (bounded) until two nodes have checked in: parallel runs meet,
    a serialised run times out and its intervals do not overlap."""
    import pathlib

    path = pathlib.Path(folder)
    (path / label).touch()
    deadline = time.monotonic() + 5.0
    while len(list(path.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    return label


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_independent_nodes_overlap(executor: str, tmp_path: object) -> None:
    with Graph() as g:
        root = nap("A", 0.05)
        meet("B", str(tmp_path), root)
        meet("C", str(tmp_path), root)
    g.resolve(executor=executor, max_workers=2)
    _, b, c = g.nodes
    assert b.start is not None and c.start is not None and b.end and c.end
    assert b.start < c.end and c.start < b.end, "B and C should have run at the same time"
    assert b.start >= root.node.end - 1e-3


def test_scarce_workers_run_the_longest_remaining_path_first() -> None:
    """The order the scheduler hands nodes to workers, as a callback sees it on the
    resolve's own thread: the order the bodies then start in worker threads depends on
    the OS (one worker can finish a short node and take the next before the other
    worker's thread runs), so it is not what this test asserts."""
    dispatched: list[str] = []

    class Dispatched(Callback):
        def on_start(self, record: Any) -> None:
            dispatched.append(record.label)

    @node(cost=1)
    def step(*after: object) -> None:
        return None

    with Graph() as g:
        start = step.named("start")()
        # Five nodes become ready at once for two workers. Short branches are made
        # both before and after the long one, so neither first-ready-first nor
        # last-ready-first order would start it among the first two.
        shorts = [step.named(f"short{i}")(start) for i in range(2)]
        long1 = step.named("long1")(start)
        shorts += [step.named(f"short{i}")(start) for i in range(2, 4)]
        long2 = step.named("long2")(long1)
        step.named("end")(*shorts, long2)
    g.resolve(executor="threads", max_workers=2, inline_tiny=False, callbacks=[Dispatched()])
    assert dispatched.index("long1") in (1, 2), dispatched


def test_the_first_slow_body_measured_ranks_the_rest_without_a_cost_hint() -> None:
    """Each resolve measures durations afresh, and ranking waits for the first sign
    that bodies need workers: the first body measured slow ranks every waiting node,
    so the long branch still goes before the short ones (it used to be ranked by
    durations an earlier resolve had measured)."""
    dispatched: list[str] = []

    class Dispatched(Callback):
        def on_start(self, record: Any) -> None:
            dispatched.append(record.label)

    @node
    def step(*after: object) -> None:
        time.sleep(0.002)  # well above the inline threshold: a body for a worker

    with Graph() as g:
        start = step.named("start")()
        shorts = [step.named(f"short{i}")(start) for i in range(2)]
        long1 = step.named("long1")(start)
        shorts += [step.named(f"short{i}")(start) for i in range(2, 4)]
        long2 = step.named("long2")(long1)
        step.named("end")(*shorts, long2)
    g.resolve(executor="threads", max_workers=2, callbacks=[Dispatched()])
    assert dispatched[:2] == ["start", "long1"], dispatched


def test_serial_order_is_deterministic() -> None:
    def run() -> list[str]:
        seen: list[str] = []

        @node
        def rec(label: str, *after: object) -> None:
            seen.append(label)

        with Graph() as g:
            a = rec("a")
            b = rec("b", a)
            c = rec("c", a)
            rec("d", b, c)
        g.resolve(executor="serial")
        return seen

    first = run()
    assert first == run()
    assert first[0] == "a" and first[-1] == "d" and sorted(first[1:3]) == ["b", "c"]


def test_a_parent_does_not_hold_a_worker_while_children_run() -> None:
    @node
    def leaf(x: int) -> int:
        return x

    @node
    def level(n: int) -> int:
        if n == 0:
            return leaf(1)  # type: ignore[no-any-return]
        return _add(level(n - 1), level(n - 1))  # type: ignore[no-any-return]

    assert level(5).resolve(executor="threads", max_workers=1, inline_tiny=False) == 32


def test_a_body_may_resolve_inside_its_worker_even_with_one_worker() -> None:
    @node
    def eager(x: int) -> int:
        return _add(x, 1).resolve() * 10  # type: ignore[no-any-return]

    assert eager(eager(1)).resolve(executor="threads", max_workers=1) == 210


def test_users_own_executor_is_used_and_not_shut_down() -> None:
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        names: set[str] = set()

        @node
        def where() -> str:
            names.add(threading.current_thread().name)
            return "ok"

        assert resolve(where(), where(), executor=pool, inline_tiny=False) == ("ok", "ok")
        assert pipeline(10, 2, 5, 6).resolve(executor=pool) == -60
        assert pool.submit(lambda: 1).result() == 1  # still usable
    assert all(n.startswith("ThreadPoolExecutor") for n in names)


def test_failure_names_node_path_and_cause() -> None:
    with pytest.raises(NodeError) as info:
        outer_boom().resolve(executor="serial")
    message = str(info.value)
    assert "node 'boom' failed (outer_boom › nested_boom › boom)" in message
    assert "ValueError: bad input 2" in message
    assert isinstance(info.value.__cause__, ValueError)
    assert info.value.__cause__.__traceback__ is not None


def test_keep_going_reports_every_failure_and_finishes_the_rest() -> None:
    with Graph() as g:
        bad1 = boom(1)
        bad2 = boom(2)
        ok = _add(1, 2)
        downstream = _add(bad1, 1)
    with pytest.raises(NodeFailures) as info:
        g.resolve(keep_going=True)
    assert len(info.value.errors) == 2
    assert "2 nodes failed" in str(info.value)
    assert ok.resolve() == 3
    assert downstream.state == "skipped"
    assert {bad1.state, bad2.state} == {"failed"}
    assert sorted(r.name for r in g.failed()) == ["boom", "boom"]


def test_resolving_a_failed_future_again_raises_again_without_rerunning() -> None:
    runs: list[int] = []

    @node
    def flaky() -> int:
        runs.append(1)
        raise RuntimeError("nope")

    f = flaky()
    for _ in range(2):
        with pytest.raises(NodeError, match="nope"):
            f.resolve(executor="serial")
    assert runs == [1]


def test_retries_rerun_a_failing_body() -> None:
    attempts: list[int] = []

    @node(retries=2)
    def shaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise OSError("transient")
        return "ok"

    future = shaky()
    assert future.resolve() == "ok"
    assert future.node.attempts == 3


def test_values_are_released_when_no_longer_needed() -> None:
    import gc
    import weakref

    class Big:
        pass

    refs: list[weakref.ref[Big]] = []

    @node
    def make() -> Big:
        big = Big()
        refs.append(weakref.ref(big))
        return big

    @node
    def use(b: Big) -> int:
        return 1

    total = use(make())
    assert total.resolve(executor="serial") == 1
    gc.collect()
    assert refs[0]() is None, "the intermediate value should be released"


def test_serial_runs_depth_first_so_few_values_are_alive_at_once() -> None:
    # 30 independent chains: breadth-first would hold every chain's head value at once.
    alive = [0, 0]  # now, peak

    class Value:
        def __init__(self) -> None:
            alive[0] += 1
            alive[1] = max(alive[1], alive[0])

        def __del__(self) -> None:
            alive[0] -= 1

    @node
    def start() -> Value:
        return Value()

    @node
    def step(previous: Value) -> Value:
        return Value()

    @node
    def end(previous: Value) -> int:
        return 1

    ends = []
    for _ in range(30):
        chain = start()
        for _ in range(5):
            chain = step(chain)
        ends.append(end(chain))
    assert sum(resolve(*ends, executor="serial")) == 30
    assert alive[1] <= 2, f"{alive[1]} values were alive at once"


def test_independent_roots_run_in_the_order_given_on_serial() -> None:
    seen: list[str] = []

    @node
    def mark(label: str) -> str:
        seen.append(label)
        return label

    resolve(mark("a"), mark("b"), mark("c"), executor="serial")
    assert seen == ["a", "b", "c"]


def test_resolve_leaves_objects_the_application_froze_frozen() -> None:
    import gc

    @node
    def one() -> int:
        return 1

    kept = [[]]  # a tracked object the application froze
    gc.freeze()  # as a server does before forking workers
    try:
        assert one().resolve(executor="serial") == 1
        assert gc.get_freeze_count() > 0
        assert not any(obj is kept for obj in gc.get_objects()), "it was unfrozen"
    finally:
        gc.unfreeze()
    assert one().resolve(executor="serial") == 1
    assert gc.get_freeze_count() == 0  # and what resolve froze itself, it unfroze


def test_objects_the_application_froze_before_importing_tcg_core_stay_frozen() -> None:
    import subprocess
    import sys

    code = """
import gc, sys
kept = [[]]
gc.freeze()  # before tcg_core is imported, as a server that preloads then forks
from tcg_core import node
assert node(abs)(-1).resolve(executor="serial") == 1
assert node(abs)(-2).resolve(executor="threads") == 2
assert not any(obj is kept for obj in gc.get_objects()), "resolve() unfroze it"
print("frozen", gc.get_freeze_count() > 0)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "frozen True"


def test_a_long_chain_needs_no_recursion() -> None:
    @node
    def inc(x: int) -> int:
        return x + 1

    future: object = 0
    for _ in range(50_000):
        future = inc(future)
    assert future.resolve(executor="serial") == 50_000  # type: ignore[attr-defined]


def test_record_value_is_reachable_while_the_future_lives() -> None:
    import gc

    first = _add(1, 2)
    total = _add(first, 10)
    assert total.resolve(executor="serial") == 13
    assert first.node.value == 3 and total.node.value == 13
    record = first.node
    del first
    gc.collect()
    with pytest.raises(LookupError, match="released"):
        _ = record.value


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_failed_node_records_where_and_when_it_ran(executor: str) -> None:
    future = boom(1)
    with pytest.raises(NodeError):
        future.resolve(executor=executor)
    record = future.node
    assert record.worker is not None
    assert record.start is not None and record.end is not None and record.start <= record.end

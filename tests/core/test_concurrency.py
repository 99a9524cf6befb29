"""The same futures resolved from several threads at once: every node runs once, every caller
gets the value (or the error), whichever resolve ends up running each node.
"""

from __future__ import annotations

import concurrent.futures as cf
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tcg_core import NodeError, node, resolve
from tcg_core._scheduler._run import Run as _Run
from tests.core import _nodes_for_processes as P

pytestmark = pytest.mark.timeout(60)

CALLERS = 8


def _chain(err: BaseException | None) -> list[BaseException]:
    """``err``, what it was raised from, and (for ``NodeFailures``) every listed error's."""
    seen: list[BaseException] = []
    todo = [err]
    while todo:
        err = todo.pop()
        while err is not None and err not in seen:
            seen.append(err)
            todo.extend(getattr(err, "errors", ()))
            err = err.__cause__ or err.__context__
    return seen


class Runs:
    """Counts body runs per label, safely across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def hit(self, label: str) -> None:
        with self._lock:
            self.counts[label] += 1


def _diamond_with_nesting(runs: Runs, pause: float = 0.002) -> Any:
    """a → (b, c) → n (nested: creates two children) → d, plus c → d."""

    @node
    def step(label: str, *inputs: int) -> int:
        runs.hit(label)
        time.sleep(pause)
        return 1 + sum(inputs)

    @node
    def nested(label: str, *inputs: int) -> int:
        runs.hit(label)
        left = step(label + ".left", *inputs)
        return step(label + ".right", left, 1)  # type: ignore[no-any-return]

    a = step("a")
    b = step("b", a)
    c = step("c", a)
    n = nested("n", b, c)
    return step("d", n, c)


# a=1, b=c=2, n.left=1+b+c=5, n=n.right=1+5+1=7, d=1+n+c=10
EXPECTED_D = 10


def _call_together(n: int, call: Callable[[int], Any]) -> list[Any]:
    """Run ``call(i)`` in ``n`` threads released at the same moment; values or exceptions."""
    barrier = threading.Barrier(n, timeout=20)

    def one(i: int) -> Any:
        barrier.wait()
        try:
            return call(i)
        except Exception as exc:
            return exc

    with cf.ThreadPoolExecutor(n) as callers:
        return list(callers.map(one, range(n)))


def _same_future_round(how: str) -> None:
    runs = Runs()
    final = _diamond_with_nesting(runs)

    def call(i: int) -> Any:
        if how == "mixed":
            return final.resolve(executor=("serial", "threads")[i % 2])
        if how == "threads-max1":
            return final.resolve(executor="threads", max_workers=1)
        return final.resolve(executor=how)

    values = _call_together(CALLERS, call)
    assert values == [EXPECTED_D] * CALLERS
    assert runs.counts == Counter({label: 1 for label in
                                   ["a", "b", "c", "n", "n.left", "n.right", "d"]})
    assert all(r.state == "done" for r in final.graph.nodes)


@pytest.mark.parametrize("how", ["threads", "serial", "mixed", "threads-max1"])
def test_the_same_future_from_many_threads_runs_every_node_once(how: str) -> None:
    for _ in range(15):
        _same_future_round(how)


def _overlapping_round() -> None:
    runs = Runs()

    @node
    def step(label: str, *inputs: int) -> int:
        runs.hit(label)
        time.sleep(0.001)
        return 1 + sum(inputs)

    shared = [step("s0")]
    for i in range(1, 6):
        shared.append(step(f"s{i}", shared[-1]))
    roots = [step(f"root{i}", shared[i % len(shared)], shared[-1]) for i in range(CALLERS)]
    values = _call_together(CALLERS, lambda i: roots[i].resolve())
    assert values == [1 + (i % 6 + 1) + 6 for i in range(CALLERS)]
    assert all(runs.counts[f"s{i}"] == 1 for i in range(6)), runs.counts
    assert all(runs.counts[f"root{i}"] == 1 for i in range(CALLERS))


def test_overlapping_graphs_from_many_threads_share_their_common_nodes() -> None:
    for _ in range(10):
        _overlapping_round()


def test_resolve_of_several_futures_from_several_threads_at_once() -> None:
    runs = Runs()

    @node
    def step(label: str, *inputs: int) -> int:
        runs.hit(label)
        return 1 + sum(inputs)

    layer = [step(f"l0.{i}") for i in range(6)]
    for depth in range(1, 4):
        layer = [step(f"l{depth}.{i}", layer[i], layer[(i + 1) % 6]) for i in range(6)]
    values = _call_together(CALLERS, lambda i: resolve(*layer[i % 3:], executor="threads"))
    expected = [step_value for step_value in [15] * 6]
    assert all(v == tuple(expected[i % 3:]) for i, v in enumerate(values)), values
    assert set(runs.counts.values()) == {1} and len(runs.counts) == 24


def test_a_shared_failing_future_gives_every_caller_the_error_and_runs_once() -> None:
    runs = Runs()

    @node
    def breaks() -> int:
        runs.hit("breaks")
        time.sleep(0.01)
        raise LookupError("nothing here")

    failing = P.add(breaks(), 1)
    outcomes = _call_together(CALLERS, lambda i: failing.resolve(
        executor="threads", keep_going=bool(i % 2)))
    assert all(isinstance(o, NodeError) for o in outcomes), outcomes
    for outcome in outcomes:
        # Every caller learns which node failed and can reach the original exception,
        # whether its own run ran the node or waited for another run that did.
        assert "'breaks'" in str(outcome), outcome
        assert any(isinstance(e, LookupError) and str(e) == "nothing here"
                   for e in _chain(outcome)), (outcome, _chain(outcome))
    assert runs.counts == Counter({"breaks": 1})


def test_a_failure_in_one_resolve_does_not_fail_a_concurrent_resolve_of_healthy_nodes() -> None:
    """Thread 1 resolves ``add(shared, boom)`` and fails fast; thread 2 waits for ``shared``,
    which thread 1's run started. ``shared`` never fails: thread 2 must get its value, and
    ``shared`` must still run only once."""
    runs = Runs()
    running = threading.Event()

    @node
    def shared_slow() -> int:
        runs.hit("shared")
        running.set()
        time.sleep(0.5)
        return 7

    @node
    def fails_later(x: int) -> int:
        running.wait(10)
        time.sleep(0.1)  # thread 2 is waiting on shared by now
        raise RuntimeError("unrelated failure")

    shared = shared_slow()
    doomed = P.add(shared, fails_later(1))
    healthy = P.identity(shared)
    results: dict[str, Any] = {}

    def first() -> None:
        try:
            doomed.resolve(executor="threads", inline_tiny=False)
        except NodeError as exc:
            results["first"] = exc

    def second() -> None:
        running.wait(10)
        try:
            results["second"] = healthy.resolve(executor="threads")
        except NodeError as exc:
            results["second"] = exc

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert "unrelated failure" in str(results["first"])
    assert results["second"] == 7, results["second"]
    assert runs.counts["shared"] == 1


def test_a_graph_object_resolved_from_many_threads() -> None:
    runs = Runs()

    @node
    def step(label: str, *inputs: int) -> int:
        runs.hit(label)
        return 1 + sum(inputs)

    from tcg_core import Graph

    with Graph() as g:
        a = step("a")
        step("b", a)
        step("c", a)
    values = _call_together(CALLERS, lambda i: g.resolve())
    assert values == [[1, 2, 2]] * CALLERS
    assert runs.counts == Counter({"a": 1, "b": 1, "c": 1})


def test_a_body_resolving_a_future_another_thread_is_running_gets_it_or_a_clear_error() -> None:
    """Thread 1 runs ``shared``; a node body in thread 2 calls ``shared.resolve()``. Waiting
    could deadlock a shared pool, so refusing is allowed, but it must be quick and say
    which node and what to do; thread 1 still gets its value and ``shared`` runs once."""
    runs = Runs()

    @node
    def shared_slow() -> str:
        runs.hit("shared")
        time.sleep(0.5)
        return "S"

    shared = shared_slow()

    @node
    def peeks() -> str:
        return shared.resolve() + "!"  # type: ignore[no-any-return]

    results: dict[str, Any] = {}
    first = threading.Thread(target=lambda: results.update(first=shared.resolve()))
    first.start()
    while shared.state == "pending":
        time.sleep(0.005)
    try:
        results["second"] = peeks().resolve(executor="threads")
    except NodeError as exc:
        results["second"] = exc
    first.join(60)
    assert not first.is_alive(), "the first resolve never finished"
    assert results["first"] == "S"
    second = results["second"]
    if isinstance(second, NodeError):
        assert "'shared_slow'" in str(second), second
        assert "Return the future from the body instead" in str(second), second
    else:
        assert second == "S!"
    assert runs.counts == Counter({"shared": 1})



def test_a_node_finishing_while_another_resolve_starts_to_watch_it_is_not_missed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Finishing takes no lock. Force the worst interleaving: resolve B sees the node
    # owned by resolve A, then A finishes it (nobody is watching yet), then B
    # registers as a watcher. B must still hear of it instead of waiting forever.
    class SlowToRegister(dict):  # type: ignore[type-arg]
        def setdefault(self, key: Any, default: Any = None) -> Any:
            time.sleep(0.3)  # A finishes the node meanwhile
            return super().setdefault(key, default)

    original = _Run.__post_init__

    def post_init(run: _Run) -> None:
        original(run)
        run.external = SlowToRegister()

    monkeypatch.setattr(_Run, "__post_init__", post_init)

    @node
    def produce() -> int:
        time.sleep(0.1)
        return 1

    @node
    def use(x: int) -> int:
        return x + 1

    shared = produce()
    first, second = use(shared), use(shared)
    results: dict[str, Any] = {}
    a = threading.Thread(target=lambda: results.update(a=first.resolve(executor="serial")))
    b = threading.Thread(target=lambda: results.update(b=second.resolve(executor="serial")))
    a.start()
    time.sleep(0.03)  # A owns and runs produce() when B claims
    b.start()
    a.join(10)
    b.join(10)
    assert not b.is_alive(), "the second resolve never heard that its input finished"
    assert results == {"a": 2, "b": 2}


def _racing_tiny_round(seed: int) -> None:
    """Tiny nodes finish while other threads' resolves are claiming them or starting to
    watch them: the window a finish without a lock must still close."""
    runs = Runs()

    @node
    def tiny(label: str, *inputs: int) -> int:
        runs.hit(label)
        return 1 + sum(inputs)

    rng = random.Random(seed)
    futures = [tiny("n0")]
    for i in range(1, 40):
        futures.append(tiny(f"n{i}", *rng.sample(futures, rng.randint(1, min(3, i)))))
    picks = [rng.sample(futures, 4) for _ in range(4)]
    executors = ["serial", "threads", "serial", "threads"]
    values = _call_together(4, lambda i: resolve(*picks[i], executor=executors[i]))
    expected = [tuple(f.resolve() for f in pick) for pick in picks]
    assert values == expected
    assert set(runs.counts.values()) == {1}, runs.counts  # nothing ran twice
    assert len(runs.counts) == sum(f.state == "done" for f in futures)  # nothing was lost


def test_tiny_nodes_finishing_while_other_resolves_claim_them_run_once() -> None:
    for seed in range(100):
        _racing_tiny_round(seed)

"""Soak: thousands of random graphs resolved from several threads at once, for a bounded time.

No deadlock (every thread finishes), every value and error right, no node run twice, and
afterwards no thread or process left behind by tcg (a short grace period lets daemon
threads and terminated workers go).
"""

from __future__ import annotations

import concurrent.futures as cf
import faulthandler
import multiprocessing
import random
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tcg_core import NodeError, NodeFailures, node, resolve
from tests.core import _nodes_for_processes as P

SOAK_SECONDS = 12.0
THREADS = 4

pytestmark = pytest.mark.timeout(SOAK_SECONDS + 90)


class Ledger:
    """Body runs per node label, across every thread of the soak."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: Counter[str] = Counter()

    def hit(self, label: str) -> None:
        with self.lock:
            self.runs[label] += 1


LEDGER = Ledger()


@node
def soak_step(label: str, fail: bool, *inputs: int) -> int:
    LEDGER.hit(label)
    if fail:
        raise KeyError(label)
    return 1 + sum(inputs)


@node
def soak_nested(label: str, fail: bool, *inputs: int) -> int:
    LEDGER.hit(label)
    return soak_step(label + "/child", fail, *inputs)  # type: ignore[no-any-return]


def build(rng: random.Random, prefix: str, failures: bool) -> tuple[list[Any], list[Any]]:
    """A random DAG; returns (futures, expected value or None when it cannot complete)."""
    size = rng.randint(1, 12)
    futures: list[Any] = []
    expected: list[Any] = []
    for i in range(size):
        inputs = rng.sample(range(i), k=min(i, rng.randint(0, 3)))
        fail = failures and rng.random() < 0.1
        make = soak_nested if rng.random() < 0.3 else soak_step
        futures.append(make(f"{prefix}.{i}", fail, *[futures[j] for j in inputs]))
        upstream = [expected[j] for j in inputs]
        ok = not fail and all(v is not None for v in upstream)
        expected.append(1 + sum(upstream) if ok else None)
    return futures, expected


def soak(worker: int, deadline: float, pools: dict[str, Any], published: list[Any],
         errors: list[BaseException], done: Counter[str], log_root: Path) -> None:
    rng = random.Random(worker)
    graph_no = 0
    try:
        while time.monotonic() < deadline and not errors:
            graph_no += 1
            prefix = f"w{worker}g{graph_no}"
            roll = rng.random()
            if roll < 0.02:  # now and then, real worker processes
                log = log_root / prefix
                log.mkdir()
                f = P.dag_node(str(log), "n1", False, True, P.dag_node(str(log), "n0", False,
                                                                       False))
                executor = pools["user-processes"] if rng.random() < 0.7 else "processes"
                assert f.resolve(executor=executor) == 1  # n1 = 1 + n0 = 1 + 0
                assert set(P.runs(str(log)).values()) == {1}
                done["processes"] += 1
                continue
            if roll < 0.25 and published:  # resolve another thread's graph, maybe mid-run
                future, value = rng.choice(published)
                assert future.resolve(executor=rng.choice(["threads", "serial"])) == value
                done["shared"] += 1
                continue
            share = roll < 0.45
            futures, expected = build(rng, prefix, failures=not share)
            if share:
                published.extend(zip(futures, expected, strict=True))
            executor = rng.choice(["serial", "threads", "threads-1", "user-threads"])
            options: dict[str, Any] = {"keep_going": rng.random() < 0.5}
            if executor == "threads-1":
                executor, options["max_workers"] = "threads", 1
            elif executor == "user-threads":
                executor = pools["user-threads"]
            try:
                got = resolve(*futures, executor=executor, **options)
            except NodeFailures as exc:
                assert options["keep_going"]
                assert None in expected
                for err in exc.errors:
                    assert isinstance(err.__cause__, KeyError), err
                for f, value in zip(futures, expected, strict=True):
                    if value is not None:
                        assert f.resolve() == value
            except NodeError as exc:
                assert not options["keep_going"] and None in expected, exc
                assert isinstance(exc.__cause__, KeyError), exc
            else:
                assert list(got) == expected
            done["graphs"] += 1
    except BaseException as exc:
        errors.append(exc)


def _stray_threads(before: set[int]) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]


def test_soak_many_random_graphs_from_several_threads(tmp_path: Path) -> None:
    # Start what legitimately lives on (the forkserver) before counting.
    assert P.add(1, 1).resolve(executor="processes", max_workers=1) == 2
    threads_before = {t.ident for t in threading.enumerate() if t.ident is not None}
    children_before = P.child_pids()

    errors: list[BaseException] = []
    done: Counter[str] = Counter()
    published: list[Any] = []
    context = multiprocessing.get_context("forkserver")
    with cf.ThreadPoolExecutor(4) as user_threads, \
            cf.ProcessPoolExecutor(2, mp_context=context) as user_processes:
        pools = {"user-threads": user_threads, "user-processes": user_processes}
        deadline = time.monotonic() + SOAK_SECONDS
        workers = [threading.Thread(target=soak, name=f"soak-{i}",
                                    args=(i, deadline, pools, published, errors, done, tmp_path))
                   for i in range(THREADS)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=max(1.0, deadline - time.monotonic()) + 30)
        hung = [w.name for w in workers if w.is_alive()]
        if hung:
            faulthandler.dump_traceback(file=sys.stderr)
            pytest.fail(f"deadlock: {hung} still resolving 30 s after the soak ended")
    if errors:
        raise errors[0]

    assert done["graphs"] >= 1000, done
    assert done["shared"] > 0 and done["processes"] > 0, done
    twice = {label: n for label, n in LEDGER.runs.items() if n > 1}
    assert not twice, f"nodes that ran twice: {list(twice.items())[:10]}"

    assert P.wait_until(lambda: not _stray_threads(threads_before), 30.0), \
        [t.name for t in _stray_threads(threads_before)]
    assert P.wait_until(lambda: P.child_pids() <= children_before, 30.0), \
        P.child_pids() - children_before

"""The result cache across runs: hits on every executor and in a new process, misses on
an edited body or another cache_key, corrupt entries recomputed, concurrent writers,
and cached nodes marked in the graph model and every export."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tcg_core import (
    CacheWarning,
    Callback,
    cache_dir,
    load_json,
    node,
    resolve,
    to_chrome_trace,
    to_dot,
    to_json,
    to_mermaid,
)
from tests.core import _nodes_for_cache as C

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    folder = tmp_path / "runs"
    folder.mkdir()
    return folder


class Hits(Callback):
    def __init__(self) -> None:
        self.hits: list[str] = []
        self.started: list[str] = []

    def on_cache_hit(self, record: Any) -> None:
        self.hits.append(record.name)

    def on_start(self, record: Any) -> None:
        self.started.append(record.name)


def test_the_cache_folder_follows_tcg_cache_dir(cache: Path) -> None:
    assert cache_dir() == cache


@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_a_second_identical_call_reads_the_stored_value(cache: Path, runs: Path,
                                                        executor: str) -> None:
    first = C.square(str(runs), 7)
    assert first.resolve(executor) == 49
    assert not first.node.cached
    hits = Hits()
    again = C.square(str(runs), 7)
    assert again.resolve(executor, callbacks=[hits]) == 49
    assert again.node.cached and again.node.state == "done"
    assert hits.hits == ["square"] and hits.started == []
    assert C.runs_of(runs, "square") == 1
    assert C.square(str(runs), 8).resolve(executor) == 64  # other arguments: a miss
    assert C.runs_of(runs, "square") == 2


def test_a_cached_parent_does_not_create_its_children_again(cache: Path, runs: Path) -> None:
    assert C.parent(str(runs), 3).resolve("threads") == [0, 1, 4]
    again = C.parent(str(runs), 3)
    assert again.resolve("threads") == [0, 1, 4]
    assert again.node.cached and again.node.children is None
    assert (C.runs_of(runs, "parent"), C.runs_of(runs, "square")) == (1, 3)


def test_a_rerun_in_a_new_process_hits_the_cache(cache: Path, runs: Path) -> None:
    code = ("import sys\nfrom tests.core import _nodes_for_cache as C\n"
            "f = C.square(sys.argv[1], 12)\nassert f.resolve('processes') == 144\n"
            "print(f.node.cached)\n")
    env = {**os.environ, "TCG_CACHE_DIR": str(cache)}
    outs = [subprocess.run([sys.executable, "-c", code, str(runs)], cwd=ROOT, env=env,
                           check=True, capture_output=True, text=True, timeout=60).stdout
            for _ in range(2)]
    assert [o.strip() for o in outs] == ["False", "True"]
    assert C.runs_of(runs, "square") == 1


def _compiled(source: str, cache_key: Any = None) -> Any:
    namespace: dict[str, Any] = {"__name__": "edited_module"}
    exec(compile(source, "<edited>", "exec"), namespace)
    return node(cache=True, cache_key=cache_key)(namespace["f"])


def test_an_edited_body_misses_and_the_same_body_hits(cache: Path) -> None:
    before = _compiled("def f(x):\n    return x + 1\n")
    assert before(1).resolve("serial") == 2
    same = _compiled("def f(x):\n    return x + 1\n")
    assert same(1).resolve("serial") == 2 and same(1).node.cached is False  # not resolved
    hit = same(1)
    hit.resolve("serial")
    assert hit.node.cached
    edited = _compiled("def f(x):\n    return x + 2\n")
    miss = edited(1)
    assert miss.resolve("serial") == 3 and not miss.node.cached


def test_a_new_cache_key_misses(cache: Path) -> None:
    v1 = _compiled("def f(x):\n    return [x]\n", cache_key="v1")
    assert v1(1).resolve("serial") == [1]
    v2 = _compiled("def f(x):\n    return [x]\n", cache_key="v2")
    fresh = v2(1)
    fresh.resolve("serial")
    assert not fresh.node.cached


def test_closure_values_are_part_of_the_key(cache: Path) -> None:
    def make(offset: int) -> Any:
        def f(x: int) -> int:
            return x + offset
        f.__module__, f.__qualname__ = "closures", "f"
        return node(cache=True)(f)

    assert make(1)(1).resolve("serial") == 2
    assert make(5)(1).resolve("serial") == 6


def test_a_corrupt_entry_is_recomputed_and_rewritten(cache: Path, runs: Path) -> None:
    assert C.square(str(runs), 3).resolve("serial") == 9
    entries = [p for p in cache.rglob("*.pickle")]
    assert len(entries) == 1
    for garbage in (b"", b"tcg-cache-1\x80\x05not a pickle", b"something else entirely"):
        entries[0].write_bytes(garbage)
        redo = C.square(str(runs), 3)
        assert redo.resolve("serial") == 9 and not redo.node.cached
    hit = C.square(str(runs), 3)
    assert hit.resolve("serial") == 9 and hit.node.cached  # rewritten by the recompute
    assert C.runs_of(runs, "square") == 4


def test_concurrent_writers_leave_one_readable_entry(cache: Path, runs: Path) -> None:
    """Threads resolving at once here, and two processes at once: every resolve gets
    the right value and the entry left behind is complete (atomic rename)."""
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def one() -> None:
        barrier.wait()
        results.append(C.square(str(runs), 21).resolve("serial"))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    code = ("import sys\nfrom tests.core import _nodes_for_cache as C\n"
            "assert C.square(sys.argv[1], 22).resolve('threads') == 484\n")
    env = {**os.environ, "TCG_CACHE_DIR": str(cache)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(runs)], cwd=ROOT, env=env)
             for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    assert results == [441] * 4
    assert not [p for p in cache.rglob(".tmp-*")]  # no half-written files left
    assert len(list(cache.rglob("*.pickle"))) == 2
    for x in (21, 22):
        hit = C.square(str(runs), x)
        assert hit.resolve("serial") == x * x and hit.node.cached


def test_unhashable_arguments_warn_and_run_without_the_cache(cache: Path) -> None:
    @node(cache=True)
    def uses(lock: Any) -> int:
        return 1

    with pytest.warns(CacheWarning, match=r"node 'uses' \(uses\) is not cached"):
        assert uses(threading.Lock()).resolve("serial") == 1
    assert not list(cache.rglob("*.pickle"))


def test_a_value_that_does_not_pickle_is_warned_of_and_not_stored(cache: Path) -> None:
    @node(cache=True)
    def makes_lock(x: int) -> Any:
        return threading.Lock()

    with pytest.warns(CacheWarning, match=r"value of node 'makes_lock'.*not stored"):
        makes_lock(1).resolve("serial")


CALLS: list[str] = []  # a global, not a closure value: closures are part of the key


def test_resolve_cache_true_caches_every_node_that_does_not_opt_out(cache: Path) -> None:
    calls = CALLS
    calls.clear()

    @node
    def plain(x: int) -> int:
        CALLS.append("plain")
        return x

    @node(cache=False)
    def never(x: int) -> int:
        CALLS.append("never")
        return x

    for _ in range(2):
        assert resolve(plain(1), never(2), executor="serial", cache=True) == (1, 2)
    assert calls == ["plain", "never", "never"]
    plain(1).resolve("serial")  # without cache=True the cache is not consulted
    assert calls.count("plain") == 2


def test_cached_nodes_are_marked_in_json_diagrams_and_traces(cache: Path, runs: Path) -> None:
    C.square(str(runs), 4).resolve("serial")
    hit = C.inc(C.square(str(runs), 4))
    hit.resolve("serial")
    graph = hit.graph
    doc = json.loads(to_json(graph))
    cached = {n["name"]: n.get("cached", False) for n in doc["nodes"]}
    assert cached == {"square": True, "inc": False}
    assert [r.cached for r in load_json(to_json(graph)).nodes] == [True, False]
    dot = to_dot(graph)
    assert "(cached)" in dot and 'peripheries="2"' in dot
    mermaid = to_mermaid(graph)
    assert "classDef cached" in mermaid and "class n1 cached" in mermaid
    assert "classDef cached" not in to_mermaid(C.inc(1).graph)
    events = [e for e in json.loads(to_chrome_trace(graph))["traceEvents"] if e["ph"] == "X"]
    assert {e["name"]: e["args"].get("cached", False) for e in events} == {
        "square": True, "inc": False}


def test_the_cache_works_on_dask(cache: Path, runs: Path) -> None:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                       dashboard_address="127.0.0.1:0", host="127.0.0.1",
                                       protocol="tcp", silence_logs=logging.CRITICAL)
    try:
        with distributed.Client(cluster, set_as_default=False) as client:
            assert C.square(str(runs), 9).resolve(client) == 81
            again = C.square(str(runs), 9)
            assert again.resolve(client) == 81 and again.node.cached
    finally:
        cluster.close()
    assert C.runs_of(runs, "square") == 1


def test_a_replaced_cached_node_runs_its_double_and_stores_nothing(cache: Path,
                                                                   runs: Path) -> None:
    from tcg_core import override

    assert C.square(str(runs), 5).resolve("serial") == 25  # stored
    with override({C.square: lambda r, x: -1}):
        assert C.square(str(runs), 5).resolve("serial") == -1  # the double, not the cache
        assert C.square(str(runs), 6).resolve("serial") == -1
    fresh = C.square(str(runs), 6)
    assert fresh.resolve("serial") == 36 and not fresh.node.cached  # the fake was not kept

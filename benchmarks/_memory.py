"""Memory: bytes per pending node, and values released once their consumers are done.

Every measurement runs in a fresh child process (``python -m benchmarks._memory``):

* ``pending``: RSS before and after building a random graph (≤ 3 inputs per node), after
  a collection, divided by the node count. The spec (plain tuples) exists before the
  first reading, so only the engine's objects are counted.
* ``release``: a chain of nodes each returning a fresh 1 MB ``bytes``; the tracemalloc
  peak and the RSS growth during resolve. Flat means values are released as soon as
  their last consumer finished.
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from typing import Any

from . import _shapes
from ._common import (
    Check,
    Options,
    ScenarioResult,
    Table,
    child_main,
    dask_available,
    dask_module,
    fmt,
    log,
    peak_rss_bytes,
    reset_peak_rss,
    rss_bytes,
    run_child,
)

NAME = "memory"

PENDING_N, PENDING_FULL_N = 200_000, 1_000_000
DASK_PENDING_N, DASK_PENDING_FULL_N = 10_000, 30_000
RELEASE_N, VALUE_BYTES = 200, 1 << 20
PENDING_TARGET = 500  # bytes per pending node
RELEASE_TARGET_MB = 8.0  # "a few MB"


def _noop(*inputs: Any) -> int:
    return 0


def _grow(*inputs: Any) -> bytes:
    # Filled, not calloc'ed: untouched zero pages would never show in RSS.
    return b"\x01" * VALUE_BYTES


# -- children --------------------------------------------------------------------------
def _build(engine: str, spec: _shapes.Spec) -> list[Any]:
    if engine == "tcg":
        import tcg_core

        return _shapes.drive(spec, tcg_core.node(name="noop")(_noop))
    if engine == "dask":
        dask = dask_module()

        return _shapes.drive(spec, dask.delayed(_noop))
    if engine == "lazy":
        return _shapes.drive(spec, _shapes.lazy(_noop))
    raise ValueError(engine)


def _record_sizes(future: Any) -> dict[str, int]:
    """``sys.getsizeof`` of the objects one pending tcg node owns (GC headers included).

    Its input records are listed when a run claims it (or a reader asks), its argument
    labels are shared by every call with as many arguments, and a lone future argument
    is kept as itself: none of those is counted.
    """
    rec = future._record
    parts = {"Future": future, "NodeRecord": rec}
    if isinstance(rec._args, tuple):
        parts["args tuple"] = rec._args
    return {name: sys.getsizeof(obj) for name, obj in parts.items()}


def pending_child(task: dict[str, Any]) -> dict[str, Any]:
    spec = _shapes.make("random", task["n"])
    sink_idx = _shapes.sinks(spec)
    import_engine = {"tcg": "tcg_core", "dask": "dask", "lazy": "json"}[task["engine"]]
    __import__(import_engine)
    gc.collect()
    before = rss_bytes()
    started = time.perf_counter()
    out = _build(task["engine"], spec)
    built = time.perf_counter() - started
    middle = out[len(out) // 2]
    roots = [out[i] for i in sink_idx]
    del out
    gc.collect()
    after = rss_bytes()
    result: dict[str, Any] = {"n": task["n"], "engine": task["engine"], "build_s": built,
                              "rss_before": before, "rss_after": after,
                              "bytes_per_node": (after - before) / task["n"]}
    if task["engine"] == "tcg":
        result["object_sizes"] = _record_sizes(middle)
        if task.get("resolve"):
            import tcg_core

            reset_peak_rss()
            started = time.perf_counter()
            tcg_core.resolve(*roots, executor="serial")
            result["resolve_s"] = time.perf_counter() - started
            result["peak_rss"] = peak_rss_bytes()
    return result


def _release_chain(engine: str) -> tuple[Any, Any]:
    """Build the chain; return (thing to run, engine handle)."""
    if engine.startswith("tcg"):
        import tcg_core

        grow = tcg_core.node(name="grow")(_grow)
        if engine == "tcg-graph":
            with tcg_core.Graph() as graph:
                value = grow()
                for _ in range(RELEASE_N - 1):
                    value = grow(value)
            return graph, tcg_core
        value = grow()
        for _ in range(RELEASE_N - 1):
            value = grow(value)
        return value, tcg_core
    if engine.startswith("dask"):
        dask = dask_module()

        step = dask.delayed(_grow)
        value = step()
        for _ in range(RELEASE_N - 1):
            value = step(value)
        return value, dask
    return None, None


def _release_run(engine: str, target: Any, module: Any) -> None:
    if engine == "python":
        value = _grow()
        for _ in range(RELEASE_N - 1):
            value = _grow(value)
    elif engine == "tcg-graph":
        target.resolve(executor="serial")
    elif engine.startswith("tcg"):
        target.resolve(executor=engine.split("-", 1)[1])
    else:
        module.compute(target, scheduler=engine.split("-", 1)[1])


def release_child(task: dict[str, Any]) -> dict[str, Any]:
    engine = task["engine"]
    target, module = _release_chain(engine)
    gc.collect()
    before = rss_bytes()
    reset_peak_rss()
    tracemalloc.start()
    started = time.perf_counter()
    _release_run(engine, target, module)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"engine": engine, "n": RELEASE_N, "value_bytes": VALUE_BYTES, "seconds": elapsed,
            "tracemalloc_peak": peak, "rss_growth": peak_rss_bytes() - before}


# -- the parent ------------------------------------------------------------------------
def _pending(options: Options) -> tuple[Table, list[Check], list[dict[str, Any]]]:
    n = PENDING_FULL_N if options.full else PENDING_N
    tasks = [{"kind": "pending", "engine": "tcg", "n": n, "resolve": True},
             {"kind": "pending", "engine": "lazy", "n": n}]
    if dask_available(options):
        dn = DASK_PENDING_FULL_N if options.full else DASK_PENDING_N
        tasks.append({"kind": "pending", "engine": "dask", "n": dn})
    rows, results = [], []
    for task in tasks:
        log(options, f"memory: pending {task['engine']} n={task['n']:,}")
        res = run_child("_memory", task)
        results.append(res)
        rows.append([task["engine"], f"{task['n']:,}",
                     res.get("error") or fmt(res["bytes_per_node"], 0),
                     fmt(res.get("build_s"), 2),
                     fmt(res["peak_rss"] / 2**20, 0) if "peak_rss" in res else "-"])
    table = Table("Memory per pending node (random graph, RSS delta after build / N)",
                  ["engine", "N", "bytes/node", "build s", "peak RSS MB (resolved)"], rows)
    tcg = results[0]
    checks = []
    if "bytes_per_node" in tcg:
        sizes = tcg.get("object_sizes", {})
        table.notes.append("tcg objects per node (sys.getsizeof): " + ", ".join(
            f"{k} {v}" for k, v in sizes.items()) + f"; sum {sum(sizes.values())} B")
        checks.append(Check(f"≤ {PENDING_TARGET} bytes per pending node (N={n:,})",
                            f"{tcg['bytes_per_node']:.0f} B", tcg["bytes_per_node"]
                            <= PENDING_TARGET))
    if len(results) > 2 and "bytes_per_node" in results[2] and "bytes_per_node" in tcg:
        table.notes.append(f"dask/tcg bytes per node: "
                           f"{results[2]['bytes_per_node'] / tcg['bytes_per_node']:.1f}× "
                           "(dask measured at a smaller N: its build is super-linear)")
    return table, checks, results


def _release(options: Options) -> tuple[Table, list[Check], list[dict[str, Any]]]:
    engines = ["python", "tcg-serial", "tcg-threads", "tcg-graph"]
    if dask_available(options):
        engines += ["dask-sync", "dask-threads"]
    rows, results, checks = [], [], []
    for engine in engines:
        log(options, f"memory: release {engine}")
        res = run_child("_memory", {"kind": "release", "engine": engine})
        results.append(res)
        if "error" in res:
            rows.append([engine, res["error"], "", ""])
            continue
        peak_mb = res["tracemalloc_peak"] / 2**20
        rows.append([engine, fmt(peak_mb, 1), fmt(res["rss_growth"] / 2**20, 1),
                     fmt(res["seconds"] * 1e3, 1)])
        if engine in ("tcg-serial", "tcg-threads"):
            checks.append(Check(f"chain of {RELEASE_N} × 1 MB stays flat ({engine})",
                                f"peak {peak_mb:.1f} MB", peak_mb <= RELEASE_TARGET_MB))
    table = Table(f"Release: chain of {RELEASE_N} nodes each returning a fresh 1 MB bytes",
                  ["engine", "tracemalloc peak MB", "RSS growth MB", "resolve ms"], rows)
    table.notes.append("tcg-graph: the chain built inside `with Graph()`, which records (and so "
                       "keeps) every future and its value: expected to hold them all.")
    return table, checks, results


def run(options: Options) -> ScenarioResult:
    pending_table, pending_checks, pending = _pending(options)
    release_table, release_checks, release = _release(options)
    return ScenarioResult(NAME, {"pending": pending, "release": release},
                          [pending_table, release_table], pending_checks + release_checks)


if __name__ == "__main__":
    child_main({"pending": pending_child, "release": release_child})

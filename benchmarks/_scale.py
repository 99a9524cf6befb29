"""Scale (``--full`` only): a 1,000,000-node chain and random DAG, built and resolved.

Each run is a fresh child process, so its peak RSS is its own.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from . import _shapes
from ._common import (
    Check,
    Options,
    ScenarioResult,
    Table,
    child_main,
    fmt,
    log,
    peak_rss_bytes,
    rss_bytes,
    run_child,
)

NAME = "scale"
SIZE = 1_000_000
CASES = (("chain", "serial"), ("random", "serial"), ("chain", "threads"), ("random", "threads"))


def _noop(*inputs: Any) -> int:
    return 0


def scale_child(task: dict[str, Any]) -> dict[str, Any]:
    import tcg_core

    spec = _shapes.make(task["shape"], task["n"])
    sink_idx = _shapes.sinks(spec)
    func = tcg_core.node(name="noop")(_noop)
    func().resolve(executor="serial")  # measured once, as any warm function would be
    gc.collect()
    before = rss_bytes()
    started = time.perf_counter()
    out = _shapes.drive(spec, func)
    built = time.perf_counter()
    roots = [out[i] for i in sink_idx]
    del out
    after_build = rss_bytes()
    resolving = time.perf_counter()
    tcg_core.resolve(*roots, executor=task["executor"])
    done = time.perf_counter()
    return {**task, "build_s": built - started, "resolve_s": done - resolving,
            "rss_before": before, "rss_after_build": after_build, "peak_rss": peak_rss_bytes()}


def run(options: Options) -> ScenarioResult:
    table = Table(f"Scale: {SIZE:,}-node graphs, tcg (fresh process each)",
                  ["graph", "executor", "build s", "resolve s", "µs/node", "graph MB",
                   "peak RSS MB"], [])
    if not options.full:
        table.notes.append("skipped: run with --full")
        return ScenarioResult(NAME, {"skipped": True}, [table],
                              [Check("1M-node chain and random DAG build and resolve",
                                     "not run (needs --full)", None)])
    results, checks = [], []
    for shape, executor in CASES:
        log(options, f"scale: {shape} {executor} n={SIZE:,}")
        res = run_child("_scale", {"kind": "scale", "shape": shape, "executor": executor,
                                   "n": SIZE}, timeout=1800)
        results.append(res)
        if "error" in res:
            table.rows.append([shape, executor, res["error"], "", "", "", ""])
            checks.append(Check(f"1M {shape} ({executor}) builds and resolves", res["error"],
                                False))
            continue
        total = res["build_s"] + res["resolve_s"]
        table.rows.append([shape, executor, fmt(res["build_s"]), fmt(res["resolve_s"]),
                           fmt(total / SIZE * 1e6),
                           fmt((res["rss_after_build"] - res["rss_before"]) / 2**20, 0),
                           fmt(res["peak_rss"] / 2**20, 0)])
        checks.append(Check(f"1M {shape} ({executor}) builds and resolves",
                            f"{total:.1f} s, peak {res['peak_rss'] / 2**20:.0f} MB", True))
    table.notes.append("graph MB = RSS after build minus before (the spec is built first and "
                       "not counted); peak RSS includes the spec (plain tuples).")
    return ScenarioResult(NAME, {"runs": results}, [table], checks)


if __name__ == "__main__":
    child_main({"scale": scale_child})

"""Makespan: how close real runs of sleeping DAGs get to what the DAG allows.

* The seed's A..G DAG (every node sleeps 1 s, critical path A→C→E→G = 4 s): tcg threads
  vs dask threads.
* A random DAG of 200 nodes sleeping 10 ms (critical path 21 nodes) on 4, 16 and 64
  workers: tcg's wall time vs the list schedule ``tcg_core.simulate`` gives the same
  recorded graph with the durations measured in that run, and vs dask.
* Scarce workers: critical-path-first vs FIFO, simulated on the recorded graphs and
  run for real (tcg's scheduler vs a FIFO dependency scheduler on a thread pool).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future as PoolFuture
from concurrent.futures import ThreadPoolExecutor
from queue import SimpleQueue
from typing import Any

from . import _shapes
from ._common import (
    Check,
    Options,
    ScenarioResult,
    Table,
    dask_available,
    dask_module,
    fmt,
    log,
    median,
)

NAME = "makespan"

SEED_DELAY = 1.0
SEED_DAG: dict[str, tuple[str, ...]] = {
    "A": (), "B": ("A",), "C": ("A",), "D": ("A",), "E": ("C", "D"), "F": ("B",),
    "G": ("F", "C", "E"),
}
RANDOM_NODES, RANDOM_DEPTH, SLEEP = 200, 21, 0.010
WORKERS = (4, 16, 64)
SCARCE_WORKERS = (2, 4)
#: The trap for FIFO: independent nodes are created (and ready) before a long chain.
TRAP_INDEPENDENT, TRAP_CHAIN = 40, 20


def _sleeper(delay: float) -> Callable[..., int]:
    def work(*inputs: Any) -> int:
        time.sleep(delay)
        return len(inputs)

    return work


# -- the seed demo ---------------------------------------------------------------------
def _seed_tcg(delay: float) -> dict[str, float]:
    import tcg_core

    funcs = {name: tcg_core.node(name=name)(_sleeper(delay)) for name in SEED_DAG}
    with tcg_core.Graph() as graph:
        made: dict[str, Any] = {}
        for name, inputs in SEED_DAG.items():
            made[name] = funcs[name](*[made[i] for i in inputs])
    started = time.perf_counter()
    made["G"].resolve(executor="threads")
    wall = time.perf_counter() - started
    simulated = tcg_core.simulate(graph, workers=len(SEED_DAG)).makespan
    return {"wall": wall, "recorded": graph.makespan(), "simulated": simulated,
            "critical_path": graph.critical_path_length()}


def _seed_dask(delay: float) -> dict[str, float]:
    dask = dask_module()

    made: dict[str, Any] = {}
    for name, inputs in SEED_DAG.items():
        made[name] = dask.delayed(_sleeper(delay), name=name)(*[made[i] for i in inputs])
    started = time.perf_counter()
    dask.compute(made["G"], scheduler="threads", num_workers=len(SEED_DAG))
    return {"wall": time.perf_counter() - started}


# -- random sleeping DAGs --------------------------------------------------------------
def _tcg_random(spec: _shapes.Spec, workers: int, delay: float) -> tuple[dict[str, float], Any]:
    import tcg_core

    work = tcg_core.node(name="work")(_sleeper(delay))
    with tcg_core.Graph() as graph:
        _shapes.drive(spec, work)
    started = time.perf_counter()
    graph.resolve(executor="threads", max_workers=workers)
    wall = time.perf_counter() - started
    sims = {policy: tcg_core.simulate(graph, workers, policy=policy).makespan
            for policy in ("critical-path", "fifo")}
    return {"wall": wall, "recorded": graph.makespan(), "sim_cp": sims["critical-path"],
            "sim_fifo": sims["fifo"]}, graph


def _dask_random(spec: _shapes.Spec, workers: int, delay: float) -> float:
    dask = dask_module()

    call = dask.delayed(_sleeper(delay))
    out = _shapes.drive(spec, call)
    roots = [out[i] for i in _shapes.sinks(spec)]
    started = time.perf_counter()
    dask.compute(*roots, scheduler="threads", num_workers=workers)
    return time.perf_counter() - started


def fifo_run(spec: _shapes.Spec, func: Callable[..., Any], workers: int) -> float:
    """Run ``spec`` on a thread pool, first-ready-first-run; return the wall time.

    The reference for FIFO order: a node is submitted as soon as its inputs are done
    and a worker is free, in the order nodes became ready.
    """
    consumers: list[list[int]] = [[] for _ in spec]
    waiting = [len(set(inputs)) for inputs in spec]
    for i, inputs in enumerate(spec):
        for j in set(inputs):
            consumers[j].append(i)
    values: list[Any] = [None] * len(spec)
    ready = deque(i for i, inputs in enumerate(spec) if not inputs)
    finished: SimpleQueue[tuple[int, PoolFuture[Any]]] = SimpleQueue()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        running = 0
        while ready or running:
            while ready and running < workers:
                i = ready.popleft()
                future = pool.submit(func, *[values[j] for j in spec[i]])
                future.add_done_callback(_reporter(finished, i))
                running += 1
            i, future = finished.get()
            running -= 1
            values[i] = future.result()
            for c in consumers[i]:
                waiting[c] -= 1
                if waiting[c] == 0:
                    ready.append(c)
    return time.perf_counter() - started


def _reporter(finished: SimpleQueue[tuple[int, PoolFuture[Any]]],
              index: int) -> Callable[[PoolFuture[Any]], None]:
    def report(future: PoolFuture[Any]) -> None:
        finished.put((index, future))

    return report


def trap_dag() -> _shapes.Spec:
    """Independent nodes first, then a chain that is the critical path."""
    spec: _shapes.Spec = [() for _ in range(TRAP_INDEPENDENT)]
    spec.append(())
    for _ in range(TRAP_CHAIN - 1):
        spec.append((len(spec) - 1,))
    return spec


class _Makespan:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.with_dask = dask_available(options)
        self.repeats = options.repeats
        self.data: dict[str, Any] = {}
        self.tables: list[Table] = []
        self.checks: list[Check] = []
        self.random_graph: Any = None

    def seed(self) -> None:
        runs = 3 if self.options.full else 1
        log(self.options, f"makespan: seed A..G demo, {runs} run(s) per engine")
        tcg = [_seed_tcg(SEED_DELAY) for _ in range(runs)]
        dask = [_seed_dask(SEED_DELAY)["wall"] for _ in range(runs)] if self.with_dask else []
        wall = median([r["wall"] for r in tcg])
        sim = median([r["simulated"] for r in tcg])
        self.data["seed"] = {"tcg": tcg, "dask_wall": dask, "runs": runs}
        self.tables.append(Table(
            f"Seed A..G DAG (sleep {SEED_DELAY:.0f} s each, critical path 4 nodes); "
            f"{runs} run(s), median",
            ["engine", "wall s", "× critical path", "simulated s"],
            [["tcg threads", f"{wall:.3f}", f"{wall / (4 * SEED_DELAY):.4f}", f"{sim:.3f}"],
             ["dask threads (7 workers)", fmt(median(dask), 3) if dask else "-",
              fmt(median(dask) / (4 * SEED_DELAY), 4) if dask else "-", ""],
             ["seed prototype (issue)", "5.03", f"{5.03 / 4:.4f}", ""]]))
        self.checks.append(Check("seed demo ≤ 4.02 s (tcg threads)", f"{wall:.3f} s",
                                 wall <= 4.02 * SEED_DELAY))

    def random(self) -> None:
        spec = _shapes.layered_dag(RANDOM_NODES, RANDOM_DEPTH)
        depth = _shapes.longest_path(spec)
        table = Table(
            f"Random DAG: {len(spec)} nodes × {SLEEP * 1e3:.0f} ms, critical path {depth} nodes; "
            f"median of {self.repeats}",
            ["workers", "tcg wall ms", "sim CP ms", "tcg/sim", "recorded/sim", "dask wall ms",
             "dask/tcg", "sim FIFO ms"], [])
        per_workers: dict[int, Any] = {}
        for workers in WORKERS:
            log(self.options, f"makespan: random DAG, {workers} workers")
            runs = []
            for _ in range(self.repeats):
                timings, self.random_graph = _tcg_random(spec, workers, SLEEP)
                runs.append(timings)
            dask = [_dask_random(spec, workers, SLEEP) for _ in range(self.repeats)] \
                if self.with_dask else []
            # Each run is judged against its own simulation (its own measured durations).
            ratio = median([r["wall"] / r["sim_cp"] for r in runs])
            recorded = median([r["recorded"] / r["sim_cp"] for r in runs])
            wall, sim = median([r["wall"] for r in runs]), median([r["sim_cp"] for r in runs])
            dask_wall = median(dask) if dask else None
            per_workers[workers] = {"tcg": runs, "dask": dask}
            table.rows.append([workers, fmt(wall * 1e3, 1), fmt(sim * 1e3, 1), f"{ratio:.3f}",
                               f"{recorded:.3f}",
                               fmt(dask_wall * 1e3 if dask_wall is not None else None, 1),
                               fmt(dask_wall / wall if dask_wall else None),
                               fmt(median([r["sim_fifo"] for r in runs]) * 1e3, 1)])
            self.checks.append(Check(f"random DAG, {workers} workers: wall ≤ 1.03 × simulated",
                                     f"{ratio:.3f}×", ratio <= 1.03))
            if dask_wall is not None:
                self.checks.append(Check(f"random DAG, {workers} workers: below dask",
                                         f"{wall * 1e3:.1f} vs {dask_wall * 1e3:.1f} ms",
                                         wall < dask_wall))
        table.notes.append("tcg wall = the resolve() call; recorded = first body start to last "
                           "body end; sim = tcg_core.simulate on the recorded graph with the "
                           "durations measured in the same run (critical-path-first).")
        self.data["random"] = {"nodes": len(spec), "critical_path_nodes": depth,
                               "sleep": SLEEP, "by_workers": per_workers}
        self.tables.append(table)

    def scarce(self) -> None:
        table = Table("Scarce workers: critical-path-first vs FIFO (ms; median of "
                      f"{self.repeats})",
                      ["graph", "workers", "sim CP", "sim FIFO", "FIFO/CP sim", "tcg real",
                       "FIFO real", "FIFO/tcg real"], [])
        found: dict[str, Any] = {}
        if self.random_graph is not None:
            import tcg_core

            # The random DAG's levels leave little to choose: simulate its recorded run only.
            for workers in SCARCE_WORKERS:
                cp, ff = (tcg_core.simulate(self.random_graph, workers, policy=p).makespan
                          for p in ("critical-path", "fifo"))
                found[f"random-200/{workers}"] = {"sim_cp": cp, "sim_fifo": ff}
                table.rows.append(["random-200", workers, fmt(cp * 1e3, 1), fmt(ff * 1e3, 1),
                                   f"{ff / cp:.3f}", "-", "-", "-"])
        spec = trap_dag()
        label = f"trap {TRAP_INDEPENDENT}+chain {TRAP_CHAIN}"
        for workers in SCARCE_WORKERS:
            log(self.options, f"makespan: scarce, {label}, {workers} workers")
            runs = [_tcg_random(spec, workers, SLEEP)[0] for _ in range(self.repeats)]
            fifo = [fifo_run(spec, _sleeper(SLEEP), workers) for _ in range(self.repeats)]
            cp, ff = (median([r[k] for r in runs]) for k in ("sim_cp", "sim_fifo"))
            real, fifo_real = median([r["wall"] for r in runs]), median(fifo)
            found[f"trap/{workers}"] = {"tcg": runs, "fifo_real": fifo}
            table.rows.append([label, workers, fmt(cp * 1e3, 1), fmt(ff * 1e3, 1),
                               f"{ff / cp:.3f}", fmt(real * 1e3, 1), fmt(fifo_real * 1e3, 1),
                               f"{fifo_real / real:.3f}"])
            self.checks.append(Check(
                f"scarce ({workers} workers, trap DAG): critical-path-first beats FIFO",
                f"sim {cp * 1e3:.0f} vs {ff * 1e3:.0f} ms; real {real * 1e3:.0f} vs "
                f"{fifo_real * 1e3:.0f} ms", cp < ff and real < fifo_real))
        table.notes.append(f"trap: {TRAP_INDEPENDENT} independent nodes created before a chain "
                           f"of {TRAP_CHAIN}. FIFO real = a first-ready-first-run dependency "
                           "scheduler on a ThreadPoolExecutor (benchmarks/_makespan.py: "
                           "fifo_run); tcg real = resolve(executor='threads', max_workers=W).")
        self.data["scarce"] = found
        self.tables.append(table)


def run(options: Options) -> ScenarioResult:
    bench = _Makespan(options)
    bench.seed()
    bench.random()
    bench.scarce()
    return ScenarioResult(NAME, bench.data, bench.tables, bench.checks)

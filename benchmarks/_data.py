"""Real data on processes: NumPy arrays of hundreds of MB through a chain and a fan.

* chain: a node makes a float64 array of ``CHAIN_MB``, six nodes each return ``x + 1.0``,
  and the last array comes back to the caller;
* fan: a node makes one ``FAN_MB`` array, four CPU-bound nodes (pure-Python loops over a
  strided view of it) read it, one node adds their results.

Side by side in one run: a plain Python loop (the physical limit on one core), tcg on
serial, threads and processes, dask.delayed with its multiprocessing scheduler,
dask.distributed on a 2-process LocalCluster (and tcg handing the graph to it), and for
the fan joblib (loky with its memory-mapping of big arrays). The sizes can be lowered
with ``TCG_BENCH_CHAIN_MB`` / ``TCG_BENCH_FAN_MB``.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from tcg_core import node, resolve

from ._common import Check, Options, ScenarioResult, Table, fmt, have, log, median

CHAIN_MB = int(os.environ.get("TCG_BENCH_CHAIN_MB", "200"))
FAN_MB = int(os.environ.get("TCG_BENCH_FAN_MB", "400"))
STEPS = 6
FAN = 4
#: items of the input each CPU-bound node of the fan reads, and passes over them in Python
LOOP_ITEMS = 1_000_000
PASSES = 16


def make(megabytes: int) -> Any:
    return np.zeros(megabytes * 1_000_000 // 8)


def inc(x: Any) -> Any:
    return x + 1.0


def crunch(x: Any, i: int) -> float:
    """Pure Python over a strided view of ``x``: CPU-bound, holding the GIL."""
    values = x[i::max(1, len(x) // LOOP_ITEMS)].tolist()
    total = 0.0
    for _ in range(PASSES):
        for value in values:
            total += value * 0.5 + i
    return total


def add(*values: float) -> float:
    return float(sum(values))


n_make, n_inc, n_crunch, n_add = node(make), node(inc), node(crunch), node(add)


def tcg_chain() -> Any:
    x = n_make(CHAIN_MB)
    for _ in range(STEPS):
        x = n_inc(x)
    return x


def tcg_fan() -> Any:
    x = n_make(FAN_MB)
    return n_add(*[n_crunch(x, i) for i in range(FAN)])


def plain_chain() -> Any:
    x = make(CHAIN_MB)
    for _ in range(STEPS):
        x = inc(x)
    return x


def plain_fan() -> float:
    x = make(FAN_MB)
    return add(*[crunch(x, i) for i in range(FAN)])


def _timed(run: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
        if not isinstance(result, float):
            result = float(result[0]) if hasattr(result, "__getitem__") else result
    return median(times), result


def _tcg_processes(build: Callable[[], Any], kept: Any = None
                   ) -> tuple[Callable[[], Any], dict[str, Any]]:
    """A run on tcg's processes (its own for each resolve, or ``kept``: a started
    ``ProcessesExecutor``), and what the last one moved."""
    from tcg_core import ProcessesExecutor
    from tcg_core._executors._processes import ProcessesAdapter

    moved: dict[str, Any] = {}

    def run() -> Any:
        adapter = ProcessesAdapter.configured(kept or ProcessesExecutor(max_workers=2), None)
        before = dict(adapter.pool.traffic)
        (value,) = resolve(build(), executor=adapter)
        moved.update({k: v - before[k] for k, v in adapter.pool.traffic.items()})
        return value

    return run, moved


def _busy(_: int) -> float:
    total = 0.0
    for i in range(PASSES * LOOP_ITEMS // 2):
        total += i * 0.5
    return total


def machine_limit() -> float:
    """Two processes of a pure-Python loop, no data: what 2 cores give this machine."""
    import multiprocessing

    with multiprocessing.get_context("forkserver").Pool(2) as pool:
        pool.map(_busy, [0, 0])  # started and warm
        started = time.perf_counter()
        pool.map(_busy, [0, 0, 0, 0])
        parallel = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(4):
        _busy(i)
    return (time.perf_counter() - started) / parallel


def _delayed_graph(chain: bool) -> Any:
    """The chain or the fan as dask.delayed calls."""
    import dask

    if chain:
        x = dask.delayed(make)(CHAIN_MB)
        for _ in range(STEPS):
            x = dask.delayed(inc)(x)
        return x
    x = dask.delayed(make)(FAN_MB)
    return dask.delayed(add)(*[dask.delayed(crunch)(x, i) for i in range(FAN)])


def _dask_runs(options: Options, chain: bool) -> dict[str, Callable[[], Any]]:
    if not options.dask or not have("dask"):
        return {}
    import dask

    return {"dask.delayed, multiprocessing scheduler":
            lambda: dask.compute(_delayed_graph(chain), scheduler="processes",
                                 num_workers=2)[0]}


def _cluster_runs(options: Options, chain: bool, client: Any) -> dict[str, Callable[[], Any]]:
    if client is None:
        return {}
    import dask

    return {"dask.distributed, 2 worker processes":
            lambda: dask.compute(_delayed_graph(chain), scheduler=client)[0],
            "tcg resolve(executor=client) on that cluster":
            lambda: resolve(tcg_chain() if chain else tcg_fan(), executor=client)[0]}


def _joblib_fan() -> dict[str, Callable[[], Any]]:
    if not have("joblib"):
        return {}
    import joblib

    def run() -> float:
        x = make(FAN_MB)
        parts = joblib.Parallel(n_jobs=2)(joblib.delayed(crunch)(x, i) for i in range(FAN))
        return add(*parts)

    return {"joblib.Parallel (loky, memory-mapped input)": run}


def _start_cluster(options: Options) -> tuple[Any, Any]:
    if not options.dask or not have("distributed"):
        return None, None
    import distributed

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.ERROR)
    return cluster, distributed.Client(cluster)


def _measure(options: Options, label: str, runs: dict[str, Callable[[], Any]],
             slow: set[str]) -> dict[str, tuple[float, Any]]:
    found: dict[str, tuple[float, Any]] = {}
    for name, run in runs.items():
        log(options, f"data {label}: {name}")
        found[name] = _timed(run, 1 if name in slow else options.repeats)
    return found


def _table(title: str, found: dict[str, tuple[float, Any]], base: str,
           notes: list[str]) -> Table:
    reference = found[base][0]
    rows = [[name, fmt(seconds, 2), fmt(seconds / reference, 2)]
            for name, (seconds, _) in found.items()]
    return Table(title=title, headers=["engine", "median s", f"x {base}"], rows=rows,
                 notes=notes)


KEPT = "tcg processes, ProcessesExecutor kept up"


def run(options: Options) -> ScenarioResult:
    from tcg_core import ProcessesExecutor

    cluster, client = _start_cluster(options)
    slow = {"dask.delayed, multiprocessing scheduler"}
    try:
        with ProcessesExecutor(max_workers=2) as kept:
            chain_processes, _ = _tcg_processes(tcg_chain)
            chain_kept, chain_moved = _tcg_processes(tcg_chain, kept)
            chain = _measure(options, "chain", {
                "plain Python loop": plain_chain,
                "tcg serial": lambda: resolve(tcg_chain(), executor="serial")[0],
                "tcg threads": lambda: resolve(tcg_chain(), executor="threads")[0],
                "tcg processes": chain_processes, KEPT: chain_kept,
                **_dask_runs(options, True), **_cluster_runs(options, True, client)}, slow)
            fan_processes, _ = _tcg_processes(tcg_fan)
            fan_kept, fan_moved = _tcg_processes(tcg_fan, kept)
            fan = _measure(options, "fan", {
                "plain Python loop": plain_fan,
                "tcg serial": lambda: resolve(tcg_fan(), executor="serial")[0],
                "tcg processes": fan_processes, KEPT: fan_kept,
                **_joblib_fan(), **_dask_runs(options, False),
                **_cluster_runs(options, False, client)}, slow)
        log(options, "data: the machine's limit (two processes, no data)")
        limit = machine_limit()
        log(options, "data: pipe or shared memory, by size")
        sizes = crossover()
        speedup = _speedup_check(options)
    finally:
        if client is not None:
            client.close()
            cluster.close()
    result = _result(chain, fan, chain_moved, fan_moved, speedup, limit)
    result.tables.append(crossover_table(sizes))
    result.data["crossover"] = sizes
    return result


def _speedup_check(options: Options) -> tuple[bool, str]:
    from pytest_tcg import assert_parallel_speedup

    log(options, "data fan: assert_parallel_speedup(..., executor='processes')")
    try:
        report = assert_parallel_speedup(tcg_fan, min_speedup=1.6, executor="processes",
                                         workers=2)
    except AssertionError as failed:
        return False, str(failed).splitlines()[0]
    return True, f"passed, measured {report.speedup:.2f}x"


def _result(chain: dict[str, tuple[float, Any]], fan: dict[str, tuple[float, Any]],
            chain_moved: dict[str, Any], fan_moved: dict[str, Any],
            speedup: tuple[bool, str], limit: float) -> ScenarioResult:
    chain_edges, fan_edges = STEPS + 1, 2 * FAN + 1
    def moved(what: dict[str, Any], edges: int) -> str:
        fetched = what.get("fetched", 0)
        return (f"{what.get('shared', 0) / 1e6:.0f} MB written to shared memory for "
                f"{edges} edges: {what.get('exported', 0) - fetched} values sent worker to "
                f"worker, {fetched} fetched by the caller")

    tables = [
        _table(f"chain: {STEPS} nodes x + 1.0 on a {CHAIN_MB} MB float64 array, the last "
               "array returned (2 workers)", chain, "tcg serial",
               [f"tcg processes: {moved(chain_moved, chain_edges)} (the chain stays in one "
                "worker; only the result moves)",
                "tcg processes starts its worker processes in each resolve; the kept "
                "executor and the Dask cluster were started before the clock"]),
        _table(f"fan: {FAN} CPU-bound nodes (pure-Python loops) over one {FAN_MB} MB input "
               "(2 workers)", fan, "tcg serial",
               [f"tcg processes: {moved(fan_moved, fan_edges)} (one copy of the input, for "
                "the one other process that reads it)",
                f"the machine's limit: two processes of a pure-Python loop without data "
                f"run {limit:.2f} x as fast as one"])]
    serial_c, processes_c = chain["tcg serial"][0], chain[KEPT][0]
    serial_f, processes_f = fan["tcg serial"][0], fan[KEPT][0]
    checks = [
        Check(target="chain: tcg processes (kept up) within 1.5 x tcg serial",
              measured=f"{processes_c / serial_c:.2f} x", met=processes_c <= 1.5 * serial_c),
        Check(target="fan: tcg processes (kept up) at least 1.6 x faster than serial on 2 "
                     "cores", measured=f"{serial_f / processes_f:.2f} x (machine limit "
                                       f"{limit:.2f} x)",
              met=serial_f / processes_f >= 1.6),
        Check(target="fan: assert_parallel_speedup(min_speedup=1.6, executor='processes') "
                     "passes", measured=speedup[1], met=speedup[0])]
    for peer in ("dask.delayed, multiprocessing scheduler",
                 "dask.distributed, 2 worker processes"):
        if peer in chain:
            checks.append(Check(target=f"chain: tcg processes (kept up) faster than {peer}",
                                measured=f"{processes_c:.2f} s vs {chain[peer][0]:.2f} s",
                                met=processes_c < chain[peer][0]))
    data = {"chain": {k: v[0] for k, v in chain.items()},
            "fan": {k: v[0] for k, v in fan.items()},
            "chain_moved": chain_moved, "fan_moved": fan_moved,
            "sizes_mb": {"chain": CHAIN_MB, "fan": FAN_MB}, "machine_limit": limit}
    return ScenarioResult(name="data", data=data, tables=tables, checks=checks)


# -- where shared memory starts to pay: the threshold ------------------------------------

CROSSOVER_SIZES = [16_384, 65_536, 131_072, 262_144, 1 << 20, 4 << 20, 16 << 20]


def _echo(conn: Any, path: str) -> None:
    from tcg_core._executors._shared import Packet, unpack

    while True:
        message = conn.recv()
        if message is None:
            return
        value = unpack(message, path) if isinstance(message, Packet) else message
        conn.send(float(value[-1]))


def crossover(repeats: int = 15) -> list[tuple[int, float, float]]:
    """Seconds to hand an array of each size to another process that reads it: through
    the pipe (pickled), and through shared memory (written once, mapped)."""
    import multiprocessing

    from tcg_core._executors._shared import Space, pack

    space = Space.create()
    context = multiprocessing.get_context("forkserver")
    here, there = context.Pipe()
    child = context.Process(target=_echo, args=(there, space.path))
    child.start()
    found = []
    try:
        for size in CROSSOVER_SIZES:
            value = np.ones(size // 8)
            timings: dict[str, list[float]] = {"pipe": [], "shared": []}
            for _ in range(repeats):
                for how in ("pipe", "shared"):
                    started = time.perf_counter()
                    here.send(value if how == "pipe" else pack(value, space, 1))
                    here.recv()
                    timings[how].append(time.perf_counter() - started)
            found.append((size, median(timings["pipe"]), median(timings["shared"])))
    finally:
        here.send(None)
        child.join(10)
        space.remove()
    return found


def crossover_table(found: list[tuple[int, float, float]]) -> Table:
    from tcg_core._executors._processes import SHARE_ABOVE

    rows = [[f"{size / 1024:.0f} kB", fmt(pipe * 1e3, 3), fmt(shared * 1e3, 3),
             fmt(pipe / shared, 2)] for size, pipe, shared in found]
    return Table(title="one array to another process that reads it: pipe or shared memory",
                 headers=["size", "pipe ms", "shared memory ms", "pipe / shared"],
                 rows=rows,
                 notes=[f"tcg's default threshold (share_above): {SHARE_ABOVE / 1024:.0f} kB; "
                        "a file per value costs a fixed few tens of microseconds, a pipe "
                        "costs by the byte"])

"""Per-node overhead: build + resolve of no-op nodes on chain, fan and random graphs.

Engines, all driven by the same loop (``_shapes.drive``):

* ``python``: plain calls, the floor.
* ``lazy``: a minimal lazy evaluator (a thunk per call, one iterative walk).
* ``columnar``: the same walk over a graph kept as flat lists, a node being an index:
  one GC-tracked object per call. A floor for how much of a cost's growth with N is
  CPython's memory and GC rather than any engine's.
* ``pool``: a ``ThreadPoolExecutor`` submit + result per node (one thread hand-off each).
* ``tcg-serial``, ``tcg-threads``: ``tcg_core.resolve(*sinks, executor=...)`` with a node
  function already measured by earlier runs (so tiny nodes run inline), and
  ``tcg-threads-cold``: a fresh node function every run (nothing measured yet).
* ``tcg-callback``, ``tcg-progress``, ``tcg-cache-hit``: ``tcg-serial`` with a callback
  that counts finished nodes, with a progress bar (drawn into a buffer), and with
  ``cache=True`` after a warm-up stored every value (each node a cache hit); the
  ``tcg-serial`` column is the callbacks-off row.
* ``tcg-cached-elsewhere``: ``tcg-serial`` while a ``@node(cache=True)`` function that
  no node of the graph calls exists in the process: its cost must be ``tcg-serial``'s
  (a resolve observes only when its own graph needs it).
* ``tcg-checked``: ``tcg-serial`` with ``check_mutation=True`` (the arguments are ints,
  which are not fingerprinted: the check's fixed cost per node); ``tcg-shuffled``: a
  ``ShuffledExecutor`` (the seeded random pick). The check's cost per argument size is
  a table of its own.
* ``dask-sync``, ``dask-threads``: ``dask.delayed`` built once, computed with each
  scheduler; each total counts the build.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
    medians,
    repeat_runs,
    run_child,
)

NAME = "micro"

DEFAULT_SIZES = (1_000, 10_000, 100_000)
FULL_SIZES = (1_000, 10_000, 100_000, 1_000_000)
DASK_SIZES = (1_000, 10_000)
DASK_FULL_SIZES = (1_000, 3_000, 10_000)
ENGINES = ("python", "lazy", "columnar", "pool", "tcg-serial", "tcg-cached-elsewhere",
           "tcg-threads", "tcg-threads-cold", "tcg-checked", "tcg-shuffled", "tcg-callback",
           "tcg-progress", "tcg-cache-hit",
           "dask-sync", "dask-threads")
#: Argument sizes (ints in one list) for the check_mutation cost table.
CHECKED_SIZES = (10, 1_000, 100_000)

Timings = dict[str, float]
Runner = Callable[[_shapes.Spec, list[int]], Timings]


def _noop(*inputs: Any) -> int:
    return 0


def _python(spec: _shapes.Spec, sink_idx: list[int]) -> Timings:
    started = time.perf_counter()
    _shapes.drive(spec, _noop)
    return {"build": 0.0, "resolve": time.perf_counter() - started}


def _lazy(spec: _shapes.Spec, sink_idx: list[int]) -> Timings:
    call = _shapes.lazy(_noop)
    started = time.perf_counter()
    out = _shapes.drive(spec, call)
    built = time.perf_counter()
    _shapes.evaluate([out[i] for i in sink_idx])
    return {"build": built - started, "resolve": time.perf_counter() - built}


def _columnar(spec: _shapes.Spec, sink_idx: list[int]) -> Timings:
    columns = _shapes.Columns()
    call = _shapes.columnar(_noop, columns)
    started = time.perf_counter()
    out = _shapes.drive(spec, call)
    built = time.perf_counter()
    _shapes.evaluate_columns(columns, [out[i] for i in sink_idx])
    return {"build": built - started, "resolve": time.perf_counter() - built}


def _pool(spec: _shapes.Spec, sink_idx: list[int]) -> Timings:
    # One worker: calls are sequential, and more idle workers only add wake-up noise.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(_noop).result()  # the worker thread exists before the clock starts

        def call(*inputs: Any) -> Any:
            return pool.submit(_noop, *inputs).result()

        started = time.perf_counter()
        _shapes.drive(spec, call)
        return {"build": 0.0, "resolve": time.perf_counter() - started}


def _tcg(executor: Any, fresh: bool, **options: Any) -> Runner:
    import tcg_core

    warm = tcg_core.node(name="noop")(_noop)

    def run(spec: _shapes.Spec, sink_idx: list[int]) -> Timings:
        func = tcg_core.node(name="noop")(_noop) if fresh else warm
        started = time.perf_counter()
        out = _shapes.drive(spec, func)
        built = time.perf_counter()
        tcg_core.resolve(*[out[i] for i in sink_idx], executor=executor, **options)
        return {"build": built - started, "resolve": time.perf_counter() - built}

    return run


def _other(x: int) -> int:
    return x


def _cached_elsewhere() -> Runner:
    """``tcg-serial`` while a ``cache=True`` node function the graph never calls is
    alive (made per run and dropped after it, so no other engine's run sees it)."""
    import tcg_core

    plain = _tcg("serial", fresh=False)

    def run(spec: _shapes.Spec, sink_idx: list[int]) -> Timings:
        elsewhere = tcg_core.node(cache=True)(_other)
        try:
            return plain(spec, sink_idx)
        finally:
            del elsewhere

    return run


def _tcg_observed(kind: str) -> Runner:
    """``tcg-serial`` with a callback, a progress bar, or every node a cache hit."""
    import io
    import os
    import tempfile

    import tcg_core

    warm = tcg_core.node(name="noop")(_noop)

    class Counting(tcg_core.Callback):
        finished = 0

        def on_finish(self, record: Any) -> None:
            self.finished += 1

    # resolve(cache=True): every node of the graph is a cached one.
    folder = tempfile.mkdtemp(prefix="tcg-bench-cache-")

    def run(spec: _shapes.Spec, sink_idx: list[int]) -> Timings:
        options: dict[str, Any] = {"executor": "serial"}
        if kind == "callback":
            options["callbacks"] = [Counting()]
        elif kind == "cache":
            options["cache"] = True
        previous = os.environ.get("TCG_CACHE_DIR")
        os.environ["TCG_CACHE_DIR"] = folder
        try:
            started = time.perf_counter()
            out = _shapes.drive(spec, warm)
            built = time.perf_counter()
            if kind == "progress":
                with tcg_core.progress(file=io.StringIO(), always=True):
                    tcg_core.resolve(*[out[i] for i in sink_idx], **options)
            else:
                tcg_core.resolve(*[out[i] for i in sink_idx], **options)
            return {"build": built - started, "resolve": time.perf_counter() - built}
        finally:
            if previous is None:
                del os.environ["TCG_CACHE_DIR"]
            else:
                os.environ["TCG_CACHE_DIR"] = previous

    return run


def _shuffled() -> Any:
    import tcg_core

    return tcg_core.ShuffledExecutor(seed=0)


def _checked_cost(repeats: int) -> Table:
    """µs per node of a serial fan of 100 nodes that each take one list of ``k`` ints,
    with and without ``check_mutation`` (it pickles and hashes the list twice)."""
    import tcg_core

    @tcg_core.node
    def length(items: list[int]) -> int:
        return len(items)

    table = Table("check_mutation=True: cost per node by argument size (µs/node, median)",
                  ["argument", "unchecked", "checked", "added"], [])
    tcg_core.resolve(length([1]), executor="serial", check_mutation=True)  # warm up
    for k in CHECKED_SIZES:
        data = list(range(k))
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(repeats):
            for checked in (False, True):
                futures = [length(data) for _ in range(100)]
                started = time.perf_counter()
                tcg_core.resolve(*futures, executor="serial", check_mutation=checked)
                times[checked].append((time.perf_counter() - started) / 100 * 1e6)
        plain, checked_us = (sorted(times[c])[len(times[c]) // 2] for c in (False, True))
        table.rows.append([f"list of {k:,} ints", fmt(plain), fmt(checked_us),
                           fmt(checked_us - plain)])
    table.notes.append("Interleaved runs; a body's arguments are fingerprinted before and "
                       "after it runs, so the added cost grows with what the node receives.")
    return table


def _dask(spec: _shapes.Spec, sink_idx: list[int]) -> Timings:
    dask = dask_module()

    call = dask.delayed(_noop)
    started = time.perf_counter()
    out = _shapes.drive(spec, call)
    built = time.perf_counter()
    roots = [out[i] for i in sink_idx]
    dask.compute(*roots, scheduler="sync")
    synced = time.perf_counter()
    dask.compute(*roots, scheduler="threads")
    return {"build": built - started, "sync": synced - built,
            "threads": time.perf_counter() - synced}


@dataclass
class _Cell:
    shape: str
    n: int
    engine: str
    build_us: float | None = None
    resolve_us: float | None = None
    runs: int = 0
    note: str = ""
    best_us: float | None = None  # the fastest run's total (a busy machine inflates medians)

    @property
    def total_us(self) -> float | None:
        if self.build_us is None or self.resolve_us is None:
            return None
        return self.build_us + self.resolve_us


def _predict(history: list[tuple[int, float]], n: int) -> float:
    """Seconds a run at ``n`` nodes may take, from earlier sizes (growth never below linear)."""
    if not history:
        return 0.0
    last_n, last_s = history[-1]
    exponent = 1.0
    if len(history) >= 2:
        prev_n, prev_s = history[-2]
        if prev_s > 0 and last_s > 0 and last_n != prev_n:
            exponent = max(1.0, math.log(last_s / prev_s) / math.log(last_n / prev_n))
    return float(last_s * (n / last_n) ** exponent)


class _Bench:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.with_dask = dask_available(options)
        self.sizes = FULL_SIZES if options.full else DEFAULT_SIZES
        self.dask_sizes = DASK_FULL_SIZES if options.full else DASK_SIZES
        self.runners: dict[str, Runner] = {
            "python": _python, "lazy": _lazy, "columnar": _columnar, "pool": _pool,
            "tcg-serial": _tcg("serial", fresh=False),
            "tcg-cached-elsewhere": _cached_elsewhere(),
            "tcg-threads": _tcg("threads", fresh=False),
            "tcg-threads-cold": _tcg("threads", fresh=True),
            "tcg-checked": _tcg("serial", fresh=False, check_mutation=True),
            "tcg-shuffled": _tcg(_shuffled(), fresh=False),
            "tcg-callback": _tcg_observed("callback"),
            "tcg-progress": _tcg_observed("progress"),
            "tcg-cache-hit": _tcg_observed("cache"),
        }
        self.cells: list[_Cell] = []
        self.history: dict[tuple[str, str], list[tuple[int, float]]] = {}

    def max_size(self, engine: str) -> int:
        if engine in ("pool", "tcg-threads-cold", "tcg-checked", "tcg-shuffled",
                      "tcg-cache-hit"):
            # The hand-off baseline and the cold variant change little with size: keep the
            # default run short, measure them at 100k with --full.
            return 100_000 if self.options.full else 10_000
        return max(self.sizes)

    def run(self) -> None:
        for shape in _shapes.SHAPES:
            self.warm_up(shape)
            for n in sorted(set(self.sizes) | (set(self.dask_sizes) if self.with_dask else set())):
                spec = _shapes.make(shape, n)
                sink_idx = _shapes.sinks(spec)
                log(self.options, f"micro {shape} n={n:,}")
                for engine, runner in self.runners.items():
                    if n in self.sizes and n <= self.max_size(engine):
                        self.measure(shape, n, engine, runner, spec, sink_idx)
                if self.with_dask and n in self.dask_sizes:
                    self.measure_dask(shape, n, spec, sink_idx)

    def warm_up(self, shape: str) -> None:
        spec = _shapes.make(shape, 1_000)
        sink_idx = _shapes.sinks(spec)
        for runner in self.runners.values():
            runner(spec, sink_idx)

    def repeats(self, n: int) -> int:
        return max(self.options.repeats, 5) if n <= 10_000 else self.options.repeats

    def skip_reason(self, shape: str, engine: str, n: int) -> str:
        predicted = _predict(self.history.get((shape, engine), []), n)
        if predicted > self.options.budget:
            return f"skipped: predicted {predicted:,.0f} s > budget {self.options.budget:.0f} s"
        return ""

    def measure(self, shape: str, n: int, engine: str, runner: Runner,
                spec: _shapes.Spec, sink_idx: list[int]) -> None:
        cell = _Cell(shape, n, engine)
        self.cells.append(cell)
        cell.note = self.skip_reason(shape, engine, n)
        if cell.note:
            return
        samples = repeat_runs(lambda: runner(spec, sink_idx), self.repeats(n))
        mid = medians(samples)
        cell.build_us, cell.resolve_us = mid["build"] / n * 1e6, mid["resolve"] / n * 1e6
        cell.best_us = min(s["build"] + s["resolve"] for s in samples) / n * 1e6
        cell.runs = len(samples)
        self.history.setdefault((shape, engine), []).append((n, mid["build"] + mid["resolve"]))

    def measure_dask(self, shape: str, n: int, spec: _shapes.Spec, sink_idx: list[int]) -> None:
        cells = {name: _Cell(shape, n, name) for name in ("dask-sync", "dask-threads")}
        self.cells.extend(cells.values())
        reason = self.skip_reason(shape, "dask", n)
        if reason:
            for cell in cells.values():
                cell.note = reason
            return
        # In a child process: dask's modules and the garbage of its large graphs would
        # otherwise stay in this process and slow the GC and the memory layout of every
        # engine measured after it.
        answer = run_child("_micro", {"kind": "dask", "shape": shape, "n": n,
                                      "repeats": 3 if n <= 1_000 else 1})
        if "error" in answer:
            for cell in cells.values():
                cell.note = f"dask failed: {answer['error']}"
            return
        samples: list[dict[str, float]] = answer["samples"]
        mid = medians(samples)
        for key, cell in (("sync", cells["dask-sync"]), ("threads", cells["dask-threads"])):
            cell.build_us, cell.resolve_us = mid["build"] / n * 1e6, mid[key] / n * 1e6
            cell.best_us = min(s["build"] + s[key] for s in samples) / n * 1e6
            cell.runs = len(samples)
        self.history.setdefault((shape, "dask"), []).append(
            (n, mid["build"] + max(mid["sync"], mid["threads"])))

    # -- results -----------------------------------------------------------------------
    def cell(self, shape: str, n: int, engine: str) -> float | None:
        for c in self.cells:
            if (c.shape, c.n, c.engine) == (shape, n, engine):
                return c.total_us
        return None

    def grid(self) -> list[tuple[str, int]]:
        return sorted({(c.shape, c.n) for c in self.cells},
                      key=lambda k: (_shapes.SHAPES.index(k[0]), k[1]))


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b is not None and b > 0 else None


def _tables(bench: _Bench) -> list[Table]:
    engines = [e for e in ENGINES if any(c.engine == e for c in bench.cells)]
    per_node = Table("Per-node cost: build + resolve of no-op nodes (µs/node, median)",
                     ["graph", "N", *engines], [])
    ratios = Table("Ratios (× = times slower than; 'dask/tcg' = how many times tcg is faster)",
                   ["graph", "N", "serial ×python", "serial ×lazy", "threads ×python",
                    "dask-sync/serial", "dask-thr/threads", "dask-thr/thr-cold"], [])
    split = Table("tcg build vs resolve (µs/node)",
                  ["graph", "N", "serial build", "serial resolve", "threads resolve",
                   "cold resolve", "runs"], [])
    for shape, n in bench.grid():
        def get(engine: str, shape: str = shape, n: int = n) -> float | None:
            return bench.cell(shape, n, engine)

        per_node.rows.append([shape, f"{n:,}", *[fmt(get(e)) for e in engines]])
        ratios.rows.append([
            shape, f"{n:,}", fmt(_ratio(get("tcg-serial"), get("python")), 1),
            fmt(_ratio(get("tcg-serial"), get("lazy")), 1),
            fmt(_ratio(get("tcg-threads"), get("python")), 1),
            fmt(_ratio(get("dask-sync"), get("tcg-serial")), 0),
            fmt(_ratio(get("dask-threads"), get("tcg-threads")), 0),
            fmt(_ratio(get("dask-threads"), get("tcg-threads-cold")), 0)])
        found = {c.engine: c for c in bench.cells if (c.shape, c.n) == (shape, n)}
        serial = found.get("tcg-serial")
        if serial is not None and serial.build_us is not None:
            thr, cold = found.get("tcg-threads"), found.get("tcg-threads-cold")
            split.rows.append([shape, f"{n:,}", fmt(serial.build_us), fmt(serial.resolve_us),
                               fmt(thr.resolve_us if thr else None),
                               fmt(cold.resolve_us if cold else None), serial.runs])
    per_node.notes.append("Same driver loop for every engine, in one process with the GC on "
                          "(a full collection before each run); tcg resolves the sinks in one "
                          "resolve().")
    skipped = [f"{c.engine} {c.shape} N={c.n:,}: {c.note}" for c in bench.cells if c.note]
    per_node.notes.extend(skipped)
    single = sorted({f"{c.engine} {c.shape} N={c.n:,}" for c in bench.cells if c.runs == 1})
    if single:
        per_node.notes.append("one run only (slow cell): " + "; ".join(single))
    return [per_node, ratios, split, _checked_cost(5 if bench.options.full else 3)]


def _growth(bench: _Bench, shape: str, engine: str) -> float | None:
    """max/min of an engine's per-node cost over the sizes measured."""
    series = [c.total_us for c in bench.cells
              if c.shape == shape and c.engine == engine and c.total_us is not None]
    return max(series) / min(series) if len(series) >= 2 else None


def _checks(bench: _Bench) -> list[Check]:
    checks: list[Check] = []
    big, mid = 100_000, 10_000
    for shape in _shapes.SHAPES:
        value = bench.cell(shape, big, "tcg-serial")
        checks.append(Check(f"serial ≤ 3 µs/node at N=100k ({shape})", f"{fmt(value)} µs",
                            None if value is None else value <= 3.0))
    for shape in _shapes.SHAPES:
        series = [c.total_us for c in bench.cells
                  if c.shape == shape and c.engine == "tcg-serial" and c.total_us is not None]
        sizes = [c.n for c in bench.cells if c.shape == shape and c.engine == "tcg-serial"
                 and c.total_us is not None]
        if len(series) >= 2:
            spread = max(series) / min(series)
            floors = [f"{engine} ×{growth:.2f}" for engine in ("lazy", "columnar")
                      if (growth := _growth(bench, shape, engine)) is not None]
            checks.append(Check(
                f"serial flat from 1k to {max(sizes):,} ({shape}; max/min ≤ 1.5)",
                " → ".join(fmt(v) for v in series) + f" µs (×{spread:.2f}"
                + "".join(f"; {f}" for f in floors) + ")", spread <= 1.5))
    ratios = sorted(r for shape, n in bench.grid() if (r := _ratio(
        bench.cell(shape, n, "tcg-cached-elsewhere"), bench.cell(shape, n, "tcg-serial")))
        is not None)
    if ratios:
        middle = ratios[len(ratios) // 2]
        checks.append(Check("a cache=True node function elsewhere leaves serial's cost "
                            "unchanged (median ratio ≤ 1.05)",
                            f"×{middle:.3f} (cells ×{ratios[0]:.2f} to ×{ratios[-1]:.2f})",
                            middle <= 1.05))
    for engine in ("tcg-threads", "tcg-threads-cold"):
        for shape in _shapes.SHAPES:
            value = bench.cell(shape, big, engine)
            checks.append(Check(f"{engine} ≤ 15 µs/node at N=100k ({shape})", f"{fmt(value)} µs",
                                None if value is None else value <= 15.0))
    for engine in ("tcg-threads", "tcg-threads-cold"):
        for shape in _shapes.SHAPES:
            ratio = _ratio(bench.cell(shape, mid, "dask-threads"), bench.cell(shape, mid, engine))
            checks.append(Check(f"{engine} ≥ 30× faster than dask threads at N=10k ({shape})",
                                f"{fmt(ratio, 1)}×", None if ratio is None else ratio >= 30))
    return checks


def run(options: Options) -> ScenarioResult:
    bench = _Bench(options)
    bench.run()
    data = {"cells": [dict(vars(c), total_us=c.total_us) for c in bench.cells],
            "sizes": list(bench.sizes), "dask_sizes": list(bench.dask_sizes)
            if bench.with_dask else []}
    return ScenarioResult(NAME, data, _tables(bench), _checks(bench))


def _dask_child(task: dict[str, Any]) -> dict[str, Any]:
    spec = _shapes.make(task["shape"], task["n"])
    sink_idx = _shapes.sinks(spec)
    _dask(_shapes.make(task["shape"], 100), _shapes.sinks(_shapes.make(task["shape"], 100)))
    samples = repeat_runs(lambda: _dask(spec, sink_idx), task["repeats"], slow_after=1.0)
    return {"samples": samples}


if __name__ == "__main__":
    child_main({"dask": _dask_child})

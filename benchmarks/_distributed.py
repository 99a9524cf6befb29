"""tcg on a ``distributed`` cluster against ``dask.delayed`` on the same cluster (issue 12).

* Graphs: chain, fan-out/fan-in and random (≤ 3 inputs) of no-op nodes
  (``_shapes.drive``), N = 1,000 (and 10,000 with ``--full``), on two clusters: one
  in-process worker with 2 threads, and 2 worker processes with 1 thread each on
  loopback. dask: ``dask.delayed(_noop, pure=False)`` calls, then
  ``client.compute(sinks, sync=True)``; tcg: the same calls of a ``@node``, then
  ``tcg_core.resolve(*sinks, executor=client)``. Each time counts build + run.
* A nested pipeline: 10 parents, each creating 100 children inside its body and
  returning their total, resolved in one call, on both clusters, beside
  ``executor="threads"`` and beside dask tasks that launch tasks (``worker_client``).

Both engines run on the same cluster in the same process, interleaved, so a busy
machine slows both alike. Node functions are module-level: process workers import them.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import tcg_core

from . import _shapes
from ._common import (
    Check,
    Options,
    ScenarioResult,
    Table,
    dask_available,
    dask_module,
    fmt,
    have,
    log,
    median,
)
from ._micro import _predict

NAME = "distributed"

SIZES = (1_000,)
FULL_SIZES = (1_000, 10_000)
#: cluster kind -> LocalCluster keywords (plus the dashboard and logging ones below).
CLUSTERS: dict[str, dict[str, Any]] = {
    "in-process 1×2 threads": {"n_workers": 1, "threads_per_worker": 2, "processes": False},
    "2 processes × 1 thread": {"n_workers": 2, "threads_per_worker": 1, "processes": True,
                               "host": "127.0.0.1"},
}
#: A pair of runs (dask + tcg) over this many seconds is not repeated.
SLOW = 20.0
#: In the default run a pair over this many seconds is run at most twice (the 1,000-node
#: chain alone takes seconds on dask); --full uses every repeat asked for.
SLOWISH = 5.0
TARGET = 1.2  # the target: tcg ≤ 1.2 × dask.delayed
PARENTS, CHILDREN = 10, 100


def _noop(*inputs: Any) -> int:
    return 0


noop = tcg_core.node(name="noop")(_noop)


# -- the nested pipeline ---------------------------------------------------------------
def _child(i: int, j: int) -> int:
    return i * CHILDREN + j


def _total(*values: int) -> int:
    return sum(values)


child = tcg_core.node(name="child")(_child)
total = tcg_core.node(name="total")(_total)


@tcg_core.node
def parent(i: int) -> Any:
    """Creates its children inside its body, so they nest under it."""
    return total(*[child(i, j) for j in range(CHILDREN)])


def _dask_parent(i: int) -> int:
    """The closest dask form of ``parent``: a task that submits its children and gathers
    them (``worker_client`` secedes from the worker's thread pool while it waits)."""
    import distributed

    with distributed.worker_client() as client:
        futures = [client.submit(_child, i, j, pure=False) for j in range(CHILDREN)]
        return int(client.submit(_total, *futures, pure=False).result())


def expected_nested() -> list[int]:
    return [sum(i * CHILDREN + j for j in range(CHILDREN)) for i in range(PARENTS)]


# -- one run of each engine ------------------------------------------------------------
def _time(run: Callable[[], Any]) -> float:
    gc.collect()
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _dask_graph(client: Any, spec: _shapes.Spec, sink_idx: list[int]) -> None:
    call = dask_module().delayed(_noop, pure=False)
    out = _shapes.drive(spec, call)
    client.compute([out[i] for i in sink_idx], sync=True)


def _tcg_graph(executor: Any, spec: _shapes.Spec, sink_idx: list[int]) -> None:
    out = _shapes.drive(spec, noop)
    tcg_core.resolve(*[out[i] for i in sink_idx], executor=executor)


def _dask_nested(client: Any) -> None:
    futures = [client.submit(_dask_parent, i, pure=False) for i in range(PARENTS)]
    assert client.gather(futures) == expected_nested()


def _tcg_nested(executor: Any) -> None:
    assert list(tcg_core.resolve(*[parent(i) for i in range(PARENTS)],
                                 executor=executor)) == expected_nested()


@contextmanager
def cluster(kind: str) -> Iterator[Any]:
    """A ``LocalCluster`` of ``kind`` and a client on it, closed afterwards."""
    import distributed

    with distributed.LocalCluster(  # type: ignore[no-untyped-call]
            dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL,
            **CLUSTERS[kind]) as local, distributed.Client(  # type: ignore[no-untyped-call]
                local, set_as_default=False) as client:
        yield client


# -- the benchmark ---------------------------------------------------------------------
@dataclass
class _Cell:
    cluster: str
    graph: str
    n: int
    dask_s: float | None = None
    tcg_s: float | None = None
    runs: int = 0
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.dask_s is None or self.tcg_s is None or self.dask_s <= 0:
            return None
        return self.tcg_s / self.dask_s


class _Bench:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.sizes = FULL_SIZES if options.full else SIZES
        self.cells: list[_Cell] = []
        self.nested: dict[str, dict[str, Any]] = {}

    def repeats(self, first: float) -> int:
        if first > SLOW:
            return 1
        if first > SLOWISH and not self.options.full:
            return min(2, self.options.repeats)
        return self.options.repeats

    def pairs(self, dask_run: Callable[[], Any],
              tcg_run: Callable[[], Any]) -> tuple[list[float], list[float]]:
        """Interleaved runs (dask, tcg, dask, tcg...) until enough; their times."""
        dask_times, tcg_times = [_time(dask_run)], [_time(tcg_run)]
        wanted = self.repeats(dask_times[0] + tcg_times[0])
        while len(dask_times) < wanted:
            dask_times.append(_time(dask_run))
            tcg_times.append(_time(tcg_run))
        return dask_times, tcg_times

    def run(self) -> None:
        for kind in CLUSTERS:
            log(self.options, f"distributed: starting {kind} cluster")
            try:
                with cluster(kind) as client:
                    self.warm_up(client)
                    self.graphs(kind, client)
                    self.nested_on(kind, client)
            except Exception as exc:  # a cluster that fails is a table note, not a lost run
                self.failed(kind, f"cluster failed: {type(exc).__name__}: {exc}")
        log(self.options, "distributed: nested pipeline, executor='threads'")
        times = [_time(lambda: _tcg_nested("threads")) for _ in range(self.options.repeats)]
        self.nested["threads"] = {"tcg_s": median(times), "runs": len(times)}

    def failed(self, kind: str, note: str) -> None:
        """Every cell of ``kind`` not measured yet (the one under way too) gets ``note``."""
        for c in self.cells:
            if c.cluster == kind and c.tcg_s is None and not c.note:
                c.note = note
        self.cells.extend(_Cell(kind, shape, n, note=note)
                          for shape in _shapes.SHAPES for n in self.sizes
                          if not any((c.cluster, c.graph, c.n) == (kind, shape, n)
                                     for c in self.cells))
        self.nested.setdefault(kind, {"note": note})

    def warm_up(self, client: Any) -> None:
        """Workers import the modules and both engines' code paths run once untimed."""
        spec = _shapes.make("random", 50)
        sink_idx = _shapes.sinks(spec)
        _dask_graph(client, spec, sink_idx)
        _tcg_graph(client, spec, sink_idx)

    def graphs(self, kind: str, client: Any) -> None:
        for shape in _shapes.SHAPES:
            history: list[tuple[int, float]] = []
            for n in self.sizes:
                cell = _Cell(kind, shape, n)
                self.cells.append(cell)
                predicted = _predict(history, n)
                if predicted > self.options.budget:
                    cell.note = (f"skipped: predicted {predicted:,.0f} s > budget "
                                 f"{self.options.budget:.0f} s")
                    continue
                log(self.options, f"distributed: {kind}, {shape} N={n:,}")
                spec = _shapes.make(shape, n)
                sink_idx = _shapes.sinks(spec)
                dask_times, tcg_times = self.pairs(
                    partial(_dask_graph, client, spec, sink_idx),
                    partial(_tcg_graph, client, spec, sink_idx))
                cell.dask_s, cell.tcg_s = median(dask_times), median(tcg_times)
                cell.runs = len(dask_times)
                history.append((n, dask_times[0] + tcg_times[0]))

    def nested_on(self, kind: str, client: Any) -> None:
        log(self.options, f"distributed: {kind}, nested pipeline")
        dask_times, tcg_times = self.pairs(lambda: _dask_nested(client),
                                           lambda: _tcg_nested(client))
        self.nested[kind] = {"dask_s": median(dask_times), "tcg_s": median(tcg_times),
                             "runs": len(dask_times)}


def _tables(bench: _Bench) -> list[Table]:
    graphs = Table("Dask cluster: build + run of no-op graphs (s, median)",
                   ["cluster", "graph", "N", "dask.delayed s", "tcg s", "tcg/dask", "runs"], [])
    for c in bench.cells:
        graphs.rows.append([c.cluster, c.graph, f"{c.n:,}", fmt(c.dask_s, 3), fmt(c.tcg_s, 3),
                            fmt(c.ratio), c.runs or "-"])
    graphs.notes.append(
        "Each time counts the build and the run. dask = dask.delayed(noop, pure=False) calls, "
        "then client.compute(sinks, sync=True); tcg = the same calls of a @node, then "
        "tcg_core.resolve(*sinks, executor=client). Same cluster, same process, interleaved "
        f"(dask, tcg, dask, tcg...) after an untimed warm-up. A pair over {SLOWISH:.0f} s is "
        f"run at most twice in the default run (every repeat with --full), one over "
        f"{SLOW:.0f} s once.")
    graphs.notes.extend(f"{c.cluster} {c.graph} N={c.n:,}: {c.note}"
                        for c in bench.cells if c.note)
    nested = Table(f"Nested pipeline: {PARENTS} parents × {CHILDREN} children created in the "
                   "parent's body, one resolve (s, median)",
                   ["executor", "dask tasks launching tasks s", "tcg s", "tcg/dask", "runs"], [])
    for kind, found in bench.nested.items():
        dask_s, tcg_s = found.get("dask_s"), found.get("tcg_s")
        ratio = tcg_s / dask_s if dask_s and tcg_s is not None else None
        label = "threads (no cluster)" if kind == "threads" else kind
        nested.rows.append([label, fmt(dask_s, 3), fmt(tcg_s, 3), fmt(ratio),
                            found.get("runs", "-")])
        if "note" in found:
            nested.notes.append(f"{kind}: {found['note']}")
    nested.notes.append(
        "dask: each parent is a client.submit task that opens distributed.worker_client() "
        f"(seceding from the worker's pool), submits {CHILDREN} children and a total of them, "
        "and waits; tcg: a @node whose body calls the child and total nodes, "
        "resolve(*parents, executor=client).")
    return [graphs, nested]


def _checks(bench: _Bench) -> list[Check]:
    checks = [Check(f"tcg ≤ {TARGET} × dask.delayed ({c.cluster}, {c.graph}, N={c.n:,})",
                    c.note or f"{fmt(c.ratio)}× ({fmt(c.tcg_s, 3)} vs {fmt(c.dask_s, 3)} s)",
                    None if c.ratio is None else c.ratio <= TARGET)
              for c in bench.cells]
    for kind, found in bench.nested.items():
        dask_s, tcg_s = found.get("dask_s"), found.get("tcg_s")
        if kind == "threads":
            continue
        ratio = tcg_s / dask_s if dask_s and tcg_s is not None else None
        checks.append(Check(f"nested pipeline: tcg ≤ {TARGET} × dask tasks launching tasks "
                            f"({kind})", f"{fmt(ratio)}× ({fmt(tcg_s, 3)} vs {fmt(dask_s, 3)} s)",
                            None if ratio is None else ratio <= TARGET))
    return checks


def run(options: Options) -> ScenarioResult:
    if not dask_available(options) or not have("distributed"):
        reason = ("left out: --no-dask" if not options.dask
                  else "left out: dask.distributed is not installed (pip install -e '.[dask]')")
        log(options, f"distributed: {reason}")
        return ScenarioResult(NAME, {"skipped": reason},
                              [Table("Dask cluster", ["status"], [[reason]])], [])
    bench = _Bench(options)
    bench.run()
    data = {"cells": [dict(vars(c), ratio=c.ratio) for c in bench.cells],
            "sizes": list(bench.sizes), "nested": bench.nested,
            "clusters": {kind: dict(kw) for kind, kw in CLUSTERS.items()},
            "parents": PARENTS, "children": CHILDREN}
    return ScenarioResult(NAME, data, _tables(bench), _checks(bench))

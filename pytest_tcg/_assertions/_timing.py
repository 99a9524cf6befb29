"""The noise-tolerant speedup check (no pytest in here).

How it decides
--------------
The pipeline is built afresh for every run. The parallel runs share one thread or
process pool, started by a discarded warm-up run. Then the pipeline runs serially and
in parallel ``repeats`` times each, interleaved as S P, P S, S P, ... so slow drifts of
the machine (another job starting, CPU frequency) hit both sides alike.
The speedup is the median serial time over the median parallel time: one stalled run
moves a median little. Each parallel run's recorded node intervals give the most nodes
that were in flight at once.

The check passes when the speedup reaches ``min_speedup``, so does the fastest serial
run over the median parallel run (load only ever slows a run: serial runs slowed by a
burst of load must not make a serialised pipeline look parallel), and two or more nodes
were in flight at once. Three findings end the check at once, as no retry could change
them: no parallel run ever had two nodes in flight (the run is serialised: a chain, one
worker, the serial executor), the DAG cannot reach ``min_speedup`` with this many
workers even in an ideal schedule (``tcg_core.simulate`` over the durations measured in
the serial runs, the best of them, with 10% leeway for noise in those durations), or
the bodies were in flight together but waited on each other: every parallel run took at
least 90% of the fastest serial run's time *and* its bodies took at least 1.25x the
least serial work (a lock, the GIL, one shared CPU). Load on the serial side can only
hide that finding (it only slows runs), and a body that sleeps or waits on I/O takes as
long beside others as alone, so a parallel pipeline slowed by load is retried instead.
Otherwise a
failed attempt adds ``repeats`` more interleaved pairs and decides again on the medians
of all runs so far, up to ``attempts`` times: the more samples, the less a burst of load
can move a median.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import os
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tcg_core import (
    DEFAULT_THREAD_WORKERS,
    Future,
    Graph,
    GraphModel,
    NodeRecord,
    ThreadsExecutor,
    resolve,
    simulate,
)

from .._graphs import as_model, check_builder, futures_of
from .._stats import listen, notify

__all__ = ["SpeedupReport", "measure_speedup", "simulated_speedup", "max_in_flight",
           "listen", "notify"]

#: Below this serial time a wall-clock comparison measures overheads, not the pipeline.
MIN_SERIAL_SECONDS = 0.005
_IDEAL_LEEWAY = 0.9
#: A parallel run at least this fraction of the fastest serial run's time is "as slow".
_AS_SLOW = 0.9
#: Bodies taking this much longer together than alone waited on each other (two bodies
#: behind one lock take 1.5x: the second waits for the first).
_INFLATED = 1.25



@dataclass(frozen=True)
class SpeedupReport:
    """What a speedup check measured and decided. Times are seconds (cost units for a
    simulated check with ``weight="cost"``). ``str(report)`` is the readable version."""

    kind: str  # "measured" or "simulated"
    passed: bool
    reason: str
    min_speedup: float
    speedup: float
    serial_time: float
    parallel_time: float
    executor: str
    workers: int
    ideal_speedup: float
    critical_path: tuple[str, ...]
    critical_path_time: float
    total_work: float
    max_in_flight: int
    attempts: int = 1
    unit: str = "s"
    #: The fastest serial run over the median parallel run (measured checks).
    floor_speedup: float | None = None
    serial_runs: tuple[float, ...] = field(default=(), repr=False)
    parallel_runs: tuple[float, ...] = field(default=(), repr=False)

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        unit = " s" if self.unit == "s" else f" {self.unit}"
        shown = f"speedup {self.speedup:.2f}x"
        floor = self.floor_speedup
        if floor is not None and floor < self.min_speedup <= self.speedup:
            shown += f", but {floor:.2f}x from the fastest serial run,"
        lines = [f"{shown} {'>=' if self.passed else '<'} min_speedup {self.min_speedup:g}x: "
                 f"{verdict} ({self.reason})"]
        if self.kind == "measured":
            lines += [
                f"  serial   median {self.serial_time:.4f} s  runs: {_times(self.serial_runs)}",
                f"  parallel median {self.parallel_time:.4f} s  runs: "
                f"{_times(self.parallel_runs)}  ({self.executor}, {self.workers} workers)",
                f"  most nodes in flight at once: {self.max_in_flight}; attempts: "
                f"{self.attempts}",
            ]
        else:
            lines += [f"  simulated on {self.workers} workers: total work "
                      f"{self.serial_time:.4g}{unit}, makespan {self.parallel_time:.4g}{unit}"]
        path = " -> ".join(self.critical_path) or "(empty)"
        lines += [f"  critical path: {path} ({self.critical_path_time:.4g}{unit} of "
                  f"{self.total_work:.4g}{unit} total work)",
                  f"  ideal speedup the DAG allows on {self.workers} workers: "
                  f"{self.ideal_speedup:.2f}x"]
        return "\n".join(lines)


def _times(runs: tuple[float, ...]) -> str:
    return " ".join(f"{t:.4f}" for t in runs)


# -- measuring ------------------------------------------------------------------------------

@dataclass
class _Run:
    seconds: float
    model: GraphModel


@dataclass
class _Runs:
    serial: list[_Run] = field(default_factory=list)
    parallel: list[_Run] = field(default_factory=list)


def measure_speedup(target: Callable[[], Any], *, min_speedup: float, executor: Any = "threads",
                    workers: int | None = None, repeats: int = 3, attempts: int = 3,
                    warmup: bool = True, clock: Callable[[], float] = time.perf_counter
                    ) -> SpeedupReport:
    """Run the check described in the module docstring and return its report."""
    check_builder("the speedup check", target)
    if repeats < 1 or attempts < 1:
        raise ValueError("repeats and attempts must be at least 1")
    if min_speedup <= 0:
        raise ValueError(f"min_speedup must be positive, got {min_speedup!r}")
    pool, owned, label = _parallel_executor(executor, workers)
    try:
        if warmup:
            _run_once(target, pool, workers, clock)
        report: SpeedupReport | None = None
        runs = _Runs()
        for number in range(1, attempts + 1):
            _measure(runs, target, pool, workers, repeats, clock)
            count = _worker_count(executor, workers, runs)
            report, final = _judge(runs, min_speedup, label, count, number)
            if report.passed or final:
                break
        assert report is not None
        return report
    finally:
        if owned:
            pool.shutdown()


def _parallel_executor(executor: Any, workers: int | None) -> tuple[Any, bool, str]:
    """What to pass as ``executor=``: for "threads" and "processes", one pool for the whole
    check, started by the warm-up run, so the runs time the pipeline rather than starting
    workers (on a busy machine a new thread or process waits its turn for a CPU, while one
    that sleeps on the pool's queue is woken at once)."""
    if executor == "threads":  # the engine's own threads executor, as users get it
        return ThreadsExecutor(max_workers=workers or DEFAULT_THREAD_WORKERS), False, \
            "threads"
    if executor == "processes":  # the engine's own worker processes, kept up meanwhile
        from tcg_core import ProcessesExecutor

        return ProcessesExecutor(max_workers=workers).start(), True, "processes"
    label = executor if isinstance(executor, str) else type(executor).__name__
    return executor, False, label


def _worker_count(executor: Any, workers: int | None, runs: _Runs) -> int:
    if workers is not None:
        return workers
    if executor == "serial":
        return 1
    size = getattr(executor, "max_workers", None) or getattr(executor, "_max_workers", None)
    if isinstance(size, int):
        return size
    nodes = len(runs.serial[-1].model.nodes) if runs.serial else 1
    if executor == "processes":
        return min(os.cpu_count() or 2, max(nodes, 1))
    return min(DEFAULT_THREAD_WORKERS, max(nodes, 1))


def _build(target: Callable[[], Any]) -> list[Future[Any]]:
    # A private recording context: the many runs must not land in the test's own graph.
    with Graph():
        built = target()
    futures = futures_of(built)
    if not futures:
        raise ValueError("the speedup target built no futures")
    if any(f.state != "pending" for f in futures):
        raise ValueError("the speedup target returned futures that already ran; it must "
                         "build the pipeline afresh on every call (a lambda or a function, "
                         "not a ready-made future)")
    return futures


def _run_once(target: Callable[[], Any], executor: Any, workers: int | None,
              clock: Callable[[], float]) -> _Run:
    futures = _build(target)
    max_workers = None if executor == "serial" or not isinstance(executor, str) else workers
    started = clock()
    resolve(*futures, executor=executor, max_workers=max_workers)
    seconds = clock() - started
    return _Run(seconds, GraphModel([f.node for f in futures]))


def _measure(runs: _Runs, target: Callable[[], Any], pool: Any, workers: int | None,
             repeats: int, clock: Callable[[], float]) -> None:
    """Add ``repeats`` pairs of runs, alternating S P and P S across all pairs so far."""
    for _ in range(repeats):
        pair = ("serial", "parallel") if len(runs.serial) % 2 == 0 else ("parallel", "serial")
        for side in pair:
            if side == "serial":
                runs.serial.append(_run_once(target, "serial", None, clock))
            else:
                runs.parallel.append(_run_once(target, pool, workers, clock))


def _judge(runs: _Runs, min_speedup: float, label: str, workers: int,
           number: int) -> tuple[SpeedupReport, bool]:
    """The attempt's report, and whether the verdict is final (no retry could change it)."""
    serial = [r.seconds for r in runs.serial]
    parallel = [r.seconds for r in runs.parallel]
    ts, tp = statistics.median(serial), statistics.median(parallel)
    speedup = ts / tp if tp > 0 else float("inf")
    # Load only ever slows a run, so the fastest serial run is the fairest serial cost:
    # requiring it too keeps serial runs slowed by load from passing a serialised run.
    floor = min(serial) / tp if tp > 0 else float("inf")
    # The best ideal over the serial runs: a node slowed by load in one run must not make
    # the DAG look less parallel than it is, as a low ideal ends the check without retry.
    ideals = [(simulate(r.model, workers=workers, weight="duration").speedup, i)
              for i, r in enumerate(runs.serial)]
    ideal, best = max(ideals)
    reference = runs.serial[best].model
    in_flight = max(max_in_flight(r.model.nodes) for r in runs.parallel)
    path = reference.critical_path()
    passed, final = False, True
    if ts < MIN_SERIAL_SECONDS:
        reason = (f"the serial run takes {ts * 1000:.2f} ms, too short to time against "
                  "overheads; make nodes wait longer or use assert_simulated_speedup()")
    elif in_flight < 2:
        reason = ("no parallel run ever had two nodes running at once: the run is "
                  "serialised (a chain, one worker, or an executor that runs one body at a "
                  f"time; the parallel runs used {label})")
    elif ideal < min_speedup * _IDEAL_LEEWAY:
        reason = f"the DAG allows at most {ideal:.2f}x on {workers} workers, on any machine"
    elif (contention := _contention(runs)) is not None:
        reason = ("the bodies ran at once but waited on each other: every parallel run took "
                  "as long as the fastest serial run, and the bodies took "
                  f"{contention:.1f}x as long together as alone (a lock, the GIL, one "
                  "shared CPU or connection)")
    else:
        passed, final = min(speedup, floor) >= min_speedup, False
        reason = f"medians of {len(serial)} interleaved runs each side"
        if not passed:
            reason += f" over {number} attempts"
    report = SpeedupReport(
        kind="measured", passed=passed, reason=reason, min_speedup=min_speedup,
        speedup=speedup, serial_time=ts,
        parallel_time=tp, executor=label, workers=workers, ideal_speedup=ideal,
        critical_path=tuple(r.name for r in path),
        critical_path_time=sum(r.duration or 0.0 for r in path),
        total_work=reference.total_work(), max_in_flight=in_flight, attempts=number,
        floor_speedup=floor, serial_runs=tuple(serial), parallel_runs=tuple(parallel))
    return report, final


def _contention(runs: _Runs) -> float | None:
    """How much longer the bodies took in parallel than serially, when every parallel
    run was as slow as the fastest serial run and its bodies took clearly longer than
    in the serial run with the least work (``None`` otherwise).

    Load only ever slows a run, so the fastest serial run and the least serial work are
    what the pipeline costs alone; comparing with them, load on the serial side can
    only hide contention, never invent it. Sleeps and I/O take as long beside others as
    alone, so bodies that grow when run together waited on each other, which no retry
    can change. A truly parallel pipeline slowed by load fails neither test in every
    run, and is retried as before.
    """
    fastest = min(r.seconds for r in runs.serial)
    alone = min(r.model.total_work() for r in runs.serial)
    if alone <= 0:
        return None
    ratios = []
    for parallel in runs.parallel:
        together = parallel.model.total_work()
        if parallel.seconds < _AS_SLOW * fastest or together < _INFLATED * alone:
            return None
        ratios.append(together / alone)
    return min(ratios) if ratios else None


def max_in_flight(records: Iterable[NodeRecord]) -> int:
    """The most bodies running at one instant (at equal times an end counts before a
    start, so intervals that only touch do not overlap)."""
    events: list[tuple[float, int]] = []
    for r in records:
        if r.start is not None and r.end is not None:
            events += [(r.start, 1), (r.end, -1)]
    events.sort()
    running = best = 0
    for _, step in events:
        running += step
        best = max(best, running)
    return best


# -- simulating -----------------------------------------------------------------------------

def _simulated_reason(model: GraphModel, weight: str, policy: str, run: bool,
                      passed: bool) -> str:
    """What the simulation saw: how many nodes, and, when it failed on a graph not run,
    that the nodes its bodies create are not among them (they exist once a body runs)."""
    count = len(model.nodes)
    reason = (f"simulated over the {count} node{'' if count == 1 else 's'} it saw, "
              f"weight={weight!r}, policy={policy!r}")
    if not passed and not run and all(rec.state == "pending" for rec in model.nodes):
        reason += ("; the graph has not run, so nodes its bodies create (nested nodes) "
                   "are not among them: pass run=True to run it first and count them")
    return reason


def simulated_speedup(target: Any, *, min_speedup: float, workers: int, weight: str = "cost",
                      run: bool | None = None, policy: str = "critical-path") -> SpeedupReport:
    """The clock-free check: replay the DAG on ``workers`` simulated workers."""
    if weight not in ("cost", "duration", "unit"):
        raise ValueError(f"weight must be 'cost', 'duration' or 'unit', not {weight!r}")
    built = target() if callable(target) and not isinstance(target, (Future, GraphModel)) \
        else target
    if run is None:
        run = weight == "duration"
    if run:
        pending = [f for f in futures_of(built) if f.state == "pending"]
        if pending:
            resolve(*pending, executor="serial")
    model = as_model(built)
    schedule = simulate(model, workers=workers, weight=weight, policy=policy)
    path = model.critical_path(weight)
    passed = schedule.speedup >= min_speedup
    return SpeedupReport(
        kind="simulated", passed=passed,
        reason=_simulated_reason(model, weight, policy, run, passed), min_speedup=min_speedup,
        speedup=schedule.speedup, serial_time=schedule.total_work,
        parallel_time=schedule.makespan, executor="simulated", workers=workers,
        ideal_speedup=schedule.speedup, critical_path=tuple(r.name for r in path),
        critical_path_time=schedule.critical_path, total_work=schedule.total_work,
        max_in_flight=min(workers, len(model.nodes)),
        unit="s" if weight == "duration" else f"{weight} units")

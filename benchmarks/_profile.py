"""Where tcg's time goes (``--only profile``; not part of the default run).

For the serial and threads executors on chain and random graphs (N = 100,000 no-op
nodes), the build and the resolve are profiled separately:

* pyinstrument (sampling, low distortion): self time per function, as % of the phase;
  the full call trees are written to ``benchmarks/results/profile-*.txt``;
* cProfile: calls per node of each tcg_core function (counts are exact);
* the share of the build spent in the cyclic GC (build timed with the GC on and off).
"""

from __future__ import annotations

import cProfile
import gc
import pstats
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import _shapes
from ._common import RESULTS, Options, ScenarioResult, Table, have, log, median

NAME = "profile"
SIZE = 100_000
CASES = (("serial", "chain"), ("serial", "random"), ("threads", "chain"), ("threads", "random"))
TOP = 12


def _noop(*inputs: Any) -> int:
    return 0


class _Case:
    """One (executor, shape): a warm node function and a fresh graph per phase run."""

    def __init__(self, executor: str, shape: str, n: int) -> None:
        import tcg_core

        self.tcg = tcg_core
        self.executor, self.shape, self.n = executor, shape, n
        self.spec = _shapes.make(shape, n)
        self.sink_idx = _shapes.sinks(self.spec)
        self.func = tcg_core.node(name="noop")(_noop)
        self.func().resolve(executor="serial")  # measured: tiny nodes run inline

    def build(self) -> list[Any]:
        out = _shapes.drive(self.spec, self.func)
        return [out[i] for i in self.sink_idx]

    def resolve(self, roots: list[Any]) -> None:
        self.tcg.resolve(*roots, executor=self.executor)


def _self_times(session: Any) -> dict[str, float]:
    """Self seconds per ``file:function`` over a pyinstrument session's call tree."""
    totals: dict[str, float] = defaultdict(float)
    stack = [session.root_frame()]
    while stack:
        frame = stack.pop()
        if frame is None:
            continue
        stack.extend(frame.children)
        if frame.is_synthetic:
            continue
        path = Path(frame.file_path or "?")
        where = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
        totals[f"{where}:{frame.function}"] += frame.total_self_time
    return totals


def _pyinstrument(run: Callable[[], Any], label: str) -> tuple[dict[str, float], float]:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0002)
    profiler.start()
    run()
    profiler.stop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"profile-{label}.txt").write_text(
        profiler.output_text(unicode=True, color=False, show_all=False))
    session = profiler.last_session
    if session is None:
        return {}, 0.0
    return _self_times(session), float(session.duration)


def _call_counts(run: Callable[[], Any], n: int) -> dict[str, float]:
    """Calls per node of every tcg_core function (and builtins called from it)."""
    profile = cProfile.Profile()
    profile.enable()
    run()
    profile.disable()
    stats = pstats.Stats(profile)
    counts: dict[str, float] = {}
    for (file, _line, func), (_cc, ncalls, *_rest) in stats.stats.items():  # type: ignore[attr-defined]
        if "tcg_core" in file:
            counts[f"{Path(file).parent.name}/{Path(file).name}:{func}"] = ncalls / n
    return counts


def _gc_share(case: _Case) -> dict[str, float]:
    """Build time with the cyclic GC enabled vs disabled (median of 3 each)."""
    timings: dict[str, list[float]] = {"gc on": [], "gc off": []}
    for _ in range(3):
        for label in timings:
            gc.collect()
            if label == "gc off":
                gc.disable()
            started = time.perf_counter()
            roots = case.build()
            timings[label].append(time.perf_counter() - started)
            gc.enable()
            del roots
    on, off = median(timings["gc on"]), median(timings["gc off"])
    return {"build_gc_on_us": on / case.n * 1e6, "build_gc_off_us": off / case.n * 1e6,
            "gc_share": 1 - off / on if on else 0.0}


def _phase_table(title: str, times: dict[str, float], total: float,
                 calls: dict[str, float]) -> Table:
    rows = []
    for name, seconds in sorted(times.items(), key=lambda kv: -kv[1])[:TOP]:
        rows.append([f"{seconds / max(total, 1e-9):.1%}", f"{seconds * 1e3:.0f}", name,
                     f"{calls[name]:.2f}" if name in calls else ""])
    return Table(title, ["self %", "ms", "function", "calls/node"], rows)


def _profile_case(executor: str, shape: str, n: int) -> tuple[list[Table], dict[str, Any]]:
    case = _Case(executor, shape, n)
    label = f"{executor}-{shape}"
    holder: dict[str, Any] = {}

    def build() -> None:
        holder["roots"] = case.build()

    def resolve() -> None:
        case.resolve(holder.pop("roots"))

    gc.collect()
    build_times, build_total = _pyinstrument(build, f"{label}-build")
    resolve_times, resolve_total = _pyinstrument(resolve, f"{label}-resolve")
    build()
    resolve_calls = _call_counts(resolve, n)  # the graph comes from build() above
    build_only_calls = _call_counts(build, n)
    holder.clear()
    shares = _gc_share(case)
    tables = [
        _phase_table(f"{label}: build ({build_total * 1e6 / n:.2f} µs/node under the profiler; "
                     f"GC {shares['gc_share']:.0%} of the build)", build_times, build_total,
                     build_only_calls),
        _phase_table(f"{label}: resolve ({resolve_total * 1e6 / n:.2f} µs/node under the "
                     "profiler)", resolve_times, resolve_total, resolve_calls),
    ]
    data = {"build_self_s": build_times, "resolve_self_s": resolve_times,
            "build_total_s": build_total, "resolve_total_s": resolve_total,
            "resolve_calls_per_node": resolve_calls, "build_calls_per_node": build_only_calls,
            **shares}
    return tables, data


#: (label, statement) timed with ``timeit`` (GC off, best of 5); the setup below names them.
CONSTRUCTS = (
    ("plain call noop(x) (floor)", "noop(x)"),
    ("NodeFunction.__call__ with one future input", "tiny(fut)"),
    ("  its binder check tiny._binder(fut)", "binder(fut)"),
    ("  NodeRecord(...) construction", "NodeRecord('n', tiny, (fut,), None, (rec,), ('a',))"),
    ("  Future(record) construction", "Future(spare)"),
    ("  current_frame() (ContextVar.get)", "current_frame()"),
    ("weakref.ref(future) (finish)", "weakref.ref(fut)"),
    ("with threading.Lock(): (claim, finish)", "with lock: pass"),
    ("BodyFrame() + ContextVar set/reset (run_inline)",
     "token = FRAME.set(BodyFrame()); FRAME.reset(token)"),
    ("2 × perf_counter() (run_inline)", "perf_counter(); perf_counter()"),
    ("heappush + heappop (ordered ready queue)", "heappush(heap, (0.5, 1, rec)); heappop(heap)"),
    ("dict.fromkeys(3 inputs) (_count_inputs)", "dict.fromkeys(three)"),
)
SETUP = """
import heapq, threading, weakref
from time import perf_counter
from heapq import heappush, heappop
import tcg_core
from tcg_core._context import FRAME, BodyFrame, current_frame
from tcg_core._record import NodeRecord
from tcg_core._future import Future
def noop(*xs):
    return 0
tiny = tcg_core.node(noop)
binder = tiny._binder or noop
fut = tiny()
rec = fut._record
spare = NodeRecord('n', tiny, (), None, (), ())
three = (rec, spare, fut)
lock = threading.Lock()
heap = []
x = 1
"""


def construct_costs() -> Table:
    """Nanoseconds per construct on the per-node paths (internals: may drift)."""
    import timeit

    rows = []
    for label, statement in CONSTRUCTS:
        try:
            timer = timeit.Timer(statement, SETUP)
            best = min(timer.repeat(repeat=5, number=100_000)) / 100_000
        except Exception as exc:  # the internals moved: say so, keep going
            rows.append([label, f"n/a ({type(exc).__name__})"])
            continue
        rows.append([label, f"{best * 1e9:.0f}"])
    return Table("Cost of per-node constructs (ns, timeit, GC off, best of 5)",
                 ["construct", "ns"], rows)


def run(options: Options) -> ScenarioResult:
    if not have("pyinstrument"):
        return ScenarioResult(NAME, {"skipped": "pyinstrument not installed"},
                              [Table("Profile", ["note"], [["pip install pyinstrument"]])], [])
    tables: list[Table] = [construct_costs()]
    data: dict[str, Any] = {"constructs": tables[0].rows}
    for executor, shape in CASES:
        log(options, f"profile: {executor} {shape} n={SIZE:,}")
        case_tables, case_data = _profile_case(executor, shape, SIZE)
        tables.extend(case_tables)
        data[f"{executor}-{shape}"] = case_data
    tables[-1].notes.append("pyinstrument self time (C calls count toward their caller); "
                            "calls/node from cProfile; call trees in "
                            "benchmarks/results/profile-*.txt")
    return ScenarioResult(NAME, data, tables, [])

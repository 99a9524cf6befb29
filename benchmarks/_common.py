"""Shared pieces: options, result types, timing, memory readings and child processes."""

from __future__ import annotations

import datetime
import gc
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Options:
    """What the command line asked for."""

    full: bool = False
    repeats: int = 3
    budget: float = 60.0  # seconds one cell may be predicted to take before it is skipped
    dask: bool = True
    verbose: bool = True


@dataclass
class Table:
    """A printable table: a title, column headers, rows and notes under it."""

    title: str
    headers: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)


@dataclass
class Check:
    """One target of the issue: what it asks, what was measured, and whether it is met."""

    target: str
    measured: str
    met: bool | None  # None: not measured in this run


@dataclass
class ScenarioResult:
    """What one scenario hands to the report."""

    name: str
    data: dict[str, Any]
    tables: list[Table]
    checks: list[Check]
    seconds: float = 0.0
    load: tuple[float | None, float | None] = (None, None)  # load average before, after


def have(module: str) -> bool:
    """True when ``module`` can be imported."""
    return importlib.util.find_spec(module) is not None


def dask_module() -> Any:
    """``dask``, typed loosely (its typing is partial)."""
    return importlib.import_module("dask")


def dask_available(options: Options) -> bool:
    return options.dask and have("dask")


def log(options: Options, message: str) -> None:
    if options.verbose:
        print(f"  .. {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine_info() -> dict[str, Any]:
    """CPU count, Python, platform, date and versions, for the JSON and the header."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 1
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "memory_gb": round(_total_memory() / 2**30, 1),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "tcg_commit": _git_commit(),
        "loadavg_at_start": load_average(),
        "versions": {name: _version(name) for name in ("dask", "distributed", "pytest")},
    }


def _total_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def load_average() -> float | None:
    """The 1-minute load average: above ~0.5 on an idle machine, others share the CPUs."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def _git_commit() -> str | None:
    """HEAD's short hash, ``+dirty`` when the engine's files differ from it (read-only)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, timeout=10, check=False)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "tcg_core", "pytest_tcg"],
                               cwd=ROOT, capture_output=True, text=True, timeout=10,
                               check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = head.stdout.strip()
    return (commit + ("+dirty" if dirty.stdout.strip() else "")) or None


def _version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


# -- memory ----------------------------------------------------------------------------
def rss_bytes() -> int:
    """The current resident set size of this process."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        import psutil  # type: ignore[import-untyped]

        return int(psutil.Process().memory_info().rss)


def peak_rss_bytes() -> int:
    """The high-water resident set size of this process (since the last reset)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def reset_peak_rss() -> bool:
    """Start a new high-water mark at the current RSS (Linux); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# -- timing ----------------------------------------------------------------------------
def repeat_runs(run: Callable[[], dict[str, float]], repeats: int,
                slow_after: float = 2.0) -> list[dict[str, float]]:
    """Call ``run`` ``repeats`` times (a full collection before each) and return its
    timings.

    A run that takes longer than ``slow_after`` seconds is not repeated: the cell's cost
    is then one measurement, which the report marks. The harness does not ``gc.freeze()``
    its own objects: a process with frozen objects is a special case (tcg's resolve then
    leaves the GC alone rather than unfreeze them), not the one a user's run is in.
    """
    samples: list[dict[str, float]] = []
    for _ in range(max(1, repeats)):
        gc.collect()
        started = time.perf_counter()
        samples.append(run())
        elapsed = time.perf_counter() - started
        if elapsed > slow_after:
            break
    return samples


def medians(samples: list[dict[str, float]]) -> dict[str, float]:
    """The per-key median of a list of timing dicts."""
    return {key: median([s[key] for s in samples]) for key in samples[0]} if samples else {}


# -- child processes -------------------------------------------------------------------
def run_child(module: str, task: dict[str, Any], timeout: float = 900.0) -> dict[str, Any]:
    """Run ``python -m benchmarks.<module> '<task json>'`` and return the JSON it prints.

    Memory readings come from a fresh interpreter so earlier scenarios do not blur them.
    """
    cmd = [sys.executable, "-m", f"benchmarks.{module}", json.dumps(task)]
    try:
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                             check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {out.returncode}: {' | '.join(tail)}"}
    try:
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": f"no JSON from child: {out.stdout[-200:]!r}"}
    return result


def child_main(handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]]) -> None:
    """Entry of a child process: run the task named in argv[1] and print its JSON."""
    task = json.loads(sys.argv[1])
    result = handlers[task["kind"]](task)
    print(json.dumps(result), flush=True)


def fmt(value: float | None, digits: int = 2) -> str:
    """A number for a table cell: ``-`` when missing, thousands separated when large."""
    if value is None or value != value:  # None or NaN
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"

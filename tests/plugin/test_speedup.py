"""``assert_parallel_speedup`` (measured, noise-tolerant) and ``assert_simulated_speedup``
(clock-free)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from pytest_tcg import (
    SpeedupAssertionError,
    SpeedupReport,
    assert_parallel_speedup,
    assert_simulated_speedup,
)
from pytest_tcg._assertions._timing import measure_speedup
from tcg_core import Future, node

from .conftest import RunPytest

NAP = 0.03
_lock = threading.Lock()


@node
def fetch(i: int) -> int:
    time.sleep(NAP)
    return i


@node
def locked_fetch(i: int) -> int:
    with _lock:  # every body waits for the one before: the run is serialised
        time.sleep(NAP)
    return i


@node
def total(*xs: int) -> int:
    return sum(xs)


@node
def step(x: int) -> int:
    time.sleep(NAP)
    return x + 1


def fan_out(width: int = 4) -> Future[int]:
    return total(*[fetch(i) for i in range(width)])  # type: ignore[no-any-return]


def chain(length: int = 4) -> Future[int]:
    f: Future[int] = step(0)
    for _ in range(length - 1):
        f = step(f)
    return f


# -- measured -------------------------------------------------------------------------------

def test_fan_out_of_waiting_nodes_speeds_up() -> None:
    report = assert_parallel_speedup(fan_out, min_speedup=2.0)
    assert report.passed and report.kind == "measured"
    assert report.speedup >= 2.0
    assert report.max_in_flight >= 2
    assert report.ideal_speedup > 2.0   # about 4: four waits of NAP and a tiny sum
    assert report.critical_path[-1] == "total" and report.critical_path[0] == "fetch"
    assert len(report.serial_runs) == len(report.parallel_runs) == 3 * report.attempts
    assert report.serial_time > 3 * NAP


def test_a_chain_fails_at_once_the_dag_allows_no_speedup() -> None:
    with pytest.raises(SpeedupAssertionError) as info:
        assert_parallel_speedup(chain, min_speedup=1.5)
    report = info.value.report
    assert report.attempts == 1  # no retry: no machine could do better
    assert "no parallel run ever had two nodes running at once" in report.reason
    assert 0.5 < report.speedup < 1.5
    assert str(info.value).startswith(f"speedup {report.speedup:.2f}x < min_speedup 1.5x: FAILED")


def test_one_worker_fails_as_serialised() -> None:
    with pytest.raises(SpeedupAssertionError, match="the run is serialised") as info:
        assert_parallel_speedup(fan_out, min_speedup=1.5, workers=1)
    assert info.value.report.workers == 1
    assert info.value.report.max_in_flight == 1


def test_a_lock_that_serialises_the_bodies_fails_at_once() -> None:
    def locked() -> Future[int]:
        return total(*[locked_fetch(i) for i in range(4)])  # type: ignore[no-any-return]

    with pytest.raises(SpeedupAssertionError) as info:
        assert_parallel_speedup(locked, min_speedup=1.5, repeats=2, attempts=3)
    report = info.value.report
    assert report.attempts == 1  # no retry: waiting on each other is not load
    assert report.max_in_flight >= 2   # the bodies overlap, waiting on the lock...
    assert report.floor_speedup is not None
    assert report.floor_speedup < 1.3  # ...but nothing got faster
    assert report.reason.startswith("the bodies ran at once but waited on each other: every "
                                    "parallel run took as long as the fastest serial run")
    assert len(report.serial_runs) == 2


def test_a_parallel_pipeline_slowed_by_load_is_retried_not_failed_at_once() -> None:
    # Wall-clock times as a loaded machine might show them (every parallel run as slow as
    # the serial one), while the real bodies are waits that truly overlap: the check
    # must not take that for contention, and decides on all its attempts instead.
    clock = _scripted_clock([0.1] + [0.1] * 12)
    report = measure_speedup(fan_out, min_speedup=1.5, repeats=2, attempts=3, clock=clock)
    assert not report.passed
    assert report.attempts == 3
    assert report.reason == "medians of 6 interleaved runs each side over 3 attempts"


def test_a_parallel_pipeline_on_a_busy_machine_passes() -> None:
    # Real load: every core busy with other processes while the check runs.
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(os.cpu_count() or 2)]
    try:
        report = assert_parallel_speedup(fan_out, min_speedup=2.0)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert report.passed and report.max_in_flight >= 2


def _scripted_clock(durations: list[float]) -> Callable[[], float]:
    """A clock under which the n-th timed run lasts ``durations[n]`` seconds."""
    ticks = iter([t for i, d in enumerate(durations) for t in (10.0 * i, 10.0 * i + d)])
    return lambda: next(ticks)


# Runs in order: the warm-up (parallel), then S P, P S, S P.
ORDER = ["P", "S", "P", "P", "S", "S", "P"]


def test_serial_runs_slowed_by_load_cannot_pass_a_serialised_run() -> None:
    # Two of three serial runs hit a burst of load: on medians alone it would be 5x.
    durations = {"S": iter([0.5, 0.5, 0.1]), "P": iter([0.1, 0.1, 0.1, 0.1])}
    clock = _scripted_clock([next(durations[side]) for side in ORDER])
    report = measure_speedup(fan_out, min_speedup=1.5, attempts=1, clock=clock)
    assert report.speedup == pytest.approx(5.0)
    assert report.floor_speedup == pytest.approx(1.0)
    assert not report.passed
    assert str(report).startswith("speedup 5.00x, but 1.00x from the fastest serial run, < "
                                  "min_speedup 1.5x: FAILED")


def test_medians_shrug_off_a_parallel_run_slowed_by_load() -> None:
    durations = {"S": iter([0.4, 0.4, 0.4]), "P": iter([0.1, 0.1, 0.9, 0.1])}
    clock = _scripted_clock([next(durations[side]) for side in ORDER])
    report = measure_speedup(fan_out, min_speedup=3.0, attempts=1, clock=clock)
    assert report.passed and report.speedup == pytest.approx(4.0)


def test_when_the_dag_cannot_reach_the_target() -> None:
    with pytest.raises(SpeedupAssertionError, match=r"the DAG allows at most [12]\.\d\dx on 2 "
                                                    r"workers, on any machine"):
        assert_parallel_speedup(fan_out, min_speedup=3.5, workers=2, repeats=1)


def test_report_text() -> None:
    report = assert_parallel_speedup(lambda: fan_out(2), min_speedup=1.3, repeats=1)
    lines = str(report).splitlines()
    assert re.fullmatch(r"speedup \d\.\d\dx >= min_speedup 1\.3x: passed \(medians of "
                        r"\d interleaved runs each side\)", lines[0]), lines[0]
    assert re.match(r"  serial   median \d\.\d{4} s  runs: \d\.\d{4}", lines[1]), lines[1]
    assert "(threads, 3 workers)" in lines[2]
    assert lines[3].startswith("  most nodes in flight at once: 2; attempts: ")
    assert lines[4].startswith("  critical path: fetch -> total (")
    assert lines[5].startswith("  ideal speedup the DAG allows on 3 workers: ")


def test_bad_targets() -> None:
    with pytest.raises(TypeError, match="zero-argument function that builds the pipeline"):
        assert_parallel_speedup(fan_out(), min_speedup=1.5)  # type: ignore[arg-type]
    done = fan_out(1)
    done.resolve()
    with pytest.raises(ValueError, match="already ran; it must build the pipeline afresh"):
        assert_parallel_speedup(lambda: done, min_speedup=1.5)


def test_too_fast_to_time() -> None:
    with pytest.raises(SpeedupAssertionError, match="too short to time"):
        assert_parallel_speedup(lambda: total(1, 2), min_speedup=1.5)


# -- simulated ------------------------------------------------------------------------------

@node(cost=3)
def heavy(*xs: Any) -> int:
    return 0


@node(cost=1)
def light(*xs: Any) -> int:
    return 0


def costed() -> Future[int]:
    a = light()
    return light(heavy(a), heavy(a), light(a))  # type: ignore[no-any-return]


@node
def nested_fan() -> Any:
    return total(fetch(1), fetch(2), fetch(3))


def test_simulated_from_cost_hints_is_exact() -> None:
    # total work 1+3+3+1+1 = 9; on 2 workers: light, heavy|heavy, light, light = 1+3+1+1 = 6
    report = assert_simulated_speedup(costed, 1.5, workers=2)
    assert (report.serial_time, report.parallel_time, report.speedup) == (9.0, 6.0, 1.5)
    assert report.kind == "simulated" and report.critical_path == ("light", "heavy", "light")
    with pytest.raises(SpeedupAssertionError) as info:
        assert_simulated_speedup(costed, 1.6, workers=2)
    assert str(info.value).splitlines()[:2] == [
        "speedup 1.50x < min_speedup 1.6x: FAILED (simulated over the 5 nodes it saw, "
        "weight='cost', policy='critical-path'; the graph has not run, so nodes its bodies "
        "create (nested nodes) are not among them: pass run=True to run it first and count "
        "them)",
        "  simulated on 2 workers: total work 9 cost units, makespan 6 cost units",
    ]


def test_simulated_without_hints_counts_nodes() -> None:
    report = assert_simulated_speedup(fan_out, 1.6, workers=4, weight="unit")
    assert report.speedup == pytest.approx(5 / 2)


def test_simulated_from_measured_durations_of_a_nested_pipeline() -> None:
    report = assert_simulated_speedup(nested_fan, 2.0, workers=3, weight="duration")
    assert report.unit == "s"
    assert report.total_work >= 3 * NAP
    assert report.speedup > 2.0
    # Without running it, the nested nodes do not exist yet: one node, no speedup.
    with pytest.raises(SpeedupAssertionError, match=r"speedup 1\.00x"):
        assert_simulated_speedup(nested_fan, 2.0, workers=3, weight="cost")


def test_bad_weight() -> None:
    with pytest.raises(ValueError, match="weight must be"):
        assert_simulated_speedup(costed, 1.0, workers=2, weight="time")


# -- in pytest ------------------------------------------------------------------------------

def test_summary_and_processes(project: pytest.Pytester, run_both: RunPytest) -> None:
    project.makepyfile(test_speed="""
        import pytest
        from pytest_tcg import assert_parallel_speedup, assert_simulated_speedup
        from tcgpipes import add, nap

        def build():
            return add(add(nap(1, 0.03), nap(2, 0.03)), add(nap(3, 0.03), nap(4, 0.03)))

        def test_threads():
            assert_parallel_speedup(build, min_speedup=2.0)

        def test_processes():
            assert_parallel_speedup(build, min_speedup=1.3, executor="processes", workers=4)

        def test_simulated():
            assert_simulated_speedup(build, 2.0, workers=4, weight="unit")
    """)
    result = run_both()
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["speedup checks: 3 run (2 measured, 1 simulated), smallest "
                                 "*x, median *x"])


def test_report_type_is_public() -> None:
    assert SpeedupReport.__module__ == "pytest_tcg._assertions._timing"


def test_contention_fails_at_once_in_pytest(project: pytest.Pytester,
                                            run_both: RunPytest) -> None:
    project.makepyfile(test_lock="""
        import threading, time
        from pytest_tcg import assert_parallel_speedup
        from tcg_core import node
        from tcgpipes import add

        _lock = threading.Lock()

        @node
        def locked(i):
            with _lock:
                time.sleep(0.03)
            return i

        def test_lock():
            assert_parallel_speedup(lambda: add(locked(1), locked(2)), min_speedup=1.5)
    """)
    result = run_both()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "E   *FAILED (the bodies ran at once but waited on each other: every parallel run "
        "took as long as the fastest serial run, and the bodies took *x as long together "
        "as alone (a lock, the GIL, one shared CPU or connection))",
        "E     *most nodes in flight at once: 2; attempts: 1",
        "speedup checks: 1 run, 1 failed, *",
    ])

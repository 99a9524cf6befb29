"""The ``tcg`` terminal summary section, gathered from every xdist worker."""

from __future__ import annotations

import pytest

from pytest_tcg._stats import Stats

from .conftest import RunPytest

TESTS = """
import pytest
from pytest_tcg import assert_simulated_speedup
from tcgpipes import add, inc, twice

@pytest.mark.parametrize("i", range(6))
def test_graphs(tcg_resolve, tcg_snapshot, i):
    tcg_resolve(twice(i))
    tcg_snapshot()

@pytest.mark.parametrize("workers", [1, 2, 3])
def test_speedups(workers):
    assert_simulated_speedup(lambda: add(inc(1), inc(2)), 1.0, workers=workers, weight="unit")

def test_failed_check():
    with pytest.raises(AssertionError):
        assert_simulated_speedup(lambda: add(inc(1), inc(2)), 2.0, workers=1, weight="unit")
"""


def test_counts_from_all_workers(project: pytest.Pytester, run_both: RunPytest) -> None:
    project.makepyfile(test_summary=TESTS)
    result = run_both("--tcg-graph-out=graphs", "--tcg-graph-format=mmd,json",
                      "--tcg-snapshot-update")
    result.assert_outcomes(passed=10)
    result.stdout.fnmatch_lines([
        "*- tcg -*",
        "graphs: 20 files (mmd, json) for 10 tests saved in graphs",
        "speedup checks: 4 run (0 measured, 4 simulated), smallest 1.00x, median 1.25x",
        "snapshots: 0 matched, 6 written, 0 failed",
    ])


def test_silent_when_the_plugin_did_nothing(project: pytest.Pytester, run: RunPytest) -> None:
    project.makepyfile(test_plain="def test_plain(): pass")
    result = run()
    result.assert_outcomes(passed=1)
    assert "- tcg -" not in result.stdout.str()


def test_merge_adds_worker_counts() -> None:
    controller = Stats(formats=["svg"])
    first = Stats(graph_tests=2, graph_files=2, graph_dir="g", speedups=[2.0],
                  snapshots_failed=1)
    first.add_error("svg for t1: boom")
    second = Stats(graph_tests=1, graph_files=1, graph_dir="g", speedups=[3.0, 4.0], simulated=1,
                   speedup_failures=1, snapshots_written=2)
    second.add_error("svg for t2: boom")
    for worker in (first, second):
        controller.merge(worker.to_dict())
    assert controller.summary_lines() == [
        "graphs: 3 files (svg) for 3 tests saved in g",
        "2 graph files not saved; first: svg for t1: boom",
        "speedup checks: 3 run (2 measured, 1 simulated), 1 failed, smallest 2.00x, median "
        "3.00x",
        "snapshots: 0 matched, 2 written, 1 failed",
    ]


VERDICTS = """
import pytest
from pytest_tcg import SpeedupAssertionError, assert_simulated_speedup
from tcgpipes import add, inc

def build():
    return add(inc(1), inc(2))

def test_expected_to_miss():
    with pytest.raises(SpeedupAssertionError):
        assert_simulated_speedup(build, 2.0, workers=1, weight="unit")

@pytest.mark.xfail(reason="one worker cannot speed anything up", strict=True)
def test_xfail_miss():
    assert_simulated_speedup(build, 2.0, workers=1, weight="unit")

def test_passing_check_then_another_failure():
    assert_simulated_speedup(build, 1.0, workers=2, weight="unit")
    assert 1 == 2

def test_escaped_miss():
    assert_simulated_speedup(build, 2.0, workers=1, weight="unit")

def test_miss_wrapped_in_another_error():
    try:
        assert_simulated_speedup(build, 2.0, workers=1, weight="unit")
    except AssertionError as exc:
        raise RuntimeError("pipeline too slow") from exc
"""


def test_a_check_counts_as_failed_only_when_it_failed_its_test(
        project: pytest.Pytester, run_both: RunPytest) -> None:
    project.makepyfile(test_verdicts=VERDICTS)
    result = run_both()
    result.assert_outcomes(passed=1, failed=3, xfailed=1)
    result.stdout.fnmatch_lines([
        "speedup checks: 5 run (0 measured, 5 simulated), 2 failed, smallest 1.00x, median "
        "1.00x"])


def test_a_green_run_reports_no_failed_checks(project: pytest.Pytester,
                                              run_both: RunPytest) -> None:
    project.makepyfile(test_verdicts=VERDICTS)
    result = run_both("-k", "expected or xfail")
    result.assert_outcomes(passed=1, xfailed=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["speedup checks: 2 run (0 measured, 2 simulated), smallest "
                                 "1.00x, median 1.00x"])
    assert not [line for line in result.stdout.lines if line.startswith("speedup checks")
                and "failed" in line]


def test_every_stats_field_is_merged_from_xdist_workers() -> None:
    # A counter added to Stats must reach the controller's summary under -n 2: merge
    # goes field by field, so a new field is merged without touching merge().
    from dataclasses import fields

    from pytest_tcg._stats import Stats

    worker = Stats()
    for spec in fields(worker):
        current = getattr(worker, spec.name)
        if isinstance(current, bool):
            setattr(worker, spec.name, True)
        elif isinstance(current, int):
            setattr(worker, spec.name, 2)
        elif isinstance(current, list):
            current.append("x" if spec.name != "rows" else {"nodeid": "t"})
        else:
            setattr(worker, spec.name, "set")
    controller = Stats()
    controller.merge(worker.to_dict())
    controller.merge(worker.to_dict())
    for spec in fields(controller):
        value = getattr(controller, spec.name)
        assert value not in (0, False, None, []), spec.name
        if isinstance(value, int) and not isinstance(value, bool):
            assert value == 4, spec.name
        if spec.metadata.get("merge") == "first":
            assert value == getattr(worker, spec.name), spec.name

"""Tests for the A..G DAG (``examples/parallel_execution.py``): the result, the shape, and
that the independent branches really run in parallel.

The demo sleeps 1 s per node; the tests make that 0.1 s so the suite stays quick.
"""

from __future__ import annotations

import pytest

from examples import parallel_execution
from examples.parallel_execution import build
from pytest_tcg import (
    assert_graph_shape,
    assert_parallel_speedup,
    assert_ran_in_parallel,
    assert_simulated_speedup,
)


@pytest.fixture(autouse=True)
def short_sleeps(monkeypatch):
    monkeypatch.setattr(parallel_execution, "DELAY", 0.1)


@pytest.fixture
def ran(tcg_resolve):
    graph = build()
    values = tcg_resolve(graph)  # every node's value, in the order build() made them
    assert values[-1] == 108
    return graph


def test_shape(ran):
    assert_graph_shape(ran, {"B": {"A"}, "C": {"A"}, "D": {"A"}, "E": {"C", "D"},
                             "F": {"B"}, "G": {"F", "C", "E"}})


def test_branches_ran_at_the_same_time(ran):
    assert_ran_in_parallel(ran, "B", "C", "D")


def test_critical_path(ran):
    # A→B→F→G, A→C→E→G and A→D→E→G all chain four nodes: no run can beat 4 × DELAY.
    assert ran.critical_path_length("unit") == 4
    path = [r.name for r in ran.critical_path()]
    assert (path[0], path[-1]) == ("A", "G")
    assert ran.makespan() >= 4 * parallel_execution.DELAY


def test_parallel_run_is_faster(monkeypatch):
    # Runs the pipeline serially and with threads, interleaved, and compares medians.
    # Seven nodes, four on the critical path: at best 7/4 = 1.75x. The check runs the
    # pipeline seven times, so the nodes sleep less here.
    monkeypatch.setattr(parallel_execution, "DELAY", 0.05)
    report = assert_parallel_speedup(build, min_speedup=1.4)
    assert report.ideal_speedup > 1.6


def test_the_dag_allows_1_75x_on_three_workers():
    # No clock: replay the DAG on three simulated workers, every node weighing 1.
    report = assert_simulated_speedup(build, 1.75, workers=3, weight="unit")
    assert report.parallel_time == 4


def test_the_demo_names_every_critical_path_the_same_on_every_run() -> None:
    """Three paths tie at 4 nodes: the demo prints all of them, from the graph's shape,
    so its output matches the README whatever the measured durations were."""
    assert parallel_execution.longest_paths(build()) == [
        ("A", "B", "F", "G"), ("A", "C", "E", "G"), ("A", "D", "E", "G")]

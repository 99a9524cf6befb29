"""``@given`` tests: ``tcg_session_resolve`` passes Hypothesis' health check for
function-scoped fixtures without suppressing it, and a test's diagram shows one example."""

from __future__ import annotations

import json

import pytest

from .conftest import RunPytest

TESTS = """
import pytest
from hypothesis import given, settings
from tcg_core import resolve
from pytest_tcg.strategies import dags

@settings(max_examples=20, deadline=None)
@given(spec=dags(min_nodes=3, max_nodes=4))
def test_values(tcg_session_resolve, spec):
    assert tcg_session_resolve(spec.build()) == spec.expected()

@pytest.mark.tcg(executor="serial")
@settings(max_examples=5, deadline=None)
@given(spec=dags(max_nodes=3))
def test_the_marker_picks_the_executor(tcg_session_resolve, spec):
    futures = spec.build()
    tcg_session_resolve(futures)
    assert all(f.node.worker.endswith(":MainThread") for f in futures)

@settings(max_examples=30, deadline=None)
@given(spec=dags(max_nodes=6))
def test_fails_from_three_nodes(tcg_session_resolve, spec):
    tcg_session_resolve(spec.build())
    assert len(spec.nodes) < 3

@settings(max_examples=20, deadline=None)
@given(spec=dags(min_nodes=3, max_nodes=4))
def test_without_fixtures(spec):
    resolve(*spec.build())
"""

FUNCTION_SCOPED = """
from hypothesis import given
from pytest_tcg.strategies import dags

@given(spec=dags(max_nodes=3))
def test_function_scoped(tcg_resolve, spec):
    tcg_resolve(spec.build())
"""


def test_the_session_fixture_passes_the_health_check(project: pytest.Pytester,
                                                     run_both: RunPytest) -> None:
    project.makepyfile(test_given=TESTS, test_scoped=FUNCTION_SCOPED)
    result = run_both("-k", "not fails")
    # The function-scoped fixture still stops at the health check; the pattern does not.
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*FailedHealthCheck*function-scoped fixture*tcg_resolve*"])
    assert "suppress_health_check" not in TESTS


def test_a_diagram_shows_one_example_the_minimal_failing_one(project: pytest.Pytester,
                                                             run_both: RunPytest) -> None:
    project.makepyfile(test_given=TESTS)
    result = run_both("--tcg-graph-out=graphs", "--tcg-graph-format=json")
    result.assert_outcomes(passed=3, failed=1)
    folder = project.path / "graphs"

    def names(test: str) -> list[str]:
        data = json.loads((folder / f"test_given--{test}.json").read_text(encoding="utf-8"))
        return sorted(n["name"] for n in data["nodes"])

    # Hypothesis replays the minimal failing example last: that is the diagram.
    assert names("test_fails_from_three_nodes") == ["n0", "n1", "n2"]
    result.stdout.fnmatch_lines(["*- tcg: the graph of this test -*",
                                 "graph: 3 nodes: 3 done"])
    # Passing tests: one example of 3 or 4 nodes, not twenty merged into one picture.
    for test in ("test_values", "test_without_fixtures"):
        assert 3 <= len(names(test)) <= 4, test

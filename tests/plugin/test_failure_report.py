"""The ``tcg`` section of a failing test's report, and the saved files in junit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from .conftest import RunPytest

TESTS = """
from tcg_core import node
from tcgpipes import add, inc

@node
def boom(x):
    raise ValueError(f"bad input {x}")

@node
def stage(x):
    return boom(x)

@node
def pipeline(x):
    return add(stage(inc(x)), 1)

def test_node_fails(tcg_resolve):
    tcg_resolve(pipeline(1))

def test_wrong_value(tcg_resolve):
    assert tcg_resolve(add(inc(1), 2)) == 5

def test_passes(tcg_resolve):
    tcg_resolve(inc(1))

def test_fails_without_a_graph():
    assert False
"""

SECTION = "*- tcg: the graph of this test -*"


def test_a_failing_node_is_named_with_its_path_inputs_and_what_it_skipped(
        project: pytest.Pytester, run_both: RunPytest) -> None:
    project.makepyfile(test_forensics=TESTS)
    result = run_both("-k", "node_fails")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        SECTION,
        "graph: 5 nodes: 1 done, 3 failed, 1 skipped",
        "failed: boom (pipeline › stage › boom): ValueError: bad input 2",
        "skipped because of it: add",
        "around it:",
        "  pipeline      failed",
        "  ├── inc       done",
        "  ├── stage     failed    <- inc",
        "  │   └── boom  FAILED   ValueError: bad input 2",
        "  └── add       skipped   <- stage",
    ])
    assert "diagram:" not in result.stdout.str()  # nothing saved without --tcg-graph-out


def test_only_failing_tests_with_a_graph_get_the_section(project: pytest.Pytester,
                                                         run_both: RunPytest) -> None:
    project.makepyfile(test_forensics=TESTS)
    result = run_both("-k", "wrong_value or passes or without")
    result.assert_outcomes(passed=1, failed=2)
    text = result.stdout.str()
    assert text.count("- tcg: the graph of this test -") == 1
    result.stdout.fnmatch_lines([SECTION, "graph: 2 nodes: 2 done", "the graph:",
                                 "  inc  done", "  add  done      <- inc"])


def test_with_graph_out_the_section_and_junit_name_the_saved_files(
        project: pytest.Pytester, run_both: RunPytest) -> None:
    project.makepyfile(test_forensics=TESTS)
    result = run_both("--tcg-graph-out=graphs", "--tcg-graph-format=svg",
                      "--junitxml=junit.xml")
    result.assert_outcomes(passed=1, failed=3)
    stem = "graphs/test_forensics--test_node_fails"
    result.stdout.fnmatch_lines([
        SECTION, "failed: boom *", f"diagram: {stem}.svg", f"json: {stem}.json",
        f"trace: {stem}.trace.json (open it in https://ui.perfetto.dev)"])
    cases = {case.get("name"): case for case in
             ET.parse(project.path / "junit.xml").getroot().iter("testcase")}
    props = {p.get("name"): p.get("value") for p in cases["test_node_fails"].iter("property")}
    assert props == {"tcg_diagram": f"{stem}.svg", "tcg_json": f"{stem}.json",
                     "tcg_trace": f"{stem}.trace.json"}
    passing = {p.get("name"): p.get("value") for p in cases["test_passes"].iter("property")}
    assert passing == {"tcg_diagram": "graphs/test_forensics--test_passes.svg"}
    # The failing node is marked in the saved diagram, its skipped consumer too.
    svg = (project.path / f"{stem}.svg").read_text()
    assert "#cc0000" in svg and "#999999" in svg and "(skipped)" in svg

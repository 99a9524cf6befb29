"""``--tcg-graph-out`` and ``--tcg-graph-format``: diagram files per test."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from pytest_tcg._naming import file_stem

from .conftest import RunPytest

TESTS = """
import pytest
from tcg_core import Graph
from tcgpipes import add, inc, pipeline, twice

def test_body_futures(tcg_resolve):
    assert tcg_resolve(pipeline(10, 2, 5, 6)) == -60

def test_recorded_without_fixtures():
    add(inc(1), 2).resolve()

@pytest.mark.parametrize("value", [1, 2, "a/b", "a_b"])
def test_param(tcg_graph, value):
    inc(1)

def test_failing_test_gets_a_diagram_too(tcg_graph):
    twice(1)
    assert False

def test_no_graph():
    pass

class TestGroup:
    def test_method(self, tcg_graph):
        inc(1)
"""

STEMS = ["test_graphs--test_body_futures", "test_graphs--test_recorded_without_fixtures",
         "test_graphs--test_param[1]", "test_graphs--test_param[2]",
         file_stem("test_graphs.py::test_param[a/b]"), "test_graphs--test_param[a_b]",
         "test_graphs--test_failing_test_gets_a_diagram_too", "test_graphs--TestGroup--test_method"]


def _files(folder: Path) -> list[str]:
    """The diagram files in ``folder`` (the HTML report has tests of its own)."""
    return sorted(p.name for p in folder.iterdir() if p.name != "index.html")


def test_one_file_per_test_with_graphs(project: pytest.Pytester, run_both: RunPytest) -> None:
    project.makepyfile(test_graphs=TESTS)
    result = run_both("--tcg-graph-out=graphs", "--tcg-graph-format=svg,mmd")
    result.assert_outcomes(passed=8, failed=1)
    failing = "test_graphs--test_failing_test_gets_a_diagram_too"
    # A failing test also gets its JSON and trace, for the forensics.
    expected = sorted([*(stem + ext for stem in STEMS for ext in (".svg", ".mmd")),
                       failing + ".json", failing + ".trace.json"])
    assert _files(project.path / "graphs") == expected  # no temporary files left over
    assert (project.path / "graphs" / "index.html").is_file()
    result.stdout.fnmatch_lines(["*- tcg -*",
                                 "graphs: 18 files (svg, mmd) for 8 tests saved in graphs",
                                 "report: graphs/index.html"])
    svg = (project.path / "graphs" / "test_graphs--test_body_futures.svg").read_text()
    assert svg.lstrip().startswith(("<?xml", "<svg")) and "_add" in svg


def test_every_format(project: pytest.Pytester, run: RunPytest) -> None:
    project.makepyfile(test_graphs=TESTS)
    result = run("--tcg-graph-out=graphs", "--tcg-graph-format=svg,png,dot,mmd,json,trace",
                 "-k", "body_futures")
    result.assert_outcomes(passed=1)
    stem = "test_graphs--test_body_futures"
    assert _files(project.path / "graphs") == sorted(
        stem + ext for ext in (".svg", ".png", ".dot", ".mmd", ".json", ".trace.json"))
    assert (project.path / "graphs" / f"{stem}.png").read_bytes().startswith(b"\x89PNG")


def test_default_format_is_svg_with_graphviz(project: pytest.Pytester, run: RunPytest) -> None:
    if shutil.which("dot") is None:
        pytest.skip("needs Graphviz")
    project.makepyfile(test_graphs=TESTS)
    run("--tcg-graph-out=graphs", "-k", "body_futures").assert_outcomes(passed=1)
    assert _files(project.path / "graphs") == ["test_graphs--test_body_futures.svg"]


def test_without_graphviz_dot_and_mmd_and_a_hint(project: pytest.Pytester, run_sub: RunPytest,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))  # no Graphviz on it
    project.makepyfile(test_graphs=TESTS)
    result = run_sub("--tcg-graph-out=graphs", "-k", "body_futures")
    result.assert_outcomes(passed=1)
    assert _files(project.path / "graphs") == ["test_graphs--test_body_futures.dot",
                                               "test_graphs--test_body_futures.mmd"]
    result.stdout.fnmatch_lines(["Graphviz not found: diagrams saved as .dot and .mmd; install "
                                 "Graphviz (*) to get .svg images"])


def test_failing_graphviz_is_one_line_and_tests_pass(project: pytest.Pytester,
                                                     run_sub: RunPytest,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = project.mkdir("fakebin")
    fake = bin_dir / "dot"
    fake.write_text("#!/bin/sh\necho 'dot: cannot render' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    project.makepyfile(test_graphs=TESTS)
    result = run_sub("--tcg-graph-out=graphs", "--tcg-graph-format=svg,mmd", "-k",
                     "body or recorded")
    result.assert_outcomes(passed=2)
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "graphs: 2 files (svg, mmd) for 2 tests saved in graphs",
        "2 graph files not saved; first: svg for test_graphs.py::test_body_futures: TcgError: "
        "Graphviz 'dot -Tsvg' failed for *: dot: cannot render"])
    assert _files(project.path / "graphs") == ["test_graphs--test_body_futures.mmd",
                                               "test_graphs--test_recorded_without_fixtures.mmd"]


def test_unwritable_folder_is_one_line_and_tests_pass(project: pytest.Pytester,
                                                      run_both: RunPytest) -> None:
    project.makepyfile(test_graphs=TESTS)
    (project.path / "blocker").write_text("a file, not a folder")
    result = run_both("--tcg-graph-out=blocker/graphs", "-k", "not failing")
    result.assert_outcomes(passed=8)
    assert result.ret == 0
    lines = [line for line in result.stdout.lines if "graphs not saved" in line]
    assert len(lines) == 1
    assert lines[0].startswith("graphs not saved: cannot create folder ")
    assert "blocker/graphs" in lines[0]


def test_ini_folder_is_relative_to_the_ini_file(project: pytest.Pytester,
                                                run: RunPytest) -> None:
    project.makepyfile(test_graphs=TESTS)
    project.makeini("[pytest]\ntcg_graph_out = out/diagrams\ntcg_graph_format = dot\n")
    sub = project.mkdir("sub")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(sub)
        result = run(str(project.path / "test_graphs.py"), "-k", "body_futures")
    result.assert_outcomes(passed=1)
    assert _files(project.path / "out" / "diagrams") == ["test_graphs--test_body_futures.dot"]


def test_no_output_without_the_option(project: pytest.Pytester, run: RunPytest) -> None:
    project.makepyfile(test_graphs=TESTS)
    result = run("-k", "body_futures")
    result.assert_outcomes(passed=1)
    assert "- tcg -" not in result.stdout.str()
    assert not (project.path / "graphs").exists()


@pytest.mark.parametrize(("nodeid", "stem"), [
    ("tests/test_a.py::test_b", "tests.test_a--test_b"),
    ("tests/test_a.py::TestC::test_d[x-1.5]", "tests.test_a--TestC--test_d[x-1.5]"),
    ("pkg/mod.py::pkg.mod.func", "pkg.mod--pkg.mod.func"),
])
def test_file_stem_is_readable(nodeid: str, stem: str) -> None:
    assert file_stem(nodeid) == stem


def test_file_stems_never_collide() -> None:
    ids = ["t/a.py::x[a/b]", "t/a.py::x[a_b]", "t/a.py::x[a:b]", "t/a.py::x[a b]",
           "t.a.py::x", "t/a.py::x", "t/a/py::x", "t/a.py::x.y", "t/a.py::x::y",
           "t/a.py::x[" + "p" * 300 + "]", "t/a.py::x[" + "p" * 301 + "]",
           "t/a-.py::x", "t/a--b.py::x", "t/a.py::x-1234567890", "t/a.b.py::c"]
    stems = [file_stem(i) for i in ids]
    assert len(set(stems)) == len(stems)
    assert all(len(s) <= 170 for s in stems)
    assert all(not set(s) & set('/\\:*?"<>| ') for s in stems)

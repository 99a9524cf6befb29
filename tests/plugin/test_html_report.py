"""``--tcg-graph-out DIR`` writes ``DIR/index.html``: one self-contained page for the run,
written once by the xdist controller, checked in a real browser when one is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import RunPytest

TESTS = """
import pytest
from pytest_tcg import assert_simulated_speedup
from tcg_core import node
from tcgpipes import add, inc, pipeline

@node
def boom(x):
    raise ValueError("bad")

def test_pipeline(tcg_resolve):
    assert tcg_resolve(pipeline(10, 2, 5, 6)) == -60

def test_fails(tcg_resolve):
    tcg_resolve(add(boom(1), inc(2)))

@pytest.mark.parametrize("n", [1, 2, 3])
def test_param(tcg_resolve, n):
    tcg_resolve(inc(n))

def test_speedup():
    assert_simulated_speedup(lambda: add(inc(1), inc(2)), 1.5, workers=2, weight="unit")

def test_no_graph():
    pass

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass
"""

IDS = ["test_report.py::test_pipeline", "test_report.py::test_fails",
       "test_report.py::test_param[1]", "test_report.py::test_param[2]",
       "test_report.py::test_param[3]", "test_report.py::test_speedup",
       "test_report.py::test_no_graph", "test_report.py::test_skipped"]


def _page(project: pytest.Pytester, folder: str = "graphs") -> str:
    return (project.path / folder / "index.html").read_text(encoding="utf-8")


def _rows(page: str) -> dict[str, str]:
    """Test id → its table row."""
    return {m.group(1): m.group(0) for m in re.finditer(
        r"<tr><td><code>([^<]+)</code></td>.*?</tr>", page)}


def test_one_page_lists_every_test(project: pytest.Pytester, run_both: RunPytest) -> None:
    project.makepyfile(test_report=TESTS)
    result = run_both("--tcg-graph-out=graphs", "--tcg-graph-format=svg")
    result.assert_outcomes(passed=6, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["report: graphs/index.html"])
    page = _page(project)
    rows = _rows(page)
    assert sorted(rows) == sorted(IDS)  # every worker's rows, each test once
    assert '<td class="failed">failed</td>' in rows["test_report.py::test_fails"]
    assert '<td class="skipped">skipped</td>' in rows["test_report.py::test_skipped"]
    assert '<td class="num">5</td>' in rows["test_report.py::test_pipeline"]  # nodes
    assert re.search(r'<td class="num">\d+\.\d ms</td>', rows["test_report.py::test_pipeline"])
    assert "1.50x ≥ 1.5x (simulated, passed)" in rows["test_report.py::test_speedup"]
    failing = rows["test_report.py::test_fails"]
    stem = "test_report--test_fails"
    for ext in ("json", "svg", "trace.json"):
        assert f'href="{stem}.{ext}"' in failing
    # Diagrams inline: one <svg> per test with a graph, no XML prolog inside the page.
    assert page.count("<svg") == 6 and "<?xml" not in page and "<!DOCTYPE svg" not in page
    assert "<details open><summary>diagram</summary>" in page  # the failing one, opened
    # Self-contained: no script, no stylesheet or image from anywhere else.
    assert "<script" not in page and "<link" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert 'xlink:href="http' not in page
    assert sorted(p.name for p in (project.path / "graphs").iterdir()
                  if p.name.startswith(".")) == []  # no temporary files left


def test_without_svg_the_page_shows_the_text(project: pytest.Pytester,
                                             run_both: RunPytest) -> None:
    project.makepyfile(test_report=TESTS)
    result = run_both("--tcg-graph-out=out", "--tcg-graph-format=mmd", "-k", "pipeline")
    result.assert_outcomes(passed=1)
    page = _page(project, "out")
    assert "<svg" not in page
    assert "<pre>flowchart LR" in page and "subgraph" in page
    assert "&quot;pipeline&quot;" in page  # the Mermaid text, HTML-escaped


def test_no_page_without_the_option(project: pytest.Pytester, run: RunPytest) -> None:
    project.makepyfile(test_report=TESTS)
    run("-k", "pipeline").assert_outcomes(passed=1)
    assert not list(project.path.rglob("index.html"))


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _browser(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         "--window-size=1280,1000", *extra, url],
        capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
def test_the_page_renders_in_a_browser(project: pytest.Pytester, run_both: RunPytest,
                                       tmp_path: Path) -> None:
    project.makepyfile(test_report=TESTS)
    run_both("--tcg-graph-out=graphs", "--tcg-graph-format=svg").assert_outcomes(
        passed=6, failed=1, skipped=1)
    url = (project.path / "graphs" / "index.html").as_uri()
    dom = _browser(url, tmp_path / "profile-dom", "--dump-dom")
    assert dom.returncode == 0, dom.stderr
    # What the browser built from the page: every test, and the diagrams as SVG elements.
    for nodeid in IDS:
        assert nodeid in dom.stdout
    assert dom.stdout.count("<svg") == 6
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line
               or "Uncaught" in line or "ERR_FILE_NOT_FOUND" in line]
    assert console == []
    shot = tmp_path / "report.png"
    done = _browser(url, tmp_path / "profile-shot", f"--screenshot={shot}")
    assert done.returncode == 0, done.stderr
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 10_000


WHY = """
import pytest
from pytest_tcg import SpeedupAssertionError, assert_simulated_speedup
from tcg_core import node
from tcgpipes import add, inc

@node
def region_total(rows):
    if not rows:
        raise ValueError("no rows for region")
    return sum(rows)

@node
def shop(regions):
    return [region_total(r) for r in regions]

def test_nested_node_fails(tcg_resolve):
    tcg_resolve(shop([[1], []]))

def test_wrong_value(tcg_resolve):
    assert tcg_resolve(add(inc(1), 2)) == 5, "the total is off"

def test_expected_speedup_miss():
    with pytest.raises(SpeedupAssertionError):
        assert_simulated_speedup(lambda: inc(inc(1)), 1.5, workers=2, weight="unit")

@pytest.mark.xfail(reason="known bug #12", strict=True)
def test_known_bug(tcg_resolve):
    assert tcg_resolve(inc(1)) == 3
"""


def _why_rows(page: str) -> dict[str, str]:
    """Test id → its row and the reason row under it."""
    return {m.group(1): m.group(0) for m in re.finditer(
        r"<tr><td><code>([^<]+)</code></td>.*?</tr>(?:\s*<tr><td colspan=\"6\" "
        r"class=\"why\">.*?</tr>)?", page, flags=re.DOTALL)}


def test_the_page_says_why_each_test_failed(project: pytest.Pytester,
                                            run_both: RunPytest) -> None:
    project.makepyfile(test_why=WHY)
    run_both("--tcg-graph-out=graphs", "--tcg-graph-format=dot").assert_outcomes(
        passed=1, failed=2, xfailed=1)
    rows = _why_rows(_page(project))
    nested = rows["test_why.py::test_nested_node_fails"]
    assert ('failed node: region_total (shop › region_total): ValueError: no rows for '
            "region; the call: region_total#") in nested
    assert "([])" in nested  # which call: the one with the empty list
    wrong = rows["test_why.py::test_wrong_value"]
    assert "failed node:" not in wrong
    assert "AssertionError: the total is off" in wrong
    assert "assert 4 == 5" in wrong
    expected = rows["test_why.py::test_expected_speedup_miss"]
    assert 'class="passed"' in expected
    assert 'class="check-expected"' in expected and "failed as expected" in expected
    assert "check-failed" not in expected
    known = rows["test_why.py::test_known_bug"]
    assert 'class="xfailed"' in known and "expected to fail: known bug #12" in known


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
def test_the_reasons_show_in_a_browser(project: pytest.Pytester, run: RunPytest,
                                       tmp_path: Path) -> None:
    project.makepyfile(test_why=WHY)
    run("--tcg-graph-out=graphs", "--tcg-graph-format=svg").assert_outcomes(
        passed=1, failed=2, xfailed=1)
    url = (project.path / "graphs" / "index.html").as_uri()
    dom = _browser(url, tmp_path / "profile-dom", "--dump-dom")
    assert dom.returncode == 0, dom.stderr
    page = dom.stdout  # as the browser built it
    for text in ("failed node: region_total (shop › region_total): ValueError: no rows "
                 "for region", "AssertionError: the total is off",
                 "failed as expected", "expected to fail: known bug #12"):
        assert text in page, text
    # The failing nested node is red in the diagram of its test (Graphviz's fill).
    assert "#ffe0e0" in page
    # A screenshot for a person to look at: kept with the test's files, not committed.
    shot = tmp_path / "why.png"
    done = _browser(url, tmp_path / "profile-shot", f"--screenshot={shot}")
    assert done.returncode == 0 and shot.read_bytes().startswith(b"\x89PNG"), done.stderr

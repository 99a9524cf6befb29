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

"""``--tcg-graph-out DIR`` also writes ``DIR/index.html``: one page listing every test.

The page is self-contained (inline CSS, no script, no network): each test's outcome,
node count, makespan and speedup checks, its diagram inline (the SVG when one was saved,
else the PNG as a data URI, else the DOT or Mermaid text) and links to its other files.
Under pytest-xdist the controller writes it once, from the rows the workers sent.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import base64
import html
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .._naming import write_atomically

__all__ = ["write_report", "render"]

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em;
       color: #1d1d1f; background: #fff; }
h1 { font-size: 1.4em; margin: 0 0 .3em; }
.counts span { margin-right: 1.2em; }
table { border-collapse: collapse; width: 100%; margin-top: 1em; }
th, td { text-align: left; padding: .35em .7em; border-bottom: 1px solid #e3e3e3;
         vertical-align: top; }
th { background: #f5f5f7; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.passed { color: #1a7f37; } .failed, .error { color: #cf222e; font-weight: 600; }
.skipped, .xfailed { color: #6e7781; } .xpassed { color: #9a6700; }
.check-failed { color: #cf222e; } .check-passed { color: #1a7f37; }
.check-expected { color: #6e7781; }
.why { margin: .1em 0 .4em; } .why div { white-space: pre-wrap; }
.why .node-error { color: #cf222e; } .why .reason { color: #57606a; }
details { margin: .2em 0 .6em; } summary { cursor: pointer; color: #0969da; }
.diagram { overflow: auto; max-height: 70vh; border: 1px solid #e3e3e3; padding: .5em;
           background: #fff; }
.diagram svg { max-width: 100%; height: auto; }
pre { background: #f6f8fa; padding: .6em; overflow: auto; }
"""
_ORDER = ("failed", "error", "xpassed", "passed", "xfailed", "skipped")


def write_report(directory: Path, rows: list[dict[str, Any]], collected: int) -> Path:
    """Write ``directory/index.html`` atomically; returns its path."""
    path = directory / "index.html"
    text = render(rows, directory, collected)
    write_atomically(path, text)
    return path


def render(rows: Iterable[dict[str, Any]], directory: Path, collected: int) -> str:
    """The page's HTML for these rows (``_hooks._row``), reading diagrams from
    ``directory``.

    >>> page = render([{"nodeid": "t.py::test_<a>", "outcome": "passed", "nodes": 0,
    ...                 "makespan": 0.0, "speedups": [], "files": {}}], Path("."), 1)
    >>> "t.py::test_&lt;a&gt;" in page and "<script" not in page
    True
    """
    rows = sorted(rows, key=lambda r: str(r["nodeid"]))
    counts = Counter(str(r["outcome"]) for r in rows)
    count_text = "".join(f'<span class="{o}">{counts[o]} {o}</span>'
                         for o in _ORDER if counts[o])
    body = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>pytest-tcg report</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        "<h1>pytest-tcg: graphs of the test run</h1>",
        f'<p class="counts">{len(rows)} tests of {collected} collected: {count_text}</p>',
        "<table>",
        "<thead><tr><th>test</th><th>outcome</th><th>nodes</th><th>makespan</th>"
        "<th>speedup checks</th><th>files</th></tr></thead>", "<tbody>",
    ]
    for row in rows:
        body.extend(_row_html(row, directory))
    body += ["</tbody>", "</table>", "</body>", "</html>", ""]
    return "\n".join(body)


def _row_html(row: dict[str, Any], directory: Path) -> list[str]:
    outcome = html.escape(str(row["outcome"]))
    files: dict[str, str] = row["files"]
    makespan = f"{row['makespan'] * 1000:.1f} ms" if row["nodes"] else ""
    links = " ".join(f'<a href="{html.escape(quote(name))}">{html.escape(fmt)}</a>'
                     for fmt, name in sorted(files.items()))
    cells = [
        f"<td><code>{html.escape(str(row['nodeid']))}</code></td>",
        f'<td class="{outcome}">{outcome}</td>',
        f'<td class="num">{row["nodes"] or ""}</td>',
        f'<td class="num">{makespan}</td>',
        f"<td>{_checks(row['speedups'], str(row['outcome']))}</td>",
        f"<td>{links}</td>",
    ]
    lines = ["<tr>" + "".join(cells) + "</tr>"]
    why = _why(row)
    if why:
        lines.append(f'<tr><td colspan="6" class="why">{why}</td></tr>')
    diagram = _diagram(files, directory)
    if diagram:
        opened = " open" if row["outcome"] in ("failed", "error") else ""
        lines.append(f'<tr><td colspan="6"><details{opened}><summary>diagram</summary>'
                     f'<div class="diagram">{diagram}</div></details></td></tr>')
    return lines


def _why(row: dict[str, Any]) -> str:
    """Why the test failed (or was expected to): the failing nodes' one-line errors,
    then pytest's own reason (an assertion's text, say), each escaped."""
    parts = [f'<div class="node-error">failed node: {html.escape(text)}</div>'
             for text in row.get("node_errors") or ()]
    reason = row.get("reason")
    if reason and row["outcome"] in ("failed", "error", "xfailed", "xpassed"):
        parts.append(f'<div class="reason">{html.escape(str(reason))}</div>')
    return "".join(parts)


def _checks(checks: list[dict[str, Any]], outcome: str) -> str:
    """Each speedup check's verdict. A check that fell short in a test pytest did not
    fail was expected to (``pytest.raises``, ``xfail``): shown as such, not red."""
    parts = []
    for check in checks:
        verdict = "passed" if check["passed"] else "failed"
        sign = "≥" if check["passed"] else "<"
        shown = verdict
        if not check["passed"] and outcome not in ("failed", "error"):
            shown, verdict = "failed as expected", "expected"
        parts.append(f'<span class="check-{verdict}">{check["speedup"]:.2f}x {sign} '
                     f'{check["min"]:g}x ({html.escape(str(check["kind"]))}, {shown})'
                     "</span>")
    return "<br>".join(parts)


def _diagram(files: dict[str, str], directory: Path) -> str:
    """The diagram to show inline, best first; empty when no file can be read."""
    for fmt in ("svg", "png", "dot", "mmd"):
        name = files.get(fmt)
        if name is None:
            continue
        path = directory / name
        try:
            if fmt == "svg":
                text = path.read_text(encoding="utf-8")
                start = text.find("<svg")
                if start >= 0:  # drop the XML prolog and DOCTYPE: invalid inside HTML
                    return text[start:]
            elif fmt == "png":
                data = base64.b64encode(path.read_bytes()).decode("ascii")
                return f'<img alt="diagram" src="data:image/png;base64,{data}">'
            else:
                return f"<pre>{html.escape(path.read_text(encoding='utf-8'))}</pre>"
        except OSError:
            continue
    return ""

"""Pipeline coverage as a page (``coverage.html`` beside the HTML report): a table of the
node functions, those never run first (a click on a column header sorts by it), and the
call graph the tests exercised: node functions as boxes, data edges with their counts,
nesting dashed, never-run ones grey. Self-contained: inline CSS, a few lines of inline script for
sorting, nothing fetched from the network."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import html
import shutil
import subprocess

from ._ledger import FunctionRecord, Ledger, Universe, percent

__all__ = ["render"]

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em; }
table { border-collapse: collapse; width: 100%; margin: 1em 0; }
th, td { text-align: left; padding: .3em .7em; border-bottom: 1px solid #e3e3e3; }
th { background: #f5f5f7; cursor: pointer; } td.num { text-align: right; }
.never { color: #cf222e; font-weight: 600; } .only { color: #9a6700; }
.body { color: #1a7f37; } code { font: 12px ui-monospace, Menlo, monospace; }
.graph { overflow: auto; border: 1px solid #e3e3e3; padding: .5em; }
"""
# Sorting by a column header: numbers as numbers, text as text; no library.
_SCRIPT = """
document.querySelectorAll("th").forEach((th, i) => th.addEventListener("click", () => {
  const body = th.closest("table").tBodies[0];
  const rows = Array.from(body.rows);
  const value = r => { const t = r.cells[i].dataset.sort ?? r.cells[i].textContent;
                       return isNaN(t) || t === "" ? t : Number(t); };
  const up = th.dataset.up !== "1"; th.dataset.up = up ? "1" : "0";
  rows.sort((a, b) => (value(a) > value(b) ? 1 : value(a) < value(b) ? -1 : 0) * (up ? 1 : -1));
  rows.forEach(r => body.appendChild(r));
}));
"""


def render(ledger: Ledger, universe: Universe) -> str:
    """The page's HTML.

    >>> page = render(Ledger(), Universe())
    >>> "0 of 0 node functions run" in page
    True
    """
    total = len(universe.functions)
    ran = sum(1 for k in universe.functions if (ledger.functions.get(k) or
                                                 FunctionRecord()).bodies)
    rows = []
    for key, info in universe.functions.items():
        record = ledger.functions.get(key) or FunctionRecord()
        how = record.how()
        css = "body" if record.bodies else ("never" if how == "never run" else "only")
        rows.append((record.bodies > 0, key, (
            f'<tr><td><code>{html.escape(key)}</code></td>'
            f'<td class="{css}" data-sort="{int(record.bodies > 0)}{html.escape(how)}">'
            f"{html.escape(how)}</td>"
            f'<td class="num">{len(record.tests)}</td><td class="num">{record.bodies}</td>'
            f'<td class="num">{record.failed}</td>'
            f"<td>{'yes' if record.failure_tested else ''}</td>"
            f"<td>{'yes' if record.nested else ''}</td>"
            f"<td><code>{html.escape(info.file)}:{info.line}</code></td></tr>")))
    rows.sort(key=lambda r: (r[0], r[1]))
    errors = "".join(f"<p class=\"never\">could not import {html.escape(e)}</p>"
                     for e in universe.import_errors)
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        "<title>pytest-tcg pipeline coverage</title>", f"<style>{_CSS}</style>", "</head>",
        "<body>", "<h1>Pipeline coverage</h1>",
        f"<p>{ran} of {total} node functions run "
        f"({percent(ledger, universe):.1f}%)</p>", errors,
        "<table><thead><tr><th>node function</th><th>how</th><th>tests</th><th>bodies</th>"
        "<th>failed</th><th>failure tested</th><th>nested</th><th>where</th></tr></thead>",
        "<tbody>", *(row for _, _, row in rows), "</tbody></table>",
        "<h2>The call graph the tests exercised</h2>",
        f'<div class="graph">{_graph(ledger, universe)}</div>',
        f"<script>{_SCRIPT}</script>", "</body>", "</html>", ""])


def _graph(ledger: Ledger, universe: Universe) -> str:
    """The exercised data edges (solid) and nesting (dashed: a body created the call)
    as an SVG (Graphviz), or their DOT text without it."""
    lines = ["digraph coverage {", '  rankdir="LR";', '  node [shape="box"];']
    for key in sorted(universe.functions):
        record = ledger.functions.get(key) or FunctionRecord()
        style = "" if record.bodies else ', color="#bbbbbb", fontcolor="#888888"'
        lines.append(f'  "{_dot(key)}" [label="{_dot(key.partition(":")[2])}"{style}];')
    for edge, count in sorted(ledger.edges.items()):
        source, _, target = edge.partition(" -> ")
        if source in universe.functions and target in universe.functions:
            lines.append(f'  "{_dot(source)}" -> "{_dot(target)}" [label="{count}"];')
    for edge, count in sorted(ledger.nesting.items()):  # a body created these calls
        source, _, target = edge.partition(" -> ")
        if source in universe.functions and target in universe.functions:
            lines.append(f'  "{_dot(source)}" -> "{_dot(target)}" [label="{count}", '
                         'style="dashed", color="#6e7781", arrowhead="odot"];')
    lines.append("}")
    text = "\n".join(lines)
    program = shutil.which("dot")
    if program is None:
        return f"<pre>{html.escape(text)}</pre>"
    try:
        done = subprocess.run([program, "-Tsvg"], input=text.encode(), capture_output=True,
                              timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        return f"<pre>{html.escape(text)}</pre>"
    svg = done.stdout.decode("utf-8", "replace")
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else f"<pre>{html.escape(text)}</pre>"


def _dot(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')

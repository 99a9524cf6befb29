"""The ``tcg`` section of a failing test's report: which node failed, where it sits, what
fed it and what it left undone, as text that fits in a terminal.

>>> from tcg_core import node
>>> @node
... def load():
...     return 1
>>> @node
... def boom(x):
...     raise ValueError("bad input")
>>> @node
... def write(x):
...     return x
>>> f = write(boom(load()))
>>> try:
...     f.resolve(executor="serial", keep_going=True)
... except Exception:
...     pass
>>> print(describe(f.graph))
graph: 3 nodes: 1 done, 1 failed, 1 skipped
failed: boom (boom): ValueError: bad input
  inputs: load (done)
skipped because of it: write
around it:
  load   done
  boom   FAILED   ValueError: bad input  <- load
  write  skipped   <- boom
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from tcg_core import DependencyError, GraphModel, NodeRecord, NodeState

from .._text import first_line

__all__ = ["describe", "one_line_errors", "root_failures"]

_MAX_TREE = 30
_MAX_FAILURES = 3
_MAX_NAMES = 12


def root_failures(model: GraphModel) -> list[NodeRecord]:
    """Nodes whose own body failed; a parent failing because of its child, or a node
    because of its input, is a consequence rather than a cause."""
    return [r for r in model.failed() if not isinstance(r.error, DependencyError)]


def one_line_errors(model: GraphModel) -> list[str]:
    """Each failing node's error in one line, causes first: type and message, nesting
    path, and the call (which one, when a function ran many times).

    >>> from tcg_core import node
    >>> @node
    ... def boom(x):
    ...     raise ValueError("bad input")
    >>> f = boom(2)
    >>> try:
    ...     f.resolve(executor="serial")
    ... except Exception:
    ...     pass
    >>> one_line_errors(f.graph)  # doctest: +ELLIPSIS
    ['boom (boom): ValueError: bad input; the call: boom#...(2)']
    """
    lines = []
    for rec in root_failures(model)[:_MAX_FAILURES]:
        line = f"{rec.name} ({rec.path}): {_error(rec)}"
        lines.append(f"{line}; the call: {rec.call}" if rec.call else line)
    return lines


def describe(model: GraphModel, files: Mapping[str, str] | None = None) -> str:
    """The section's text: a one-line count of states, each failing node with its path,
    inputs and what it caused to be skipped, the part of the nesting tree around it, and
    the saved files (``files``: format → path as shown)."""
    records = model.nodes
    states: Counter[str] = Counter(r.state for r in records)
    order = (NodeState.DONE, NodeState.FAILED, NodeState.SKIPPED, NodeState.RUNNING,
             NodeState.PENDING)
    counts = ", ".join(f"{states[s]} {s}" for s in order if states[s])
    lines = [f"graph: {len(records)} node{'' if len(records) == 1 else 's'}: {counts}"]
    causes = root_failures(model)
    for rec in causes[:_MAX_FAILURES]:
        lines.append(f"failed: {rec.name} ({rec.path}): {_error(rec)}")
        if rec.inputs:
            lines.append("  inputs: " + ", ".join(f"{i.name} ({i.state})" for i in rec.inputs))
        if rec.attempts and rec.attempts > 1:
            lines.append(f"  attempts: {rec.attempts}")
    if len(causes) > _MAX_FAILURES:
        lines.append(f"... and {len(causes) - _MAX_FAILURES} more failed nodes")
    skipped = model.skipped()
    if skipped:
        names = [r.name for r in skipped]
        shown = ", ".join(names[:_MAX_NAMES]) + (
            f", ... ({len(names)} in all)" if len(names) > _MAX_NAMES else "")
        lines.append(f"skipped because of it: {shown}")
    focus = _focus(records, causes)
    lines.append("around it:" if causes else "the graph:")
    lines.extend(_tree(records, focus))
    for fmt, label in (("svg", "diagram"), ("png", "diagram"), ("dot", "diagram"),
                       ("mmd", "diagram"), ("json", "json"), ("trace", "trace")):
        if files and fmt in files:
            note = " (open it in https://ui.perfetto.dev)" if fmt == "trace" else ""
            lines.append(f"{label}: {files[fmt]}{note}")
    return "\n".join(lines)


def _error(rec: NodeRecord) -> str:
    error = rec.error
    if error is None:
        return "(no error recorded)"
    return first_line(error)


def _focus(records: list[NodeRecord], causes: list[NodeRecord]) -> set[int]:
    """The failing nodes, their inputs, their parents and what they left skipped; every
    node when nothing failed (the test failed on its own assertion)."""
    if not causes:
        return {r.id for r in records}
    chosen: set[int] = set()
    for rec in causes:
        for up in rec.lineage():
            chosen.add(up.id)
            chosen.update(i.id for i in up.inputs)
    for rec in records:
        if rec.state == NodeState.SKIPPED:
            chosen.update(r.id for r in rec.lineage())
    return chosen


def _tree(records: list[NodeRecord], focus: set[int]) -> list[str]:
    """The nesting tree of the focused nodes, one line each (state, error, inputs), with
    how many siblings were left out."""
    known = {r.id for r in records}
    rows: list[tuple[str, NodeRecord]] = []
    hidden_note: list[tuple[int, str]] = []  # (position in rows, note)

    def visit(siblings: list[NodeRecord], prefix: str, top: bool) -> None:
        shown = [r for r in siblings if r.id in focus]
        left_out = len(siblings) - len(shown)
        for i, rec in enumerate(shown):
            last = i == len(shown) - 1 and not left_out
            branch = "" if top else prefix + ("└── " if last else "├── ")
            rows.append((branch + rec.name, rec))
            kids = [c for c in rec.children or () if c.id in known]
            if kids:
                visit(kids, "" if top else prefix + ("    " if last else "│   "), False)
        if left_out:
            hidden_note.append((len(rows), ("" if top else prefix + "└── ")
                                + f"... {left_out} more"))

    visit([r for r in records if r.parent is None or r.parent.id not in known], "", True)
    width = max((len(text) for text, _ in rows), default=0)
    lines = [f"  {text:<{width}}  {_state(rec)}" for text, rec in rows]
    for position, note in reversed(hidden_note):
        lines.insert(position, f"  {note}")
    if len(lines) > _MAX_TREE:
        lines = [*lines[:_MAX_TREE], f"  ... {len(lines) - _MAX_TREE} more lines"]
    return lines


def _state(rec: NodeRecord) -> str:
    cause = rec.state == NodeState.FAILED and not isinstance(rec.error, DependencyError)
    text = f"{'FAILED' if cause else rec.state:<8}"
    if cause:
        text += f" {_error(rec)}"
    if rec.inputs:
        text += "  <- " + ", ".join(i.name for i in rec.inputs)
    return text.rstrip()


def shown_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when it is inside it."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)

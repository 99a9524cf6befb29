"""What every exporter shares: argument checks, optional imports, labels and display states."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import importlib
import json
import re
import unicodedata
from typing import Any

from .._errors import PATH_SEPARATOR, TcgError, safe_text
from .._graph import GraphModel, NodeRecord, NodeState

__all__ = ["as_model", "display_states", "error_text", "error_type", "format_seconds",
           "import_optional", "paths", "printable", "unreturned_ids"]


def as_model(graph: object) -> GraphModel:
    """``graph`` itself if it is a graph model; otherwise a ``TcgError`` that names the fix."""
    if isinstance(graph, GraphModel):
        return graph
    hint = ""
    if hasattr(graph, "resolve") and hasattr(graph, "node"):
        hint = "; for a future, pass future.graph"
    raise TcgError(f"expected a Graph or GraphModel, got {type(graph).__name__}{hint}")


def import_optional(module: str, package: str, purpose: str) -> Any:
    """Import an optional library, or raise a ``TcgError`` that says what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise TcgError(f"{purpose} needs the {package!r} package: pip install {package}") from exc


def error_text(error: BaseException | None) -> str | None:
    """``"Type: message"`` for an error (``"Type"`` alone when the message is empty)."""
    if error is None:
        return None
    kind = getattr(error, "type_name", None) or type(error).__name__
    message = safe_text(error)
    return f"{kind}: {message}" if message else str(kind)


def error_type(error: BaseException | None) -> str | None:
    """The error's type name (kept across a JSON round trip)."""
    if error is None:
        return None
    return str(getattr(error, "type_name", None) or type(error).__name__)


def paths(records: list[NodeRecord]) -> dict[int, tuple[str, int]]:
    """Per record id, its nesting path and depth, each parent's computed once.

    ``record.path`` walks up to the root on every call; for deep graphs that is
    quadratic, so exporters ask here instead.
    """
    known: dict[int, tuple[str, int]] = {}
    for rec in records:
        chain: list[NodeRecord] = []
        cur: NodeRecord | None = rec
        while cur is not None and cur.id not in known:
            chain.append(cur)
            cur = cur.parent
        path, depth = known[cur.id] if cur is not None else ("", -1)
        for link in reversed(chain):
            path = f"{path}{PATH_SEPARATOR}{link.name}" if depth >= 0 else link.name
            depth += 1
            known[link.id] = (path, depth)
    return known


#: Control characters, Unicode line breaks and lone surrogates (which UTF-8 cannot
#: encode: a file holding one cannot be written).
_HIDDEN = frozenset({"Cc", "Zl", "Zp", "Cs"})
#: The longest line of a label drawn: Graphviz refuses a quoted string over 16,384
#: characters, and no reader needs more of an error message in a box.
MAX_LABEL_LINE = 2000


def printable(text: str) -> str:
    """``text`` as a drawing shows it: control characters, line separators other than
    newline and lone surrogates as ``\\xNN``/``\\uNNNN`` (a raw U+2028 would split a
    line in DOT and Mermaid tools), each line clipped to ``MAX_LABEL_LINE`` characters.

    >>> printable("a\\u2028b\\ud800")
    'a\\\\u2028b\\\\ud800'
    """
    if not text.isprintable():
        text = "".join(c if c == "\n" or unicodedata.category(c) not in _HIDDEN
                       else (f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}")
                       for c in text)
    if len(text) > MAX_LABEL_LINE:
        text = "\n".join(line if len(line) <= MAX_LABEL_LINE
                         else f"{line[:MAX_LABEL_LINE - 1]}…" for line in text.split("\n"))
    return text


_SURROGATE = re.compile("[\ud800-\udfff]")


def dump_json(doc: object, *, indent: int | None) -> str:
    """``doc`` as JSON text that keeps non-ASCII text readable and that UTF-8 can
    encode: a lone surrogate (a name, an error message) is written as its ``\\uXXXX``
    escape, which reads back as the same string.

    >>> dump_json({"name": "caf\\u00e9\\ud800"}, indent=None)
    '{"name": "café\\\\ud800"}'
    """
    text = json.dumps(doc, indent=indent, ensure_ascii=False, allow_nan=False)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def format_seconds(seconds: float) -> str:
    """A short human duration: ``'2.5 µs'``, ``'850 µs'``, ``'12.3 ms'``, ``'1.25 s'``."""
    if seconds < 10e-6:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def unreturned_ids(records: list[NodeRecord]) -> set[int]:
    """Ids of children whose value reaches nothing their parent returned.

    ``record.returned`` is ``False`` for every child that is not itself part of the
    parent's return value, including children that only feed a returned sibling (``add``
    feeding ``multiply`` in ``pipeline``). Drawing those dashed would mark almost every
    intermediate step, so the drawings mark a child only when its value flows, through
    data edges, into no returned node: a fire-and-forget call whose result is dropped.
    """
    consumers: dict[int, list[NodeRecord]] = {}
    for rec in records:
        for src in rec.inputs:
            consumers.setdefault(src.id, []).append(rec)
    used: dict[int, bool] = {}
    # A record's inputs exist before it does, so consumers have larger ids: walking ids
    # downwards settles every consumer before the records it consumes.
    for rec in sorted(records, key=lambda r: r.id, reverse=True):
        used[rec.id] = (rec.parent is None or rec.returned
                        or any(used.get(c.id, True) for c in consumers.get(rec.id, ())))
    return {rec_id for rec_id, is_used in used.items() if not is_used}


_UNFINISHED = frozenset({NodeState.READY, NodeState.RUNNING, NodeState.WAITING})


def display_states(records: list[NodeRecord]) -> dict[int, set[str]]:
    """Per record id, the marks a drawing shows: ``failed``, ``skipped``, ``unfinished``
    (still ready, running or waiting when the run stopped), ``notrun`` (pending after a
    run began), ``unreturned``, ``replaced`` (a test double ran instead of the body),
    ``cached`` (the value came from the result cache)."""
    dangling = unreturned_ids(records)
    # Once a run has begun, a node it did not finish is drawn as such (a fail-fast, a
    # Ctrl-C, a timeout stopped it): never like a done one. A graph not run yet is not.
    began = any(rec.state != NodeState.PENDING for rec in records)
    marks: dict[int, set[str]] = {}
    for rec in records:
        found: set[str] = set()
        if rec.state == NodeState.FAILED:
            found.add("failed")
        elif rec.state == NodeState.SKIPPED:
            found.add("skipped")
        elif rec.state in _UNFINISHED:
            found.add("unfinished")
        elif began and rec.state == NodeState.PENDING:
            found.add("notrun")
        if rec.id in dangling:
            found.add("unreturned")
        if rec.replaced:
            found.add("replaced")
        if rec.cached:
            found.add("cached")
        marks[rec.id] = found
    return marks

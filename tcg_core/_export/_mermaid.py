"""Mermaid flowcharts: ``subgraph`` blocks for nesting, classes for failed/skipped/unreturned
(and replaced, when a test double ran)."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from .._graph import NodeRecord
from ._common import as_model, display_states, error_type, format_seconds, printable

__all__ = ["to_mermaid"]

_CLASS_DEFS = {
    "failed": "fill:#ffe0e0,stroke:#cc0000,stroke-width:2px,color:#990000",
    "skipped": "fill:#f0f0f0,stroke:#999999,stroke-dasharray:5 5,color:#777777",
    "unreturned": "stroke-dasharray:5 5",
}
#: defined only when a run stopped before these nodes finished (most diagrams: never)
_STOPPED_DEFS = {
    "unfinished": "fill:#fff8e0,stroke:#9a6700,stroke-dasharray:5 5,color:#7a5200",
    "notrun": "fill:#ffffff,stroke:#bbbbbb,stroke-dasharray:2 4,color:#888888",
}
_REPLACED = "fill:#fff6d5,stroke:#8a6d00,stroke-dasharray:2 2,color:#6b5500"

_CACHED_STYLE = "fill:#e0ecff,stroke:#1f5fbf,stroke-width:3px"

# Characters Mermaid would read as syntax or markup inside a quoted label, as its
# ``#code;`` entities (``#`` first, since every replacement starts with it).
_ENTITIES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "`": "#96;"}


def _text(value: str) -> str:
    for char, entity in _ENTITIES.items():
        value = value.replace(char, entity)
    return " ".join(printable(value).split("\n"))


def to_mermaid(graph: object, *, timings: bool = True) -> str:
    """Mermaid ``flowchart LR`` text of the graph.

    A node that created other nodes is a ``subgraph`` holding its children; the others
    are boxes labelled with their name and, once they ran, their duration. Ids are
    ``n1``, ``n2``, ... in creation order and labels are quoted with Mermaid's entity
    codes for ``" # < > & `` and backquote, so any name is safe. Failed, skipped and
    unreturned nodes get the classes of the same names (see :func:`to_dot` for what
    each means).

    >>> from tcg_core import node, to_mermaid
    >>> @node
    ... def inc(x):
    ...     return x + 1
    >>> @node
    ... def outer(x):
    ...     return inc(x)
    >>> f = inc(outer(1))
    >>> f.resolve(executor="serial")
    3
    >>> print(to_mermaid(f.graph, timings=False), end="")
    flowchart LR
      subgraph n1["outer"]
        n3["inc"]
      end
      n2["inc"]
      n1 --> n2
      classDef failed fill:#ffe0e0,stroke:#cc0000,stroke-width:2px,color:#990000
      classDef skipped fill:#f0f0f0,stroke:#999999,stroke-dasharray:5 5,color:#777777
      classDef unreturned stroke-dasharray:5 5
    """
    model = as_model(graph)
    records = model.nodes
    number = {rec.id: i for i, rec in enumerate(records, start=1)}
    marks = display_states(records)
    out = ["flowchart LR"]

    def label(rec: NodeRecord) -> str:
        mark = marks[rec.id]
        parts = [_text(rec.name)] if rec.label is None else [_text(rec.name),
                                                             _text(rec.label)]
        if rec.order is not None:  # the position a shuffled run started it at
            parts.append(f"order {rec.order}")
        if not rec.children and timings and rec.duration is not None \
                and "skipped" not in mark:
            parts.append(format_seconds(rec.duration))
        if "failed" in mark:
            parts.append(_text(error_type(rec.error) or "failed") if not rec.children
                         else "(failed)")
        if "skipped" in mark:
            parts.append("(skipped)")
        if "unfinished" in mark:
            parts.append(f"(unfinished: {rec.state})")
        if "notrun" in mark:
            parts.append("(not run)")
        if "unreturned" in mark:
            parts.append("(unreturned)")
        if "replaced" in mark:
            parts.append("(replaced)")
        if "cached" in mark:
            parts.append("(cached)")
        return '"' + "<br>".join(parts) + '"'

    # A stack of records to write and of "end" lines, so deep nesting needs no recursion.
    todo: list[tuple[NodeRecord, str] | str] = [
        (rec, "  ") for rec in reversed(records) if rec.parent is None]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        rec, indent = item
        key = f"n{number[rec.id]}"
        if not rec.children:
            out.append(f"{indent}{key}[{label(rec)}]")
            continue
        out.append(f"{indent}subgraph {key}[{label(rec)}]")
        todo.append(f"{indent}end")
        todo.extend((child, indent + "  ") for child in reversed(rec.children))
    seen: set[tuple[int, int]] = set()
    for src, dst, _arg in model.edges():
        if (src.id, dst.id) not in seen:
            seen.add((src.id, dst.id))
            out.append(f"  n{number[src.id]} --> n{number[dst.id]}")
    out.extend(f"  classDef {name} {style}" for name, style in _CLASS_DEFS.items())
    if any(rec.cached for rec in records):  # only then, so other diagrams stay as they were
        out.append(f"  classDef cached {_CACHED_STYLE}")
    replaced = [f"n{number[rec.id]}" for rec in records if "replaced" in marks[rec.id]]
    if replaced:  # defined only when used: most graphs have no test double
        out.append(f"  classDef replaced {_REPLACED}")
    for name, style in _STOPPED_DEFS.items():
        if any(name in mark for mark in marks.values()):
            out.append(f"  classDef {name} {style}")
    for name in (*_CLASS_DEFS, "cached", *_STOPPED_DEFS):
        members = [f"n{number[rec.id]}" for rec in records if name in marks[rec.id]]
        if members:
            out.append(f"  class {','.join(members)} {name}")
    if replaced:
        out.append(f"  class {','.join(replaced)} replaced")
    return "\n".join(out) + "\n"

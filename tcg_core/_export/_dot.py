"""Graphviz drawings: a node with children is a cluster around them, data edges are arrows.

One layout is computed from the graph model and written two ways: as DOT text by hand
(no dependency) and as a ``pydot.Dot``. Every attribute value is quoted and escaped
here, so names with quotes, backslashes, ``<``, ``>``, ``&`` or any Unicode draw as
written.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from dataclasses import dataclass, field
from typing import Any

from .._graph import GraphModel, NodeRecord
from ._common import (
    as_model,
    display_states,
    error_type,
    format_seconds,
    import_optional,
    printable,
)

__all__ = ["to_dot", "to_pydot"]

_GRAPH_ATTRS = {"compound": "true", "rankdir": "LR", "newrank": "true"}
_NODE_ATTRS = {"shape": "box"}
_ANCHOR_ATTRS = {"shape": "point", "style": "invis", "width": "0", "height": "0", "label": ""}
_TIE_ATTRS = {"style": "invis", "minlen": "0"}
_FAILED = {"color": "#cc0000", "fontcolor": "#990000", "penwidth": "2"}
_SKIPPED = {"color": "#999999", "fontcolor": "#777777"}
#: a run stopped before the node finished (unfinished) or started (notrun)
_UNFINISHED = {"color": "#9a6700", "fontcolor": "#7a5200"}
_NOT_RUN = {"color": "#bbbbbb", "fontcolor": "#888888"}
#: a test double ran instead of the body: dotted, tinted, so a picture never passes off
#: a fake as the real step
_REPLACED = {"color": "#8a6d00", "fontcolor": "#6b5500"}
_CACHED = {"color": "#1f5fbf", "peripheries": "2", "fillcolor": "#e0ecff"}
#: What a cluster looks like unmarked. Graphviz hands a cluster's graph attributes down
#: to the clusters inside it, so a cluster inside a marked one states these explicitly:
#: otherwise a healthy step inside a failed parent would be drawn red (or grey, dashed).
_PLAIN_CLUSTER = {"color": "black", "fontcolor": "black", "penwidth": "1", "style": "solid"}


@dataclass
class _Box:
    """A leaf node (``members is None``), or a cluster with two invisible anchor nodes.

    Arrows into the cluster end at ``anchor`` and arrows out of it start at ``exit``.
    Invisible ``minlen=0`` edges keep ``anchor`` no later than any member and ``exit``
    no earlier, so in the left-to-right layout what feeds a parent is drawn before its
    cluster and what consumes it after.
    """

    key: str
    attrs: dict[str, str]
    members: list[_Box] | None = None
    anchor: str = ""
    exit: str = ""

    @property
    def entry_node(self) -> str:
        return self.anchor if self.members is not None else self.key

    @property
    def exit_node(self) -> str:
        return self.exit if self.members is not None else self.key


def _ties(box: _Box) -> list[tuple[str, str]]:
    """The invisible edges that hold a cluster's anchors at its first and last ranks."""
    assert box.members is not None
    return ([(box.anchor, m.entry_node) for m in box.members]
            + [(m.exit_node, box.exit) for m in box.members])


@dataclass
class _Layout:
    boxes: list[_Box] = field(default_factory=list)
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


def _layout(model: GraphModel, timings: bool) -> _Layout:
    records = model.nodes
    number = {rec.id: i for i, rec in enumerate(records, start=1)}
    marks = display_states(records)
    layout = _Layout()

    def box(rec: NodeRecord) -> _Box:
        k = number[rec.id]
        mark = marks[rec.id]
        lines = [rec.name] if rec.label is None else [rec.name, rec.label]
        if rec.order is not None:  # the position a shuffled run started it at
            lines.append(f"order {rec.order}")
        if rec.children:
            if "failed" in mark:
                lines.append("(failed)")
        else:
            if timings and rec.duration is not None and "skipped" not in mark:
                lines.append(format_seconds(rec.duration))
            if "failed" in mark:
                lines.append(error_type(rec.error) or "(failed)")
        if "skipped" in mark:
            lines.append("(skipped)")
        if "unfinished" in mark:
            lines.append(f"(unfinished: {rec.state})")
        if "notrun" in mark:
            lines.append("(not run)")
        if "unreturned" in mark:
            lines.append("(unreturned)")
        if "replaced" in mark:
            lines.append("(replaced)")
        if "cached" in mark:
            lines.append("(cached)")
        attrs: dict[str, str] = {"label": "\n".join(lines)}
        styles: list[str] = []
        if "failed" in mark:
            attrs.update(_FAILED)
            if not rec.children:
                styles.append("filled")
                attrs["fillcolor"] = "#ffe0e0"
        elif "skipped" in mark:
            attrs.update(_SKIPPED)
            styles.append("dashed")
            if not rec.children:
                styles.append("filled")
                attrs["fillcolor"] = "#f0f0f0"
        elif "unfinished" in mark or "notrun" in mark:
            attrs.update(_UNFINISHED if "unfinished" in mark else _NOT_RUN)
            styles.append("dashed")
        elif "replaced" in mark:
            attrs.update(_REPLACED)
            styles.append("dotted")
            if not rec.children:
                styles.append("filled")
                attrs["fillcolor"] = "#fff6d5"
        elif "cached" in mark:  # read from the result cache: a double, blue outline
            attrs.update(_CACHED)
            if not rec.children:
                styles.append("filled")
        if "unreturned" in mark and "dashed" not in styles and "dotted" not in styles:
            styles.append("dashed")
        if styles:
            attrs["style"] = ",".join(styles)
        if not rec.children:
            return _Box(f"n{k}", attrs)
        return _Box(f"cluster_{k}", attrs, [], anchor=f"n{k}", exit=f"n{k}_end")

    # Boxes first, then nesting, so no recursion limits how deep a graph may nest.
    boxes = {rec.id: box(rec) for rec in records}
    for rec in records:
        members = boxes[rec.id].members
        if members is not None:
            members.extend(boxes[child.id] for child in rec.children or ())
    layout.boxes = [boxes[rec.id] for rec in records if rec.parent is None]
    _stop_inheritance(layout.boxes)

    args: dict[tuple[int, int], list[str]] = {}
    ends: dict[tuple[int, int], tuple[NodeRecord, NodeRecord]] = {}
    for src, dst, arg in model.edges():
        args.setdefault((src.id, dst.id), []).append(arg)
        ends[(src.id, dst.id)] = (src, dst)
    for pair, names in args.items():
        src, dst = ends[pair]
        attrs = {"tooltip": ", ".join(names)}
        # An arrow to or from a parent ends on its cluster's border, unless one end sits
        # inside the other's cluster (Graphviz cannot clip an edge to a cluster it is in).
        if src.children and dst not in src.lineage() and src not in dst.lineage():
            attrs["ltail"] = f"cluster_{number[src.id]}"
        if dst.children and src not in dst.lineage() and dst not in src.lineage():
            attrs["lhead"] = f"cluster_{number[dst.id]}"
        if "failed" in marks[src.id]:
            attrs["color"] = _FAILED["color"]
        tail = f"n{number[src.id]}_end" if src.children else f"n{number[src.id]}"
        layout.edges.append((tail, f"n{number[dst.id]}", attrs))
    return layout


def _stop_inheritance(top: list[_Box]) -> None:
    """Give each cluster inside a marked cluster the plain value of every attribute it
    would otherwise inherit (leaf nodes inherit nothing from a cluster)."""
    todo: list[tuple[_Box, frozenset[str]]] = [(box, frozenset()) for box in top]
    while todo:
        box, inherited = todo.pop()
        if box.members is None:
            continue
        for name in inherited - box.attrs.keys():
            box.attrs[name] = _PLAIN_CLUSTER[name]
        # What this cluster hands down: its attributes that differ from plain.
        marked = frozenset(name for name, plain in _PLAIN_CLUSTER.items()
                           if box.attrs.get(name, plain) != plain)
        todo.extend((member, marked) for member in box.members)


def _quote(value: str) -> str:
    """A DOT double-quoted string whose label text reads exactly ``value``."""
    lines = printable(value).split("\n")
    escaped = [line.replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;")
               .replace("\r", "") for line in lines]
    return '"' + "\\n".join(escaped) + '"'


def _attr_list(attrs: dict[str, str]) -> str:
    return ", ".join(f"{name}={_quote(value)}" for name, value in attrs.items())


def to_dot(graph: object, *, timings: bool = True) -> str:
    """Graphviz DOT text of the graph; no dependency needed.

    A node that created other nodes is a cluster (``subgraph cluster_<n>``) labelled
    with its name and drawn around its children; the other nodes are boxes labelled
    with their name and, once they ran, their duration. Data edges are arrows (the
    argument names are the tooltip); an arrow to or from a cluster ends on the
    cluster's border (``compound=true``, ``lhead``/``ltail`` and invisible anchor nodes
    ``n<k>``/``n<k>_end`` inside the cluster). Failed nodes are red,
    skipped nodes grey and dashed, and only those: a healthy cluster inside a failed one
    states plain colours, which Graphviz would otherwise let it inherit. Children whose
    value reaches nothing their parent returned are dashed and noted "(unreturned)".
    Nodes a test double replaced (``override``) are dotted, tinted and noted "(replaced)".
    Node names in the text are ``n1``, ``n2``, ... in creation order, so the same graph
    always gives the same text; ``timings=False`` leaves durations out, so a re-run
    compares equal too.

    >>> from tcg_core import node, to_dot
    >>> @node
    ... def inc(x):
    ...     return x + 1
    >>> @node
    ... def outer(x):
    ...     return inc(x)
    >>> f = inc(outer(1))
    >>> f.resolve(executor="serial")
    3
    >>> print(to_dot(f.graph, timings=False), end="")
    digraph tcg {
      graph [compound="true", rankdir="LR", newrank="true"];
      node [shape="box"];
      subgraph cluster_1 {
        label="outer";
        n1 [shape="point", style="invis", width="0", height="0", label=""];
        n1_end [shape="point", style="invis", width="0", height="0", label=""];
        n3 [label="inc"];
        n1 -> n3 [style="invis", minlen="0"];
        n3 -> n1_end [style="invis", minlen="0"];
      }
      n2 [label="inc"];
      n1_end -> n2 [tooltip="x", ltail="cluster_1"];
    }
    """
    layout = _layout(as_model(graph), timings)
    out = ["digraph tcg {", f"  graph [{_attr_list(_GRAPH_ATTRS)}];",
           f"  node [{_attr_list(_NODE_ATTRS)}];"]

    tie = _attr_list(_TIE_ATTRS)
    # A stack of boxes to open and of closing lines, so deep nesting needs no recursion.
    todo: list[tuple[_Box, str] | list[str]] = [(box, "  ") for box in reversed(layout.boxes)]
    while todo:
        item = todo.pop()
        if isinstance(item, list):
            out.extend(item)
            continue
        box, indent = item
        if box.members is None:
            out.append(f"{indent}{box.key} [{_attr_list(box.attrs)}];")
            continue
        out.append(f"{indent}subgraph {box.key} {{")
        inner = indent + "  "
        out.extend(f"{inner}{name}={_quote(value)};" for name, value in box.attrs.items())
        out.extend(f"{inner}{anchor} [{_attr_list(_ANCHOR_ATTRS)}];"
                   for anchor in (box.anchor, box.exit))
        todo.append([*(f"{inner}{tail} -> {head} [{tie}];" for tail, head in _ties(box)),
                     f"{indent}}}"])
        todo.extend((member, inner) for member in reversed(box.members))
    for tail, head, attrs in layout.edges:
        out.append(f"  {tail} -> {head} [{_attr_list(attrs)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def to_pydot(graph: object, *, timings: bool = True) -> Any:
    """The drawing of :func:`to_dot` as a ``pydot.Dot`` (needs ``pip install pydot``).

    >>> from tcg_core import node, to_pydot
    >>> @node
    ... def inc(x):
    ...     return x + 1
    >>> @node
    ... def outer(x):
    ...     return inc(x)
    >>> f = outer(1)
    >>> f.resolve(executor="serial")
    2
    >>> dot = to_pydot(f.graph)
    >>> [sub.get_name() for sub in dot.get_subgraphs()]
    ['cluster_1']
    >>> dot.get_subgraphs()[0].get_label()
    '"outer"'
    """
    layout = _layout(as_model(graph), timings)
    pydot = import_optional("pydot", "pydot", "to_pydot()")

    def quoted(attrs: dict[str, str]) -> dict[str, str]:
        return {name: _quote(value) for name, value in attrs.items()}

    dot = pydot.Dot("tcg", graph_type="digraph")
    dot.set_graph_defaults(**quoted(_GRAPH_ATTRS))
    dot.set_node_defaults(**quoted(_NODE_ATTRS))

    todo: list[tuple[_Box, Any]] = [(box, dot) for box in reversed(layout.boxes)]
    while todo:
        box, parent = todo.pop()
        if box.members is None:
            parent.add_node(pydot.Node(box.key, **quoted(box.attrs)))
            continue
        cluster = pydot.Subgraph(box.key, **quoted(box.attrs))
        for anchor in (box.anchor, box.exit):
            cluster.add_node(pydot.Node(anchor, **quoted(_ANCHOR_ATTRS)))
        for tail, head in _ties(box):
            cluster.add_edge(pydot.Edge(tail, head, **quoted(_TIE_ATTRS)))
        parent.add_subgraph(cluster)
        todo.extend((member, cluster) for member in reversed(box.members))
    for tail, head, attrs in layout.edges:
        dot.add_edge(pydot.Edge(tail, head, **quoted(attrs)))
    return dot

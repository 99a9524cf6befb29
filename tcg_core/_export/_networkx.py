"""The graph as a ``networkx.DiGraph``: data edges, or the nesting tree with ``nesting=True``."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from typing import Any

from ._common import as_model, error_text, import_optional, paths, unreturned_ids

__all__ = ["to_networkx"]


def to_networkx(graph: object, *, nesting: bool = False) -> Any:
    """A ``networkx.DiGraph`` keyed by node id.

    Node attributes: ``name``, ``parent`` (the parent's id or ``None``), ``path``,
    ``depth``, ``state``, ``start``, ``end``, ``duration``, ``worker``, ``returned``,
    ``unreturned`` (its value reaches nothing the parent returned), ``attempts`` and
    ``error`` (``"Type: message"`` or ``None``).

    Edges are data edges, producer → consumer, with ``arg`` (the argument names joined
    by ``", "``; several arguments fed by one producer give one edge) and ``args`` (a
    tuple of the names). With ``nesting=True`` the edges are instead parent → child, so
    the result is the nesting forest (each edge has ``returned``, the child's flag).

    >>> from tcg_core import node, to_networkx
    >>> @node
    ... def add(a, b):
    ...     return a + b
    >>> @node
    ... def twice(x):
    ...     return add(x, x)
    >>> total = add(twice(3), 1)
    >>> total.resolve(executor="serial")
    7
    >>> g = to_networkx(total.graph)
    >>> sorted(name for _, name in g.nodes(data="name"))
    ['add', 'add', 'twice']
    >>> [(g.nodes[u]["name"], g.nodes[v]["name"], arg) for u, v, arg in g.edges(data="arg")]
    [('twice', 'add', 'a')]
    >>> tree = to_networkx(total.graph, nesting=True)
    >>> [(tree.nodes[u]["name"], tree.nodes[v]["name"]) for u, v in tree.edges]
    [('twice', 'add')]
    """
    model = as_model(graph)
    nx = import_optional("networkx", "networkx", "to_networkx()")
    records = model.nodes
    dangling = unreturned_ids(records)
    where = paths(records)
    out = nx.DiGraph()
    for rec in records:
        path, depth = where[rec.id]
        out.add_node(
            rec.id, name=rec.name, label=rec.label,
            parent=rec.parent.id if rec.parent is not None else None,
            path=path, depth=depth, state=rec.state, start=rec.start, end=rec.end,
            duration=rec.duration, worker=rec.worker, returned=rec.returned,
            unreturned=rec.id in dangling, attempts=rec.attempts, error=error_text(rec.error))
    if nesting:
        for rec in records:
            for child in rec.children or ():
                out.add_edge(rec.id, child.id, returned=child.returned)
        return out
    names: dict[tuple[int, int], list[str]] = {}
    for src, dst, arg in model.edges():
        names.setdefault((src.id, dst.id), []).append(arg)
    for (src_id, dst_id), args in names.items():
        out.add_edge(src_id, dst_id, arg=", ".join(args), args=tuple(args))
    return out

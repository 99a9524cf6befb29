"""Turning what a test holds (a Graph, futures, a list of them) into a graph model, and the
name-labelled views the assertions and snapshots compare."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from tcg_core import Future, Graph, GraphModel, NodeRecord, is_future

__all__ = ["GraphLike", "as_model", "check_builder", "futures_of", "label_paths", "topological",
           "data_digraph", "PATH_SEP",
           "counted", "clip"]

#: A Graph or graph model, a future, or an iterable of those.
GraphLike = Any
PATH_SEP = " › "
_MAX_LINES = 40


def as_model(target: GraphLike) -> GraphModel:
    """A graph model over everything ``target`` reaches.

    >>> from tcg_core import node
    >>> @node
    ... def inc(x):
    ...     return x + 1
    >>> [r.name for r in as_model([inc(1), inc(2)]).nodes]
    ['inc', 'inc']
    """
    if isinstance(target, GraphModel):
        return target
    return GraphModel(_records(target))


def _records(target: Any) -> list[NodeRecord]:
    if isinstance(target, GraphModel):
        return target.nodes
    if is_future(target):
        return [target.node]
    if isinstance(target, NodeRecord):
        return [target]
    if isinstance(target, Iterable) and not isinstance(target, (str, bytes, dict)):
        return [rec for item in target for rec in _records(item)]
    raise TypeError(f"expected a tcg Graph, a Future or a list of futures, not "
                    f"{type(target).__name__} {target!r:.60}")


def check_builder(where: str, target: Any) -> None:
    """Refuse, with what to write instead, a ``target`` that is not a function building
    the pipeline afresh (a check that runs the pipeline several times needs one).

    >>> check_builder("assert_order_independent()", 5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: assert_order_independent() needs a zero-argument function ...; got int 5
    """
    if callable(target) and not is_future(target) and not isinstance(target, (Graph,
                                                                                GraphModel)):
        return
    hint = (f"; got a {type(target).__name__}: wrap what builds it, lambda: "
            f"pipeline(...)") if is_future(target) or isinstance(target, (Graph, GraphModel)) \
        else f"; got {type(target).__name__} {target!r:.60}"
    raise TypeError(f"{where} needs a zero-argument function that builds the pipeline afresh "
                    "on each call (futures resolve only once), e.g. lambda: pipeline(...)"
                    f"{hint}")


def futures_of(target: Any) -> list[Future[Any]]:
    """The futures to resolve for ``target``: a future, a recording Graph's futures, or a
    list of futures."""
    if is_future(target):
        return [target]
    if isinstance(target, Graph):
        return target.futures
    if isinstance(target, GraphModel):
        raise TypeError("a graph model cannot be resolved; pass the futures or the "
                        "recording Graph (with Graph() as g: ...) instead")
    if isinstance(target, (list, tuple)):
        return [f for item in target for f in futures_of(item)]
    raise TypeError(f"expected a Future, a recording Graph or a list of futures, not "
                    f"{type(target).__name__} {target!r:.60}")


def topological(records: list[NodeRecord]) -> list[NodeRecord]:
    """``records`` with each node after its inputs and its children (an iterative
    post-order: no recursion limit however deep the graph)."""
    known = {r.id for r in records}
    done: set[int] = set()
    order: list[NodeRecord] = []
    for root in records:
        stack: list[tuple[NodeRecord, bool]] = [(root, False)]
        while stack:
            rec, expanded = stack.pop()
            if rec.id in done:
                continue
            if expanded:
                done.add(rec.id)
                order.append(rec)
                continue
            stack.append((rec, True))
            stack.extend((dep, False) for dep in (*rec.inputs, *(rec.children or ()))
                         if dep.id not in done and dep.id in known)
    return order


def label_paths(records: list[NodeRecord],
                name: Callable[[str], str] = str) -> dict[int, str]:
    """A readable, unique label per node: its nesting path, with ``#k`` where siblings
    share a name (``pipeline › inc#2``). Siblings are numbered in a canonical order (by
    what feeds them), so the labels do not depend on thread timing. ``name`` spells each
    node's name in the label (snapshots escape the separator with it)."""
    by_parent: dict[int | None, list[NodeRecord]] = {}
    for rec in records:
        parent = rec.parent.id if rec.parent is not None else None
        by_parent.setdefault(parent, []).append(rec)
    labels: dict[int, str] = {}
    signature = _signatures(records)

    def visit(parent: int | None, prefix: str) -> None:
        siblings = by_parent.get(parent, [])
        counts = Counter(r.name for r in siblings)
        seen: Counter[str] = Counter()
        for rec in sorted(siblings, key=lambda r: (r.name, signature[r.id], r.id)):
            label = name(rec.name)
            if counts[rec.name] > 1:
                seen[rec.name] += 1
                label = f"{label}#{seen[rec.name]}"
            labels[rec.id] = prefix + label
            visit(rec.id, labels[rec.id] + PATH_SEP)

    visit(None, "")
    for rec in records:  # a parent outside the set: label by path alone
        labels.setdefault(rec.id, PATH_SEP.join(name(r.name) for r in rec.lineage()))
    return labels


def _signatures(records: list[NodeRecord], rounds: int = 3) -> dict[int, str]:
    """A few rounds of neighbourhood refinement over names, so equal-named nodes get an
    order that reflects their wiring rather than their creation order."""
    sig = {r.id: r.name for r in records}
    for _ in range(rounds):
        sig = {r.id: _digest(sig[r.id], sorted(sig.get(i.id, i.name) for i in r.inputs),
                             sorted(sig.get(c.id, c.name) for c in r.children or ()))
               for r in records}
    return sig


def _digest(own: str, inputs: list[str], children: list[str]) -> str:
    # Hashed so the signature stays short however wide the graph is.
    text = "\x00".join([own, *inputs, "|", *children])
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def data_digraph(model: GraphModel) -> Any:
    """A ``networkx.DiGraph`` keyed by node id: ``name`` on nodes, data edges producer →
    consumer (several arguments fed by one producer give one edge)."""
    import networkx as nx

    graph = nx.DiGraph()
    for rec in model.nodes:
        graph.add_node(rec.id, name=rec.name)
    for src, dst, _arg in model.edges():
        graph.add_edge(src.id, dst.id)
    return graph


def counted(counter: Counter[Any]) -> str:
    """``a, b (x2), c -> d``: a multiset of names or edges for a message."""
    def show(item: Any) -> str:
        return f"{item[0]} -> {item[1]}" if isinstance(item, tuple) else str(item)

    return ", ".join(show(k) + (f" (x{n})" if n > 1 else "")
                     for k, n in sorted(counter.items(), key=lambda kv: str(kv[0])))


def clip(lines: list[str]) -> list[str]:
    """At most ``_MAX_LINES`` lines, then how many were left out."""
    if len(lines) <= _MAX_LINES:
        return lines
    return [*lines[:_MAX_LINES], f"  ... {len(lines) - _MAX_LINES} more"]

"""``assert_nested``: the nesting tree by name, and the tree as text for messages."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import re
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping

from tcg_core import GraphModel, NodeRecord

from .._graphs import PATH_SEP, GraphLike, as_model, clip, counted, label_paths

__all__ = ["assert_nested", "render_tree"]


def assert_nested(graph: GraphLike, expected: Mapping[str, Iterable[str]], *,
                  exact: bool = True) -> None:
    """Assert the nesting tree: ``{parent: [children]}`` by name.

    Children are compared as multisets, in any order, per instance of the parent: when
    several nodes share a parent's name (a sub-pipeline run once per page), ``"page":
    [...]`` says what *every* ``page`` holds, and ``"page#1": [...]``, ``"page#2":
    [...]`` list the instances one by one, as many as there are, in any order (as
    :func:`assert_graph_shape` counts repeated names: any suffix works, each listed
    instance must match a different node). With ``exact=True`` (the default) every node
    with children must be listed with all of them; with ``exact=False`` the listed
    parents must have at least the listed children. A failure names the instance that
    differs by its nesting path. Nested nodes appear only after the graph ran: their
    parents' bodies create them.

    >>> from tcg_core import Graph, node
    >>> @node
    ... def inc(x):
    ...     return x + 1
    >>> @node
    ... def twice(x):
    ...     return inc(inc(x))
    >>> f = twice(1)
    >>> f.resolve(executor="serial")
    3
    >>> assert_nested(f, {"twice": ["inc", "inc"]})
    >>> assert_nested(f, {"twice": ["inc"]}, exact=False)
    >>> assert_nested(f, {"twice": ["inc", "double"]})
    Traceback (most recent call last):
    ...
    AssertionError: nesting differs from the expected tree:
      twice: missing children: double; unexpected children: inc
    actual nesting tree:
      twice
      ├── inc#1
      └── inc#2
    >>> @node
    ... def page(x):
    ...     return inc(x) if x else x
    >>> with Graph() as g:
    ...     pages = [page(0), page(1)]
    >>> g.resolve(executor="serial")
    [0, 2]
    >>> assert_nested(g, {"page#1": ["inc"], "page#2": []})
    >>> assert_nested(g, {"page": ["inc", "inc"]})
    Traceback (most recent call last):
    ...
    AssertionError: nesting differs from the expected tree:
      page [1 of 2] (page#1): missing children: inc
      page [2 of 2] (page#2): missing children: inc (x2)
    ...

    Up to 0.1, a repeated parent's name listed the children of all its instances
    together (``{"page": ["inc"]}`` above). Such a listing still passes until 0.3, with a
    ``DeprecationWarning`` that shows the ``#1``, ``#2`` spelling (see CHANGELOG.md).
    """
    __tracebackhide__ = True
    model = as_model(graph)
    labels = label_paths(model.nodes)
    instances: dict[str, list[NodeRecord]] = {}
    for rec in sorted(model.nodes, key=lambda r: _instance_order(labels[r.id])):
        instances.setdefault(rec.name, []).append(rec)
    listed: dict[str, list[tuple[str, Counter[str]]]] = {}
    for key, children in expected.items():
        names = [children] if isinstance(children, str) else list(children)
        match = _INSTANCE.match(key)
        base = match.group(1) if match and match.group(1) not in expected else key
        listed.setdefault(base, []).append((key, Counter(_base(c) for c in names)))
    problems: list[str] = []
    for base, wants in listed.items():
        records = instances.get(base)
        if not records:
            problems.extend(f"{key}: no node has this name" for key, _ in wants)
        elif len(wants) == 1 and wants[0][0] == base:
            want = wants[0][1]
            found = [f"{_which(rec, records, labels)}: {diff}" for rec in records
                     if (diff := _compare(want, _children(rec), exact))]
            if found and _held_together(want, records, exact):
                _warn_old_meaning(base, len(records))
                found = []
            problems.extend(found)
        else:
            problems.extend(_match_instances(base, wants, records, labels, exact))
    if exact:
        for name, records in instances.items():
            if name in listed:
                continue
            kids = Counter(c.name for r in records for c in r.children or ())
            if kids:
                problems.append(f"{name}: not expected to have children, but has "
                                f"{counted(kids)}")
    if problems:
        raise AssertionError("nesting differs from the expected tree:\n"
                             + "\n".join(f"  {p}" for p in problems)
                             + "\nactual nesting tree:\n" + render_tree(model))


_INSTANCE = re.compile(r"^(.*)#(\d+)$")


def _held_together(want: Counter[str], records: list[NodeRecord], exact: bool) -> bool:
    """True when ``want`` matches the children of all ``records`` taken together: the
    meaning a repeated parent's name had up to 0.1 (see CHANGELOG.md, 0.2.0)."""
    together: Counter[str] = Counter()
    for rec in records:
        together += _children(rec)
    return len(records) > 1 and not _compare(want, together, exact)


def _warn_old_meaning(name: str, count: int) -> None:
    warnings.warn(
        f"assert_nested: {name!r} names {count} nodes, and the children listed match all "
        f"of them together, as {name!r} meant up to pytest-tcg 0.1. Since 0.2 it means "
        f"what *every* {name!r} holds; this passes with the old meaning until 0.3, then "
        f"fails. Write what each holds instead: {{'{name}#1': [...], '{name}#2': [...]}}, "
        f"or {{'{name}': [...]}} with one instance's children",
        DeprecationWarning, stacklevel=3)


def _instance_order(label: str) -> tuple[str, int]:
    """Sort key keeping ``x#2`` before ``x#10``."""
    match = _INSTANCE.match(label)
    return (match.group(1), int(match.group(2))) if match else (label, 0)


def _base(name: str) -> str:
    match = _INSTANCE.match(name)
    return match.group(1) if match else name


def _children(rec: NodeRecord) -> Counter[str]:
    return Counter(c.name for c in rec.children or ())


def _compare(want: Counter[str], have: Counter[str], exact: bool) -> str:
    """What differs between the children wanted and those one instance has ('' if
    nothing)."""
    parts = []
    if want - have:
        parts.append(f"missing children: {counted(want - have)}")
    if exact and have - want:
        parts.append(f"unexpected children: {counted(have - want)}")
    return "; ".join(parts)


def _which(rec: NodeRecord, records: list[NodeRecord], labels: dict[int, str]) -> str:
    """The parent as a message names it: its name, and which instance when it repeats."""
    if len(records) == 1:
        return rec.name
    number = next(i for i, r in enumerate(records, start=1) if r is rec)
    return f"{rec.name} [{number} of {len(records)}] ({labels[rec.id]})"


def _match_instances(base: str, wants: list[tuple[str, Counter[str]]],
                     records: list[NodeRecord], labels: dict[int, str],
                     exact: bool) -> list[str]:
    """Pair each listed instance with a different node of that name whose children
    agree (a bipartite matching, so the order of the listing never matters); describe
    what is left unpaired."""
    import networkx as nx

    pairs = nx.Graph()
    keys = [("want", i) for i in range(len(wants))]
    nodes = [("have", j) for j in range(len(records))]
    pairs.add_nodes_from(keys + nodes)
    for i, (_, want) in enumerate(wants):
        for j, rec in enumerate(records):
            if not _compare(want, _children(rec), exact):
                pairs.add_edge(("want", i), ("have", j))
    matching = nx.bipartite.maximum_matching(pairs, top_nodes=keys)
    free = [j for j in range(len(records)) if ("have", j) not in matching]
    problems = []
    for i, (key, want) in enumerate(wants):
        if ("want", i) in matching:
            continue
        if not free:
            problems.append(f"{key}: only {len(records)} node(s) named {base!r}, "
                            f"{len(wants)} listed")
            continue
        # Show the closest node nobody else matched: the one that differs least.
        j = min(free, key=lambda j: sum(((want - _children(records[j]))
                                         + (_children(records[j]) - want)).values()))
        free.remove(j)
        rec = records[j]
        problems.append(f"{key}: no {base} has these children; the closest, "
                        f"{_which(rec, records, labels)}: {_compare(want, _children(rec), exact)}")
    if exact:
        problems.extend(f"{_which(records[j], records, labels)}: not listed, but has "
                        f"children {counted(_children(records[j]))}"
                        for j in free if records[j].children)
    return problems


def render_tree(model: GraphModel) -> str:
    """The nesting forest as an indented tree; top-level nodes without children are listed
    on one line. Siblings that share a name show their instance (``render#2``), the
    same one the messages name, together and in that order."""
    records = model.nodes
    labels = label_paths(records)
    lines: list[str] = []

    def walk(rec: NodeRecord, prefix: str, last: bool, top: bool) -> None:
        shown = labels[rec.id].rsplit(PATH_SEP, 1)[-1]
        lines.append("  " + (shown if top else prefix + ("└── " if last else "├── ")
                             + shown))
        kids = list(rec.children or ())
        # Creation order, but a repeated name's instances together and by number.
        first = {k.name: i for i, k in reversed(list(enumerate(kids)))}
        kids.sort(key=lambda k: (first[k.name], _instance_order(labels[k.id])[1]))
        below = "" if top else prefix + ("    " if last else "│   ")
        for i, kid in enumerate(kids):
            walk(kid, below, i == len(kids) - 1, False)

    roots = [r for r in records if r.parent is None]
    for rec in roots:
        if rec.children:
            walk(rec, "", True, True)
    lines = clip(lines)
    alone = [r.name for r in roots if not r.children]
    if not lines:
        lines.append("  (no node has children)")
    if alone:
        lines.append("  top-level nodes without children: " + ", ".join(alone))
    return "\n".join(lines)

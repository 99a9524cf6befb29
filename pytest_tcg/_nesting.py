"""``assert_nested``: the nesting tree by name, and the tree as text for messages."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from tcg_core import GraphModel, NodeRecord

from ._graphs import GraphLike, as_model, clip, counted

__all__ = ["assert_nested", "render_tree"]


def assert_nested(graph: GraphLike, expected: Mapping[str, Iterable[str]], *,
                  exact: bool = True) -> None:
    """Assert the nesting tree: ``{parent: [children]}`` by name, as the graph's
    ``nesting_tree()`` reports it (the children of every node with that name).

    Children are compared as multisets, in any order. With ``exact=True`` (the default)
    every node with children must be listed with all of them; with ``exact=False`` the
    listed parents must have at least the listed children. Nested nodes appear only
    after the graph ran: their parents' bodies create them.

    >>> from tcg_core import node
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
      ├── inc
      └── inc
    """
    __tracebackhide__ = True
    model = as_model(graph)
    actual = model.nesting_tree()
    names = {r.name for r in model.nodes}
    problems: list[str] = []
    for parent, children in expected.items():
        want = Counter([children] if isinstance(children, str) else children)
        have = Counter(actual.get(parent, []))
        if parent not in names:
            problems.append(f"{parent}: no node has this name")
            continue
        parts = []
        if want - have:
            parts.append(f"missing children: {counted(want - have)}")
        if exact and have - want:
            parts.append(f"unexpected children: {counted(have - want)}")
        if parts:
            problems.append(f"{parent}: " + "; ".join(parts))
    if exact:
        for parent in sorted(set(actual) - set(expected)):
            problems.append(f"{parent}: not expected to have children, but has "
                            f"{counted(Counter(actual[parent]))}")
    if problems:
        raise AssertionError("nesting differs from the expected tree:\n"
                             + "\n".join(f"  {p}" for p in problems)
                             + "\nactual nesting tree:\n" + render_tree(model))


def render_tree(model: GraphModel) -> str:
    """The nesting forest as an indented tree; top-level nodes without children are listed
    on one line."""
    records = model.nodes
    lines: list[str] = []

    def walk(rec: NodeRecord, prefix: str, last: bool, top: bool) -> None:
        lines.append("  " + (rec.name if top else prefix + ("└── " if last else "├── ")
                             + rec.name))
        kids = list(rec.children or ())
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

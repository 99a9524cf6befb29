"""Graph-structure snapshots: names, nesting and data edges, never timings or values.

A snapshot is a small JSON file next to the test, in
``__tcg_snapshots__/<test module>/<test name>.json``::

    {
      "pytest-tcg snapshot": 1,
      "tree": {"pipeline": {"add": {"_add": {}}, "multiply": {}, "subtract": {}}},
      "edges": [["pipeline › add", "pipeline › multiply", "a"], ...]
    }

``tree`` is the nesting forest (siblings that share a name are told apart as ``inc#1``,
``inc#2``); ``edges`` are data edges between nesting paths, with the argument name. Two
structures match when they are the same labelled graph, whatever order the nodes were
created in, so thread timing never changes the verdict.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tcg_core import GraphModel

from ._graphs import PATH_SEP, label_paths

__all__ = ["Structure", "structure_of", "load", "dump", "difference", "write_atomically"]

FORMAT_KEY = "pytest-tcg snapshot"
_INSTANCE = re.compile(r"#\d+$")
_UPDATE_HINT = "run pytest with --tcg-snapshot-update to store the new structure"


@dataclass(frozen=True)
class Structure:
    """Nodes by label (``a › b#2``) with their parent's label, and data edges."""

    parents: dict[str, str | None]
    edges: Counter[tuple[str, str, str]]

    def name(self, label: str) -> str:
        return _INSTANCE.sub("", label.rsplit(PATH_SEP, 1)[-1])

    def path(self, label: str) -> str:
        """The label without instance numbers: the nesting path of names."""
        return PATH_SEP.join(_INSTANCE.sub("", part) for part in label.split(PATH_SEP))


def structure_of(model: GraphModel) -> Structure:
    records = model.nodes
    labels = label_paths(records)
    parents = {labels[r.id]: (labels[r.parent.id] if r.parent is not None
                              and r.parent.id in labels else None) for r in records}
    edges = Counter((labels[src.id], labels[dst.id], arg) for src, dst, arg in model.edges())
    return Structure(parents, edges)


def dump(structure: Structure) -> str:
    tree: dict[str, Any] = {}
    nodes: dict[str, dict[str, Any]] = {}
    for label in sorted(structure.parents, key=lambda lb: (lb.count(PATH_SEP), lb)):
        parent = structure.parents[label]
        holder = tree if parent is None else nodes[parent]
        holder[label.rsplit(PATH_SEP, 1)[-1]] = nodes[label] = {}
    edges = sorted(list(edge) for edge, n in structure.edges.items() for _ in range(n))
    # One edge per line: a changed edge is a one-line change in version control.
    tree_text = json.dumps(_sorted_tree(tree), indent=2, ensure_ascii=False)
    edge_lines = ",\n".join("    " + json.dumps(e, ensure_ascii=False) for e in edges)
    return (f'{{\n  "{FORMAT_KEY}": 1,\n  "tree": {tree_text.replace(chr(10), chr(10) + "  ")},'
            f'\n  "edges": [' + (f"\n{edge_lines}\n  " if edges else "") + "]\n}\n")


def _sorted_tree(tree: dict[str, Any]) -> dict[str, Any]:
    return {key: _sorted_tree(tree[key]) for key in sorted(tree)}


def load(text: str) -> Structure:
    data = json.loads(text)
    if not isinstance(data, dict) or data.get(FORMAT_KEY) != 1:
        raise ValueError("not a pytest-tcg snapshot (version 1)")
    parents: dict[str, str | None] = {}

    def walk(tree: dict[str, Any], parent: str | None) -> None:
        for key, sub in tree.items():
            label = key if parent is None else parent + PATH_SEP + key
            parents[label] = parent
            walk(sub, label)

    walk(data["tree"], None)
    edges = Counter((str(p), str(c), str(a)) for p, c, a in data["edges"])
    return Structure(parents, edges)


def difference(stored: Structure, actual: Structure) -> str | None:
    """``None`` when the structures are the same labelled graph, else a readable diff
    (``+`` in the graph now, ``-`` only in the snapshot)."""
    if stored.parents == actual.parents and stored.edges == actual.edges:
        return None
    if _isomorphic(stored, actual):
        return None
    old_nodes = Counter(stored.path(lb) for lb in stored.parents)
    new_nodes = Counter(actual.path(lb) for lb in actual.parents)
    added, removed = new_nodes - old_nodes, old_nodes - new_nodes
    lines = [f"  ~ moved {old.rsplit(PATH_SEP, 1)[-1]}: {old} -> {new}"
             for old, new in _moves(removed, added)]
    lines += [f"  + node  {p}" for p in sorted(added.elements())]
    lines += [f"  - node  {p}" for p in sorted(removed.elements())]
    old_edges = Counter(_edge_path(stored, e) for e in stored.edges.elements())
    new_edges = Counter(_edge_path(actual, e) for e in actual.edges.elements())
    lines += [f"  + edge  {e}" for e in sorted((new_edges - old_edges).elements())]
    lines += [f"  - edge  {e}" for e in sorted((old_edges - new_edges).elements())]
    if not lines:
        lines = ["  the same nodes, nesting and edges by name, but wired differently;",
                 "  edges now:", *(f"    {_edge_label(e)}" for e in sorted(actual.edges))]
    return "\n".join(lines)


def _moves(removed: Counter[str], added: Counter[str]) -> list[tuple[str, str]]:
    """Pair a removed path with an added one that ends in the same name (then drop both
    from the counters): the node moved to another parent."""
    moves = []
    for old in sorted(removed.elements()):
        leaf = old.rsplit(PATH_SEP, 1)[-1]
        new = next((p for p in sorted(added) if added[p] > 0
                    and p.rsplit(PATH_SEP, 1)[-1] == leaf), None)
        if new is not None:
            moves.append((old, new))
            removed[old] -= 1
            added[new] -= 1
    removed += Counter()  # drop the zero counts
    added += Counter()
    return moves


def _edge_path(structure: Structure, edge: tuple[str, str, str]) -> str:
    src, dst, arg = edge
    return f"{structure.path(src)} -> {structure.path(dst)} [{arg}]"


def _edge_label(edge: tuple[str, str, str]) -> str:
    return f"{edge[0]} -> {edge[1]} [{edge[2]}]"


def _isomorphic(a: Structure, b: Structure) -> bool:
    if len(a.parents) != len(b.parents) or sum(a.edges.values()) != sum(b.edges.values()):
        return False
    from networkx.algorithms.isomorphism import DiGraphMatcher

    return bool(DiGraphMatcher(_digraph(a), _digraph(b), node_match=_same,
                               edge_match=_same).is_isomorphic())


def _same(x: dict[str, Any], y: dict[str, Any]) -> bool:
    return x == y


def _digraph(structure: Structure) -> Any:
    import networkx as nx

    graph = nx.DiGraph()
    for label in structure.parents:
        graph.add_node(label, name=structure.name(label))
    links: dict[tuple[str, str], list[str]] = {}
    for label, parent in structure.parents.items():
        if parent is not None:
            links.setdefault((parent, label), []).append("(child)")
    for (src, dst, arg), n in structure.edges.items():
        links.setdefault((src, dst), []).extend([arg] * n)
    for (src, dst), kinds in links.items():
        graph.add_edge(src, dst, kinds=tuple(sorted(kinds)))
    return graph


def write_atomically(path: Path, text: str) -> None:
    """Write under a unique temporary name, then rename into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def mismatch_message(path: str, diff: str) -> str:
    return f"graph structure differs from snapshot {path}:\n{diff}\n{_UPDATE_HINT}"


def missing_message(path: str) -> str:
    return (f"no graph snapshot at {path} yet: run pytest with --tcg-snapshot-update "
            "to write it")

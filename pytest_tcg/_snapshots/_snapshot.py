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

Names are stored exactly: in a name, ``\\``, ``›`` and ``#`` are written ``\\\\``,
``\\›`` and ``\\#``, so a node named ``"load › parse"`` is never read back as ``parse``
inside ``load``, nor ``"x#2"`` as the second ``x``. Other names are unchanged.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tcg_core import GraphModel

from .._graphs import PATH_SEP, label_paths
from .._naming import write_atomically as write_file

__all__ = ["Structure", "structure_of", "load", "read", "dump", "difference",
           "write_atomically", "escape", "split_label"]

FORMAT_KEY = "pytest-tcg snapshot"
_INSTANCE = re.compile(r"(?<!\\)((?:\\\\)*)#\d+$")
_UPDATE_HINT = "run pytest with --tcg-snapshot-update to store the new structure"


def escape(name: str) -> str:
    """A node's name as it appears in a label: the separator and ``#`` escaped.

    >>> escape("load › parse#2")
    'load \\\\› parse\\\\#2'
    """
    return name.replace("\\", "\\\\").replace("›", "\\›").replace("#", "\\#")


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def split_label(label: str) -> list[str]:
    """The parts of a label between unescaped separators (still escaped).

    >>> split_label(escape("a › b") + " › c#2")
    ['a \\\\› b', 'c#2']
    """
    parts, current, i = [], [], 0
    while i < len(label):
        if label[i] == "\\":
            current.append(label[i:i + 2])
            i += 2
        elif label.startswith(PATH_SEP, i):
            parts.append("".join(current))
            current, i = [], i + len(PATH_SEP)
        else:
            current.append(label[i])
            i += 1
    parts.append("".join(current))
    return parts


def _bare(part: str) -> str:
    """One escaped label part without its instance number, unescaped: the node's name."""
    return _unescape(_INSTANCE.sub(lambda m: m.group(1), part))


@dataclass(frozen=True)
class Structure:
    """Nodes by label (``a › b#2``) with their parent's label, and data edges."""

    parents: dict[str, str | None]
    edges: Counter[tuple[str, str, str]]

    def name(self, label: str) -> str:
        return _bare(split_label(label)[-1])

    def path(self, label: str) -> str:
        """The label without instance numbers: the nesting path of (escaped) names."""
        return PATH_SEP.join(escape(_bare(part)) for part in split_label(label))


def structure_of(model: GraphModel) -> Structure:
    records = model.nodes
    labels = label_paths(records, escape)
    parents = {labels[r.id]: (labels[r.parent.id] if r.parent is not None
                              and r.parent.id in labels else None) for r in records}
    edges = Counter((labels[src.id], labels[dst.id], arg) for src, dst, arg in model.edges())
    return Structure(parents, edges)


def dump(structure: Structure) -> str:
    tree: dict[str, Any] = {}
    nodes: dict[str, dict[str, Any]] = {}
    for label in sorted(structure.parents, key=lambda lb: (len(split_label(lb)), lb)):
        parent = structure.parents[label]
        holder = tree if parent is None else nodes[parent]
        holder[split_label(label)[-1]] = nodes[label] = {}
    edges = sorted(list(edge) for edge, n in structure.edges.items() for _ in range(n))
    # One edge per line: a changed edge is a one-line change in version control.
    tree_text = json.dumps(_sorted_tree(tree), indent=2, ensure_ascii=False)
    edge_lines = ",\n".join("    " + json.dumps(e, ensure_ascii=False) for e in edges)
    return (f'{{\n  "{FORMAT_KEY}": 1,\n  "tree": {tree_text.replace(chr(10), chr(10) + "  ")},'
            f'\n  "edges": [' + (f"\n{edge_lines}\n  " if edges else "") + "]\n}\n")


def _sorted_tree(tree: dict[str, Any]) -> dict[str, Any]:
    return {key: _sorted_tree(tree[key]) for key in sorted(tree)}


def load(text: str) -> Structure:
    """The structure a snapshot file holds; ``ValueError`` naming what is wrong with it
    (not JSON, another document, a tree or edge of the wrong shape, nested too deeply)."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply to read") from None
    if not isinstance(data, dict) or data.get(FORMAT_KEY) != 1:
        raise ValueError("not a pytest-tcg snapshot (version 1)")
    tree, edges = data.get("tree"), data.get("edges")
    if not isinstance(tree, dict):
        raise ValueError("'tree' must be an object of objects")
    if not isinstance(edges, list) or not all(
            isinstance(e, list) and len(e) == 3 and all(isinstance(x, str) for x in e)
            for e in edges):
        raise ValueError("'edges' must be a list of [producer, consumer, argument] strings")
    parents: dict[str, str | None] = {}
    # A loop, not recursion: a file nested deeper than Python's stack is still read.
    todo: list[tuple[dict[str, Any], str | None]] = [(tree, None)]
    while todo:
        level, parent = todo.pop()
        for key, sub in level.items():
            if not isinstance(sub, dict):
                raise ValueError(f"'tree' entry {key!r} must be an object, not "
                                 f"{type(sub).__name__}")
            label = key if parent is None else parent + PATH_SEP + key
            parents[label] = parent
            todo.append((sub, label))
    return Structure(parents, Counter((p, c, a) for p, c, a in edges))


def read(path: Path) -> tuple[Structure | None, str | None]:
    """The structure stored at ``path`` (``None`` when there is no file), or why it
    cannot be read, in a few words."""
    if path.is_dir():
        return None, "a folder, not a file"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, exc.strerror or str(exc)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text: byte {exc.start} is {data[exc.start]:#04x}"
    try:
        return load(text), None
    except ValueError as exc:
        return None, str(exc).splitlines()[0]


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
    lines = [f"  ~ moved {split_label(old)[-1]}: {old} -> {new}"
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
        leaf = split_label(old)[-1]
        new = next((p for p in sorted(added) if added[p] > 0
                    and split_label(p)[-1] == leaf), None)
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
    """Write under a unique temporary name, then rename into place (a folder in the
    file's place, a corrupt snapshot, is removed first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir() and not path.is_symlink():
        import shutil

        shutil.rmtree(path)
    write_file(path, text)


def mismatch_message(path: str, diff: str) -> str:
    return f"graph structure differs from snapshot {path}:\n{diff}\n{_UPDATE_HINT}"


def missing_message(path: str) -> str:
    return (f"no graph snapshot at {path} yet: run pytest with --tcg-snapshot-update "
            "to write it")

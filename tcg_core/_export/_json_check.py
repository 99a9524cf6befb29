"""Checking a ``tcg-graph`` JSON document before it is rebuilt: every field's type and
range, ids that exist, and no cycle, so a hostile or corrupt file gives one ``TcgError``
naming the field (``nodes[3].inputs[0]``), never a raw error or an exporter that hangs.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import math
from typing import Any

from .._errors import TcgError
from .._graph import NodeState

__all__ = ["check_document"]

_STATES = frozenset({NodeState.PENDING, NodeState.READY, NodeState.RUNNING,
                     NodeState.WAITING, *NodeState.FINISHED})
#: JSON numbers beyond this are not ids, counts or seconds a run could have written.
_LIMIT = 2**53


class _Bad(Exception):
    """A field that is not what ``to_json`` writes: where it is and what it must be."""

    def __init__(self, where: str, expected: str, got: object) -> None:
        shown = type(got).__name__ if isinstance(got, (list, dict)) else repr(got)[:60]
        super().__init__(f"{where} must be {expected}, got {shown}")


def check_document(doc: Any, fmt: str, version: int) -> list[dict[str, Any]]:
    """The document's node entries, every field checked; else a ``TcgError`` naming the
    first bad field.

    >>> check_document({"format": "tcg-graph", "version": True}, "tcg-graph", 1)
    Traceback (most recent call last):
    ...
    tcg_core.TcgError: load_json(): version must be 1, got True; the file ...
    """
    try:
        return _checked(doc, fmt, version)
    except _Bad as bad:
        raise TcgError(f"load_json(): {bad}; the file was not written by tcg_core.to_json "
                       "or was changed since") from None


def _checked(doc: Any, fmt: str, version: int) -> list[dict[str, Any]]:
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise _Bad("the document", f'an object with "format": "{fmt}"', doc)
    got = doc.get("version")
    if type(got) is not int or got != version:
        raise _Bad("version", str(version), got)
    nodes = doc.get("nodes")
    if not isinstance(nodes, list):
        raise _Bad("nodes", "a list", nodes)
    ids: dict[int, int] = {}
    for index, item in enumerate(nodes):
        where = f"nodes[{index}]"
        if not isinstance(item, dict):
            raise _Bad(where, "an object", item)
        node_id = _int(f"{where}.id", item.get("id"))
        if node_id in ids:
            raise _Bad(f"{where}.id", "unique", node_id)
        ids[node_id] = index
    for index, item in enumerate(nodes):
        _check_fields(f"nodes[{index}]", item, ids)
    _check_nesting(nodes, ids)
    _check_acyclic(nodes, ids)
    return nodes


def _check_fields(where: str, item: dict[str, Any], ids: dict[int, int]) -> None:
    _text(f"{where}.name", item.get("name"), empty=False)
    _optional(f"{where}.parent", item.get("parent"), lambda w, v: _ref(w, v, ids))
    children = item.get("children")
    if children is not None:
        _list(f"{where}.children", children, lambda w, v: _ref(w, v, ids))
    inputs = _list(f"{where}.inputs", item.get("inputs"), lambda w, v: _ref(w, v, ids))
    names = _list(f"{where}.input_names", item.get("input_names"),
                  lambda w, v: _text(w, v, empty=True))
    if len(inputs) != len(names):
        raise _Bad(f"{where}.input_names", f"{len(inputs)} names, one per input", names)
    state = item.get("state")
    if state not in _STATES:
        raise _Bad(f"{where}.state", "one of " + ", ".join(sorted(_STATES)), state)
    for key in ("start", "end", "cost"):
        _optional(f"{where}.{key}", item.get(key), _seconds)
    for key in ("worker", "error", "label"):
        _optional(f"{where}.{key}", item.get(key), lambda w, v: _text(w, v, empty=True))
    for key in ("returned", "replaced", "cached"):
        value = item.get(key)
        if value is not None and not isinstance(value, bool):
            raise _Bad(f"{where}.{key}", "true or false", value)
    attempts = item.get("attempts", 0)
    if _int(f"{where}.attempts", attempts) < 0:
        raise _Bad(f"{where}.attempts", "an int >= 0", attempts)
    _optional(f"{where}.order", item.get("order"), _int)


def _check_nesting(nodes: list[dict[str, Any]], ids: dict[int, int]) -> None:
    """Each listed child names its parent back; no node is its own ancestor."""
    for index, item in enumerate(nodes):
        for child in item.get("children") or ():
            if nodes[ids[child]].get("parent") != item["id"]:
                raise _Bad(f"nodes[{index}].children", "nodes whose parent is this node",
                           child)
    settled: set[int] = set()
    for index, item in enumerate(nodes):
        seen = {item["id"]}
        parent = item.get("parent")
        while parent is not None and parent not in settled:
            if parent in seen:
                raise _Bad(f"nodes[{index}].parent", "a chain of parents that ends (it "
                           "loops)", parent)
            seen.add(parent)
            parent = nodes[ids[parent]].get("parent")
        settled.update(seen)


def _check_acyclic(nodes: list[dict[str, Any]], ids: dict[int, int]) -> None:
    """No node depends on itself through its inputs and children (iterative DFS)."""
    state: dict[int, int] = {}  # 1: on the current path, 2: finished
    for start in nodes:
        if start["id"] in state:
            continue
        stack = [(start["id"], iter(_after(start)))]
        state[start["id"]] = 1
        while stack:
            node_id, pending = stack[-1]
            nxt = next(pending, None)
            if nxt is None:
                state[node_id] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                raise _Bad(f"nodes[{ids[node_id]}]", "free of cycles (it waits on itself "
                           "through its inputs or children)", nxt)
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(_after(nodes[ids[nxt]]))))


def _after(item: dict[str, Any]) -> list[int]:
    return [*item["inputs"], *(item.get("children") or ())]


def _int(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > _LIMIT:
        raise _Bad(where, "an int", value)
    return value


def _ref(where: str, value: Any, ids: dict[int, int]) -> int:
    if _int(where, value) not in ids:
        raise _Bad(where, "the id of a node of the document", value)
    return value  # type: ignore[no-any-return]


def _seconds(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or abs(value) > _LIMIT:
        raise _Bad(where, "a finite number", value)
    return float(value)


def _text(where: str, value: Any, *, empty: bool) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise _Bad(where, "a string" if empty else "a non-empty string", value)
    return value


def _list(where: str, value: Any, each: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _Bad(where, "a list", value)
    for index, item in enumerate(value):
        each(f"{where}[{index}]", item)
    return value


def _optional(where: str, value: Any, check: Any) -> None:
    if value is not None:
        check(where, value)

"""A lossless JSON form of the graph model, and a loader that rebuilds it."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import json
from typing import Any

from .._errors import TcgError
from .._graph import GraphModel, NodeRecord, as_state
from ._common import as_model, dump_json, error_text, paths
from ._json_check import check_document

__all__ = ["FORMAT", "VERSION", "LoadedError", "load_json", "to_json"]

FORMAT = "tcg-graph"
VERSION = 1


class LoadedError(Exception):
    """Stands in for a node's error in a graph read by :func:`load_json`.

    ``type_name`` is the original exception's type name; ``str()`` is its message.
    """

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(message)
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"LoadedError({self.type_name!r}, {str(self)!r})"


class _LoadedSpec:
    """Stands in for a loaded node's function: its name, and its ``cost=`` hint so
    ``critical_path("cost")`` still works."""

    __slots__ = ("cost", "name")

    # A loaded call is a record of what ran: it never runs again, nor needs a resolve's
    # observing loop. The options it was run with are not in the file.
    timeout: float | None = None
    retries: int = 0
    nout: int | None = None
    cache: bool | None = None
    verbose: bool = False
    _hooks: bool = False

    def __init__(self, name: str, cost: float | None) -> None:
        self.name = name
        self.cost = cost



def _record_dict(rec: NodeRecord, path: str) -> dict[str, Any]:
    return {
        "id": rec.id, "name": rec.name, "path": path,
        "parent": rec.parent.id if rec.parent is not None else None,
        "children": [c.id for c in rec.children] if rec.children is not None else None,
        "inputs": [r.id for r in rec.inputs], "input_names": list(rec.input_names),
        "state": rec.state, "start": rec.start, "end": rec.end, "duration": rec.duration,
        "worker": rec.worker, "returned": rec.returned, "attempts": rec.attempts,
        "replaced": rec.replaced, "error": error_text(rec.error), "cost": rec.cost,
        "order": rec.order, **({"cached": True} if rec.cached else {}), "label": rec.label,
    }


def to_json(graph: object, *, indent: int | None = 1) -> str:
    """The graph as JSON text: every node with its structure, state and timings.

    The document is ``{"format": "tcg-graph", "version": 1, "nodes": [...], "edges":
    [...]}``. Each node has ``id``, ``name``, ``path``, ``parent`` and ``children`` (ids),
    ``inputs`` (ids) with ``input_names``, ``state``, ``start``/``end`` (seconds of
    ``time.perf_counter()``, exact), ``duration``, ``worker``, ``returned``,
    ``attempts``, ``replaced`` (a test double ran instead of the body), ``error``
    (``"Type: message"`` or ``null``), ``cost``, ``order`` (where a
    ``ShuffledExecutor`` run started it, or ``null``) and ``label`` (the call's own
    label, or ``null``), plus ``"cached": true`` for a node whose value came from the
    result cache. ``edges``
    repeats the data edges as ``[producer id, consumer id, argument]`` for readers
    other than :func:`load_json`, which ignores it. Values are never included.

    >>> import json
    >>> from tcg_core import node, to_json
    >>> @node
    ... def inc(x):
    ...     return x + 1
    >>> f = inc(inc(1))
    >>> f.resolve(executor="serial")
    3
    >>> doc = json.loads(to_json(f.graph))
    >>> doc["format"], doc["version"], [n["name"] for n in doc["nodes"]]
    ('tcg-graph', 1, ['inc', 'inc'])
    >>> doc["nodes"][1]["input_names"], doc["nodes"][1]["state"]
    (['x'], 'done')
    """
    model = as_model(graph)
    records = model.nodes
    where = paths(records)
    doc = {
        "format": FORMAT, "version": VERSION,
        "nodes": [_record_dict(rec, where[rec.id][0]) for rec in records],
        "edges": [[src.id, dst.id, arg] for src, dst, arg in model.edges()],
    }
    return dump_json(doc, indent=indent)


def load_json(text: str | bytes) -> GraphModel:
    """Rebuild a graph model from :func:`to_json` text.

    The records are real ``NodeRecord`` objects with their original ids, so every query
    (``critical_path()``, ``makespan()``, ...) and every exporter works on the result.
    They hold no function and no arguments, so the graph cannot be run again; a node's
    ``error`` is a :class:`LoadedError` that prints as the original did.

    >>> from tcg_core import node, to_json, load_json, to_dot
    >>> @node
    ... def inc(x):
    ...     return x + 1
    >>> f = inc(inc(1))
    >>> f.resolve(executor="serial")
    3
    >>> loaded = load_json(to_json(f.graph))
    >>> print(*(f"{r.name}: {r.state}" for r in loaded.nodes), sep=", ")
    inc: done, inc: done
    >>> loaded.makespan() == f.graph.makespan(), to_dot(loaded) == to_dot(f.graph)
    (True, True)
    """
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise TcgError(f"load_json() expects text written by to_json(); it is not JSON: "
                       f"{type(exc).__name__}: {exc}") from None
    return _rebuild(check_document(doc, FORMAT, VERSION))


def _rebuild(items: list[dict[str, Any]]) -> GraphModel:
    """The records of a checked document (``check_document``)."""
    by_id: dict[int, NodeRecord] = {}
    for item in items:
        cost = item.get("cost")
        spec = _LoadedSpec(item["name"], float(cost) if cost is not None else None)
        rec = NodeRecord(spec, (), None, (), ())
        rec.id = item["id"]
        by_id[rec.id] = rec
    for item in items:
        rec = by_id[int(item["id"])]
        parent = item.get("parent")
        rec.parent = by_id[int(parent)] if parent is not None else None
        children = item.get("children")
        rec.children = [by_id[int(c)] for c in children] if children is not None else None
        rec.inputs = tuple(by_id[int(i)] for i in item["inputs"])
        rec.input_names = tuple(item["input_names"])
        rec.state = as_state(item["state"])
        rec.start = _seconds(item.get("start"))
        rec.end = _seconds(item.get("end"))
        rec.worker = item.get("worker")
        rec.returned = bool(item.get("returned", True))
        rec.attempts = int(item.get("attempts", 0))
        if item.get("replaced"):
            rec.replaced = True
        rec.error = _error(item.get("error"))
        order = item.get("order")
        if order is not None:
            rec.order = int(order)
        if item.get("cached"):
            rec.cached = True
        label = item.get("label")
        if label is not None:
            rec.label = str(label)
    return GraphModel(by_id[k] for k in sorted(by_id))


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value)


def _error(text: str | None) -> LoadedError | None:
    if text is None:
        return None
    kind, sep, message = str(text).partition(": ")
    return LoadedError(kind, message if sep else "")

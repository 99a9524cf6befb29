"""The execution timeline in the Trace Event Format (Perfetto, chrome://tracing)."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from typing import Any

from ._common import as_model, dump_json, paths

__all__ = ["to_chrome_trace"]

_NO_WORKER = "(no worker recorded)"


def to_chrome_trace(graph: object) -> str:
    """The timeline as Trace Event Format JSON: one track per worker, one bar per body run.

    Each node that ran is a complete event (``"ph": "X"``) named after the node, with
    ``ts`` and ``dur`` in microseconds from the earliest start, ``pid`` 1, a ``tid`` per
    worker (named by ``thread_name`` metadata events) and ``args`` holding the node's
    ``path``, ``state`` and ``id`` (and ``"cached": true`` for a value read from the
    result cache: a zero-length bar). A parent's bar covers its own body only, not the
    children it created. Nodes that never ran are left out. Open the file in
    https://ui.perfetto.dev or chrome://tracing.

    >>> import json
    >>> from tcg_core import node, to_chrome_trace
    >>> @node
    ... def inc(x):
    ...     return x + 1
    >>> f = inc(inc(1))
    >>> f.resolve(executor="serial")
    3
    >>> trace = json.loads(to_chrome_trace(f.graph))
    >>> bars = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    >>> [e["name"] for e in bars], bars[0]["ts"]
    (['inc', 'inc'], 0.0)
    """
    records = as_model(graph).nodes
    where = paths(records)
    ran = [(r, r.start, r.end) for r in records if r.start is not None and r.end is not None]
    workers = sorted({r.worker or _NO_WORKER for r, _, _ in ran})
    tids = {name: i for i, name in enumerate(workers, start=1)}
    events: list[dict[str, Any]] = [
        {"ph": "M", "name": "process_name", "pid": 1, "tid": 0, "args": {"name": "tcg"}}]
    for name, tid in tids.items():
        events.append({"ph": "M", "name": "thread_name", "pid": 1, "tid": tid,
                       "args": {"name": name}})
        events.append({"ph": "M", "name": "thread_sort_index", "pid": 1, "tid": tid,
                       "args": {"sort_index": tid}})
    origin = min((start for _, start, _ in ran), default=0.0)
    for rec, start, end in sorted(ran, key=lambda item: (item[1], item[0].id)):
        events.append({
            "ph": "X", "name": rec.name, "cat": "node", "pid": 1,
            "tid": tids[rec.worker or _NO_WORKER],
            "ts": round((start - origin) * 1e6, 3), "dur": round(max(end - start, 0.0) * 1e6, 3),
            "args": {"path": where[rec.id][0], "state": rec.state, "id": rec.id,
                     **({"cached": True} if rec.cached else {})},
        })
    return dump_json({"traceEvents": events, "displayTimeUnit": "ms"}, indent=None)

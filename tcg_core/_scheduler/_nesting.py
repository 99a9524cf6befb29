"""Nesting: a body that created nodes becomes their parent and waits for them.

Adopting children costs constant time per child, however deep the nesting: the run
keeps each adopted node's depth (``depths``) instead of walking up to the root, and
only walks up for a returned future that could enclose the body (a cycle).
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from typing import Any

from .._errors import CycleError, RecursionDepthError
from .._record import Handle, NodeRecord, describe_chain
from ._failures import short_path
from ._state import RUNNING, WAITING, RunState

__all__ = ["adopt"]


def adopt(run: RunState, rec: NodeRecord, children: list[Any],
          returned: list[Handle]) -> list[NodeRecord]:
    """Make ``children`` the nested nodes of ``rec``; return what ``rec`` waits on (its
    children and the futures its body returned, once each)."""
    child_records = [f._record for f in children]
    if child_records:
        depth = _depth_of(run, rec) + 1
        if depth >= run.options.max_depth:
            raise RecursionDepthError(
                f"nodes nested {depth + 1} deep ({describe_chain(rec.lineage())} › "
                f"{child_records[0].name}), over max_depth={run.options.max_depth}: does "
                "the recursion have a base case? Raise the limit with "
                "resolve(max_depth=...)")
        rec.children = child_records
        returned_records = {f._record for f in returned}
        depths = run.depths
        for child in child_records:
            child.parent = rec
            child.returned = child in returned_records
            depths[child] = depth
    waits = dict.fromkeys(child_records)
    for fut in returned:
        target = fut._record
        # Only an unfinished node that has started can enclose this one.
        if target.state in (RUNNING, WAITING) and target.is_ancestor_of(rec):
            raise CycleError(
                f"node {rec.name!r} ({short_path(rec)}) returns the future of "
                f"{target.name!r}, "
                "which is itself or encloses it, so it would wait on itself forever")
        waits[target] = None
    return list(waits)


def _depth_of(run: RunState, rec: NodeRecord) -> int:
    """How deep ``rec`` is nested: constant time for a node this run adopted."""
    depth = run.depths.get(rec)
    if depth is None:
        depth = run.depths[rec] = rec.depth
    return depth

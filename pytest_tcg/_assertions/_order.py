"""``assert_order_independent``: the pipeline gives one answer whatever valid order its
nodes run in.

Each run builds the pipeline afresh and resolves it with a ``ShuffledExecutor`` of its
own seed. Nodes are matched across runs by where they sit (a top-level node by its
position in the build, a child by its parent and its position among the parent's
children), since their ids differ from build to build. On a difference the message
names the first node in topological order whose value differed: the node closest to
the cause, since every later difference may only be inherited from it.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import random
import reprlib
from collections.abc import Callable
from typing import Any

from tcg_core import Graph, NodeRecord, ShuffledExecutor, resolve

from .._graphs import check_builder, futures_of, topological
from .._outcomes import Raised, same_outcome

__all__ = ["OrderAssertionError", "assert_order_independent"]

_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60

Key = tuple[int, ...]


class OrderAssertionError(AssertionError):
    """The pipeline's result depended on the order its nodes ran in. ``seeds`` are the
    two seeds that disagreed, ``node`` the first node (topologically) that differed."""

    def __init__(self, message: str, seeds: tuple[int, int], node: str | None) -> None:
        super().__init__(message)
        self.seeds = seeds  #: the two ShuffledExecutor seeds whose results differed
        self.node = node  #: the path of the first node whose value differed, if found
        #: the node that changed its input, when a rerun with check_mutation=True found one
        self.culprit: str | None = None


def assert_order_independent(target: Callable[[], Any], runs: int = 20,
                             seed: int | None = None) -> list[int]:
    """Assert that ``target``'s pipeline gives equal values under ``runs`` random valid
    orders; returns the seeds used.

    ``target`` builds the pipeline afresh on each call and returns its future(s) (as
    for ``assert_parallel_speedup``). Run ``i`` uses ``ShuffledExecutor(seed=seed + i)``;
    without ``seed`` the first is random. On a difference it raises
    ``OrderAssertionError`` naming both seeds, the first node whose value differed
    with both values, and how to replay one seed.

    >>> from tcg_core import node
    >>> @node
    ... def numbers():
    ...     return [3, 1, 2]
    >>> @node
    ... def smallest(xs):
    ...     return min(xs)
    >>> assert_order_independent(lambda: smallest(numbers()), runs=3, seed=0)
    [0, 1, 2]
    """
    __tracebackhide__ = True
    check_builder("assert_order_independent()", target)
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 2:
        raise TypeError(f"assert_order_independent(): runs must be an int >= 2, got "
                        f"{type(runs).__name__} {runs!r:.40}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"assert_order_independent(): seed must be an int or None, got "
                        f"{type(seed).__name__} {seed!r:.40}")
    first = random.randrange(2**31) if seed is None else seed
    seeds = [first + i for i in range(runs)]
    baseline = _run(target, seeds[0])
    for other in seeds[1:]:
        current = _run(target, other)
        if not same_outcome(baseline[0], current[0]):
            error = _difference(seeds[0], baseline, other, current)
            error.culprit = _culprit(target, (seeds[0], other))
            if error.culprit is not None:
                error.args = (f"{error.args[0]}\n{error.culprit}",)
            raise error
    return seeds


def _culprit(target: Callable[[], Any], seeds: tuple[int, int]) -> str | None:
    """Run both orders again with ``check_mutation=True``: where a body changing its
    input explains the difference, the node that did it (the usual culprit)."""
    from tcg_core import InputMutationError

    for seed in seeds:
        futures = futures_of(target())
        try:
            resolve(*futures, executor=ShuffledExecutor(seed=seed), check_mutation=True)
        except InputMutationError as exc:
            return (f"the cause: node {exc.path!r} changed its argument {exc.argument!r} "
                    f"while it ran (found by rerunning seed {seed} with "
                    "check_mutation=True); give it a copy, or stop it changing the value")
        except Exception:
            continue
    return None


_Outcome = tuple[Any, dict[Key, object], list[Key], dict[Key, str]]


def _run(target: Callable[[], Any], seed: int) -> _Outcome:
    with Graph() as graph:  # a private recording: keeps every value for the comparison
        futures = futures_of(target())
    if not futures or any(f.state != "pending" for f in futures):
        raise ValueError("assert_order_independent(): target must build the pipeline "
                         "afresh on every call and return its future(s)")
    try:
        got = resolve(*futures, executor=ShuffledExecutor(seed=seed))
        result: Any = got[0] if len(got) == 1 else got
    except Exception as exc:
        result = Raised(exc)
    records = graph.nodes
    keys = _keys(records)
    values = {keys[r.id]: _outcome(r) for r in records}
    names = {keys[r.id]: r.path for r in records}
    return result, values, _topological(records, keys), names


def _keys(records: list[NodeRecord]) -> dict[int, Key]:
    keys: dict[int, Key] = {}
    top = 0
    for rec in records:  # creation order: a parent comes before its children
        if rec.parent is None:
            keys[rec.id] = (top,)
            top += 1
        if rec.id in keys:  # each parent numbers its children once: linear in the graph
            for index, child in enumerate(rec.children or ()):
                keys[child.id] = (*keys[rec.id], index)
    return keys


def _topological(records: list[NodeRecord], keys: dict[int, Key]) -> list[Key]:
    """Keys with every node after its inputs and children."""
    return [keys[rec.id] for rec in topological(records) if rec.id in keys]


class _Unfinished:
    """A node that did not end done: equal to another left in the same state."""

    def __init__(self, rec: NodeRecord) -> None:
        self.text = (f"<{rec.state}: {type(rec.error).__name__}>" if rec.error
                     else f"<{rec.state}>")  #: the state, and the error's type if any

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Unfinished) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return self.text


_RELEASED = object()  # a value the run let go of: nothing to compare


def _outcome(rec: NodeRecord) -> object:
    if rec.state != "done":
        return _Unfinished(rec)
    try:
        return rec.value
    except LookupError:
        return _RELEASED


def _describe(value: object) -> str:
    try:
        return _short.repr(value)
    except Exception as exc:
        return f"<repr raised {type(exc).__name__}>"


def _difference(seed_a: int, a: _Outcome, seed_b: int, b: _Outcome) -> OrderAssertionError:
    lines = [f"the pipeline's result depends on the order its nodes run in: seed {seed_a} "
             f"gave {_describe(a[0])}, seed {seed_b} gave {_describe(b[0])}"]
    node = None
    for key in a[2]:
        if key not in a[1] or key not in b[1]:
            continue
        va, vb = a[1][key], b[1][key]
        if _RELEASED in (va, vb) or same_outcome(va, vb):
            continue
        node = a[3][key]
        lines.append(f"first node (in topological order) whose value differed after the "
                     f"run: {node!r}: {_describe(va)} with seed {seed_a}, {_describe(vb)} "
                     f"with seed {seed_b}")
        break
    lines.append(f"replay one order: resolve(..., executor=tcg_core.ShuffledExecutor("
                 f"seed={seed_b}))")
    return OrderAssertionError("\n".join(lines), (seed_a, seed_b), node)

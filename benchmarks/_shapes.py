"""Graph shapes as plain data, and one driver that builds any of them with any engine.

A *spec* is a list with one tuple per node: the indices of the earlier nodes it takes
as inputs. Every engine is driven by the same loop, so differences come from the engine.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

Spec = list[tuple[int, ...]]

SHAPES = ("chain", "fan", "random")


def chain(n: int) -> Spec:
    """``n`` nodes, each taking the previous one."""
    return [()] + [(i - 1,) for i in range(1, n)]


def fan(n: int) -> Spec:
    """One source, ``n - 2`` nodes taking it, one sink taking them all."""
    if n < 3:
        return chain(n)
    middle = [(0,)] * (n - 2)
    return [(), *middle, tuple(range(1, n - 1))]


def random_dag(n: int, max_inputs: int = 3, seed: int = 0) -> Spec:
    """Node ``i`` takes 1..``max_inputs`` distinct inputs drawn uniformly from nodes < i."""
    rng = random.Random(seed)
    spec: Spec = [()]
    for i in range(1, n):
        want = rng.randint(1, min(max_inputs, i))
        picked: set[int] = set()
        while len(picked) < want:
            picked.add(rng.randrange(i))
        spec.append(tuple(sorted(picked)))
    return spec


def layered_dag(n: int, depth: int, max_inputs: int = 3, seed: int = 0) -> Spec:
    """A random DAG whose longest path has exactly ``depth`` nodes.

    Every node gets a level; a node on level L > 0 takes one input from level L - 1 and
    up to ``max_inputs - 1`` more from lower levels. Nodes are listed level by level.
    """
    rng = random.Random(seed)
    levels = list(range(depth)) + [rng.randrange(depth) for _ in range(n - depth)]
    levels.sort()
    by_level: list[list[int]] = [[] for _ in range(depth)]
    spec: Spec = []
    for index, level in enumerate(levels):
        if level == 0:
            spec.append(())
        else:
            picked = {rng.choice(by_level[level - 1])}
            lower = [j for lv in range(level) for j in by_level[lv]]
            for _ in range(rng.randint(0, max_inputs - 1)):
                picked.add(rng.choice(lower))
            spec.append(tuple(sorted(picked)))
        by_level[level].append(index)
    return spec


def make(shape: str, n: int, seed: int = 0) -> Spec:
    if shape == "chain":
        return chain(n)
    if shape == "fan":
        return fan(n)
    if shape == "random":
        return random_dag(n, seed=seed)
    raise ValueError(f"unknown shape {shape!r}; use one of {SHAPES}")


def sinks(spec: Spec) -> list[int]:
    """Indices of the nodes nothing consumes (what a run must resolve)."""
    used = bytearray(len(spec))
    for inputs in spec:
        for j in inputs:
            used[j] = 1
    return [i for i, flag in enumerate(used) if not flag]


def longest_path(spec: Spec) -> int:
    """Nodes on the longest path (specs list inputs before consumers)."""
    depth = [0] * len(spec)
    for i, inputs in enumerate(spec):
        depth[i] = 1 + max((depth[j] for j in inputs), default=0)
    return max(depth, default=0)


def drive(spec: Spec, call: Callable[..., Any]) -> list[Any]:
    """Call ``call`` once per node with the outputs of its inputs; return every output."""
    out: list[Any] = [None] * len(spec)
    for i, inputs in enumerate(spec):
        if not inputs:
            out[i] = call()
        elif len(inputs) == 1:
            out[i] = call(out[inputs[0]])
        else:
            out[i] = call(*[out[j] for j in inputs])
    return out


# -- the minimal lazy evaluator: the floor any lazy engine is compared with ------------
class Thunk:
    """A deferred call with thunk inputs, evaluated once."""

    __slots__ = ("args", "done", "func", "value")

    def __init__(self, func: Callable[..., Any], args: tuple[Thunk, ...]) -> None:
        self.func = func
        self.args = args
        self.value: Any = None
        self.done = False


def lazy(func: Callable[..., Any]) -> Callable[..., Thunk]:
    """``func`` made lazy: calling it returns a ``Thunk``."""

    def deferred(*args: Thunk) -> Thunk:
        return Thunk(func, args)

    return deferred


def evaluate(roots: list[Thunk]) -> list[Any]:
    """Evaluate ``roots`` depth-first without recursion; return their values."""
    stack = list(roots)
    while stack:
        thunk = stack[-1]
        if thunk.done:
            stack.pop()
            continue
        waiting = [a for a in thunk.args if not a.done]
        if waiting:
            stack.extend(waiting)
            continue
        thunk.value = thunk.func(*[a.value for a in thunk.args])
        thunk.done = True
        thunk.args = ()
        stack.pop()
    return [r.value for r in roots]


# -- a columnar lazy evaluator: nodes are indices into flat lists ----------------------
class Columns:
    """One graph as parallel lists; a node is an index. Only the handle a call returns
    is a GC-tracked object (its inputs are a tuple of ints, which the GC untracks)."""

    def __init__(self) -> None:
        self.func: list[Callable[..., Any]] = []
        self.inputs: list[tuple[int, ...]] = []
        self.value: list[Any] = []
        self.done: list[bool] = []


class Handle:
    __slots__ = ("columns", "index")

    def __init__(self, columns: Columns, index: int) -> None:
        self.columns = columns
        self.index = index


def columnar(func: Callable[..., Any], columns: Columns) -> Callable[..., Handle]:
    """``func`` made lazy over ``columns``: calling it appends a node and returns its handle."""
    add_func, add_inputs = columns.func.append, columns.inputs.append
    add_value, add_done = columns.value.append, columns.done.append

    def deferred(*args: Handle) -> Handle:
        index = len(columns.func)
        add_func(func)
        add_inputs(tuple([a.index for a in args]))
        add_value(None)
        add_done(False)
        return Handle(columns, index)

    return deferred


def evaluate_columns(columns: Columns, roots: list[Handle]) -> list[Any]:
    """Evaluate ``roots`` depth-first without recursion; return their values."""
    func, inputs, value, done = columns.func, columns.inputs, columns.value, columns.done
    stack = [r.index for r in roots]
    while stack:
        i = stack[-1]
        if done[i]:
            stack.pop()
            continue
        waiting = [j for j in inputs[i] if not done[j]]
        if waiting:
            stack.extend(waiting)
            continue
        value[i] = func[i](*[value[j] for j in inputs[i]])
        done[i] = True
        stack.pop()
    return [value[r.index] for r in roots]

"""The node functions and specs behind ``pytest_tcg.strategies`` (no Hypothesis here).

Everything is module-level so pipelines built from a spec run on process workers too:
node functions travel by reference, and a worker imports this module to find them. A
node is named ``n<i>`` (or ``g<i>`` when its body builds a nested sub-pipeline); since a
``cost=`` hint belongs to the decorated function, there is one function per name and
cost, made on first use by the module's ``__getattr__`` (``n3_c2``: node 3, cost 2), so
a worker process finds the same function under the same name.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import itertools
import re
import time
from dataclasses import dataclass
from typing import Any

from tcg_core import Future, NodeFunction, node

__all__ = ["NodeSpec", "DagSpec", "CALL_LOG", "node_function"]

#: When a list, every body appends its call tag here (in-process executors only).
CALL_LOG: list[str] | None = None

_FUNCTION_NAME = re.compile(r"^([ng])(\d+)(?:_c(\d+))?$")
_functions: dict[str, NodeFunction[..., Any]] = {}
_tags = itertools.count()


def _log(tag: str) -> None:
    log = CALL_LOG
    if log is not None and tag:
        log.append(tag)


def _combine(node_id: int, *inputs: int, sleep: float = 0.0, tag: str = "") -> int:
    if sleep:
        time.sleep(sleep)
    _log(tag)
    return node_id + sum(inputs)


def _group(node_id: int, spec: DagSpec, *inputs: int, sleep: float = 0.0,
           tag: str = "") -> Future[int]:
    if sleep:
        time.sleep(sleep)
    _log(tag)
    inner = spec.build(tag=f"{tag}/" if tag else "")
    return out(node_id, *inputs, *inner, tag=f"{tag}/out" if tag else "")


out: NodeFunction[..., int] = node(name="out")(_combine)
setattr(out, "__qualname__", "out")  # noqa: B010 - NodeFunction copies it from _combine


def node_function(kind: str, index: int, cost: int | None) -> NodeFunction[..., Any]:
    """The module-level node function for a node: plain (``"n"``) or nested (``"g"``)."""
    attribute = f"{kind}{index}" + (f"_c{cost}" if cost is not None else "")
    return __getattr__(attribute)


def __getattr__(attribute: str) -> NodeFunction[..., Any]:
    found = _functions.get(attribute)
    if found is not None:
        return found
    match = _FUNCTION_NAME.match(attribute)
    if match is None:
        raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")
    kind, index, cost = match.groups()
    body = _combine if kind == "n" else _group
    made: NodeFunction[..., Any] = node(name=f"{kind}{index}",
                                   cost=float(cost) if cost is not None else None)(body)
    setattr(made, "__qualname__", attribute)  # noqa: B010 - pickled by reference by this name
    made.__module__ = __name__
    _functions[attribute] = made
    globals()[attribute] = made
    return made


@dataclass(frozen=True)
class NodeSpec:
    """One node: the earlier nodes it takes as inputs, its cost hint, and the sub-DAG its
    body builds (``None`` for a plain node)."""

    inputs: tuple[int, ...] = ()
    cost: int | None = None
    inner: DagSpec | None = None


@dataclass(frozen=True)
class DagSpec:
    """A DAG of nodes, each taking inputs only from earlier ones.

    Node ``i``'s value is ``i + sum(its inputs' values)``, plus, for a nested node, the sum
    of its sub-DAG's values (a child ``out`` node adds them up). ``build()`` makes the
    futures, ``expected()`` computes the same values in plain Python. Each node sleeps
    ``sleep`` seconds times its cost (1 without a cost hint).

    >>> spec = DagSpec((NodeSpec(), NodeSpec(inputs=(0,)), NodeSpec(inputs=(0, 1))))
    >>> spec
    dag(n0, n1(n0), n2(n0, n1))
    >>> spec.expected()
    [0, 1, 3]
    >>> from tcg_core import resolve
    >>> resolve(*spec.build(), executor="serial")
    (0, 1, 3)
    """

    nodes: tuple[NodeSpec, ...]
    sleep: float = 0.0

    def build(self, tag: str = "") -> list[Future[int]]:
        """Create the futures of every node, in order (nothing runs)."""
        futures: list[Future[int]] = []
        for i, spec in enumerate(self.nodes):
            kind = "n" if spec.inner is None else "g"
            func = node_function(kind, i, spec.cost)
            inputs = [futures[j] for j in spec.inputs]
            options = {"sleep": self.sleep * (spec.cost or 1)} if self.sleep else {}
            if tag:
                options["tag"] = f"{tag}{i}"  # type: ignore[assignment]
            if spec.inner is None:
                futures.append(func(i, *inputs, **options))
            else:
                futures.append(func(i, spec.inner, *inputs, **options))
        return futures

    def expected(self) -> list[int]:
        """Every node's value, computed without tcg."""
        values: list[int] = []
        for i, spec in enumerate(self.nodes):
            value = i + sum(values[j] for j in spec.inputs)
            if spec.inner is not None:
                value += sum(spec.inner.expected())
            values.append(value)
        return values

    def tags(self, prefix: str = "") -> list[str]:
        """The call tags ``build(tag=prefix)`` makes: one per body that will run."""
        found: list[str] = []
        for i, spec in enumerate(self.nodes):
            found.append(f"{prefix}{i}")
            if spec.inner is not None:
                found += spec.inner.tags(f"{prefix}{i}/")
                found.append(f"{prefix}{i}/out")
        return found

    def count(self) -> int:
        """How many nodes a run creates, nested ones included."""
        return sum(1 + (s.inner.count() + 1 if s.inner is not None else 0)
                   for s in self.nodes)

    def __repr__(self) -> str:
        return f"dag({', '.join(self._describe(i) for i in range(len(self.nodes)))})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints falsifying examples through this hook: keep them one line.
        printer.text(repr(self))

    def _describe(self, i: int) -> str:
        spec = self.nodes[i]
        kind = "n" if spec.inner is None else "g"
        text = f"{kind}{i}"
        if spec.inputs:
            text += "(" + ", ".join(self._name(j) for j in spec.inputs) + ")"
        if spec.cost is not None:
            text += f"@cost={spec.cost}"
        if spec.inner is not None:
            text += "{" + repr(spec.inner)[4:-1] + "}"
        return text

    def _name(self, j: int) -> str:
        return ("n" if self.nodes[j].inner is None else "g") + str(j)

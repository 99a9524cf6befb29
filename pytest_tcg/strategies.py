"""Hypothesis strategies for computation graphs (needs ``hypothesis``; the plugin never
imports this module).

>>> from hypothesis import given
>>> from tcg_core import resolve
>>> from pytest_tcg.strategies import dags
>>> @given(dags(max_nodes=5))
... def test_threads_match_plain_python(spec):
...     assert list(resolve(*spec.build(), executor="threads")) == spec.expected()
>>> test_threads_match_plain_python()
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from typing import Any

from hypothesis import strategies as st

from ._dagnodes import DagSpec, NodeSpec

__all__ = ["dags", "DagSpec", "NodeSpec", "schedules"]


def schedules(*, max_seed: int = 2**32 - 1) -> st.SearchStrategy[Any]:
    """Executors that run a pipeline in different valid orders: ``"serial"`` (the
    default, depth-first order) or a ``tcg_core.ShuffledExecutor`` with a seed up to
    ``max_seed``. Shrinks towards the default order, then towards seed 0, so a failing
    example is the simplest order that shows the bug; its seed replays it.

    >>> from hypothesis import given
    >>> from tcg_core import node
    >>> @node
    ... def two():
    ...     return 2
    >>> @given(schedules())
    ... def test_any_order(executor):
    ...     assert two().resolve(executor=executor) == 2
    >>> test_any_order()
    """
    from tcg_core import ShuffledExecutor

    if isinstance(max_seed, bool) or not isinstance(max_seed, int) or max_seed < 0:
        raise TypeError(f"schedules(): max_seed must be an int >= 0, got "
                        f"{type(max_seed).__name__} {max_seed!r:.40}")
    return st.one_of(st.just("serial"),
                     st.builds(ShuffledExecutor, seed=st.integers(0, max_seed)))


def dags(*, min_nodes: int = 1, max_nodes: int = 8, max_inputs: int = 3,
         nested: bool | int = False, sleep: float = 0.0,
         costs: tuple[int, int] | None = None) -> st.SearchStrategy[DagSpec]:
    """Random DAG specifications: :class:`DagSpec` values that build real ``@node``
    pipelines whose values are known in plain Python (``spec.expected()``).

    Node ``i`` takes up to ``max_inputs`` distinct inputs among nodes ``0..i-1``, so every
    example is acyclic. ``nested`` lets a node's body build a sub-DAG of up to half as
    many nodes (``True``: two levels deep; an int: that many levels). ``costs=(lo, hi)``
    gives each node a whole-number ``cost=`` hint in that range; ``sleep`` makes each node
    sleep that many seconds times its cost (1 without one), for timing tests whose cost
    hints match what the nodes really do.

    Shrinking: towards fewer nodes (down to ``min_nodes``), then fewer inputs per node,
    no nesting and the smallest costs, so a failing example ends as a handful of nodes
    with the edges the failure needs, shown like ``dag(n0, n1(n0), g2(n1){n0})``.

    >>> from hypothesis import find
    >>> find(dags(max_nodes=6), lambda spec: len(spec.nodes) >= 3)
    dag(n0, n1, n2)
    >>> find(dags(), lambda spec: any(len(n.inputs) == 2 for n in spec.nodes))
    dag(n0, n1, n2(n0, n1))
    """
    if not 1 <= min_nodes <= max_nodes:
        raise ValueError(f"need 1 <= min_nodes <= max_nodes, got {min_nodes}, {max_nodes}")
    if max_inputs < 0:
        raise ValueError(f"max_inputs must be >= 0, got {max_inputs}")
    if costs is not None and not 0 <= costs[0] <= costs[1]:
        raise ValueError(f"costs must be (lo, hi) with 0 <= lo <= hi, got {costs}")
    depth = 2 if nested is True else int(nested)
    return _dags(min_nodes, max_nodes, max_inputs, depth, sleep, costs)


def _dags(min_nodes: int, max_nodes: int, max_inputs: int, depth: int, sleep: float,
          costs: tuple[int, int] | None) -> st.SearchStrategy[DagSpec]:
    # Nodes are drawn as one list of drafts so Hypothesis can delete any node while
    # shrinking; a draft's inputs are raw numbers taken modulo its position, so every
    # draft list (and every shrink of it) is a valid DAG.
    inner: st.SearchStrategy[DagSpec | None] = st.none()
    if depth:
        inner = st.none() | st.deferred(lambda: _dags(
            1, max(1, max_nodes // 2), max_inputs, depth - 1, sleep, costs))
    draft = st.tuples(
        st.lists(st.integers(0, max_nodes), max_size=max_inputs, unique=True),
        st.integers(*costs) if costs is not None else st.none(),
        inner)
    return st.lists(draft, min_size=min_nodes, max_size=max_nodes).map(
        lambda drafts: _spec(drafts, sleep))


def _spec(drafts: list[tuple[list[int], int | None, DagSpec | None]], sleep: float) -> DagSpec:
    nodes = []
    for i, (raw_inputs, cost, inner) in enumerate(drafts):
        inputs = tuple(sorted({raw % i for raw in raw_inputs})) if i else ()
        nodes.append(NodeSpec(inputs=inputs, cost=cost, inner=inner))
    return DagSpec(tuple(nodes), sleep=sleep)

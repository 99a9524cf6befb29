"""Random DAGs of nodes passing arrays of random sizes (below, around and above the
shared-memory threshold) give the same values on every executor as on serial: values
kept in workers, moved through shared memory or through pipes, fetched or not.

Each example builds the graph afresh for each executor and asks for a random subset of
its nodes (the others' futures are dropped, so their values may stay in the workers).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcg_core import Callback, ProcessesExecutor, ShuffledExecutor, resolve
from tests.core import _nodes_for_data as D

pytestmark = pytest.mark.timeout(600)

#: item counts of float64 arrays: empty, tiny, just under and over 64 kB (the size from
#: which a kept value stays in its worker), and over 256 kB (shared memory)
SIZES = [0, 3, 8_000, 8_200, 200_000]

Spec = tuple[int, int, tuple[int, ...]]  # (seed, size, indices of earlier nodes it reads)


@st.composite
def array_graphs(draw: Any, max_nodes: int = 6) -> tuple[list[Spec], list[int]]:
    count = draw(st.integers(1, max_nodes))
    specs: list[Spec] = []
    for i in range(count):
        inputs = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        specs.append((draw(st.integers(0, 100)), draw(st.sampled_from(SIZES)),
                      tuple(sorted(inputs))))
    wanted = draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=count,
                           unique=True))
    return specs, wanted


def values_on(graph: tuple[list[Spec], list[int]], executor: Any,
              callbacks: list[Callback] | None = None) -> list[Any]:
    specs, wanted = graph
    futures: list[Any] = []
    for seed, size, inputs in specs:
        futures.append(D.combine(seed, size, *[futures[j] for j in inputs]))
    asked = [futures[i] for i in wanted]
    del futures  # the caller holds only what it asked for
    return list(resolve(*asked, executor=executor, callbacks=callbacks or ()))


def _same(left: list[Any], right: list[Any]) -> bool:
    return len(left) == len(right) and all(
        a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(left, right, strict=True))


EXECUTORS = {
    "threads": lambda: ("threads", None),
    "shuffled": lambda: (ShuffledExecutor(seed=3), None),
    "processes": lambda: ("processes", None),
    # a callback needs every value here: values come back node by node
    "processes-observed": lambda: ("processes", [Callback()]),
    # everything over 1 byte through shared memory
    "processes-all-shared": lambda: (ProcessesExecutor(max_workers=2, share_above=1), None),
}


@pytest.mark.parametrize("kind", sorted(EXECUTORS))
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(graph=array_graphs())
def test_random_array_dags_give_what_serial_gives(kind: str,
                                                  graph: tuple[list[Spec], list[int]]) -> None:
    executor, callbacks = EXECUTORS[kind]()
    expected = values_on(graph, "serial")
    assert _same(values_on(graph, executor, callbacks), expected)


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(graph=array_graphs(max_nodes=4))
def test_random_array_dags_on_dask_give_what_serial_gives(
        dask_client: Any, graph: tuple[list[Spec], list[int]]) -> None:
    expected = values_on(graph, "serial")
    assert _same(values_on(graph, dask_client), expected)

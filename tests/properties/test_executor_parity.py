"""One graph, one meaning, on every executor (issue 20).

For random DAGs of every kind of node (sync, async, nested, failing, cached, pure,
replaced by a test double, timed out), threads, processes, a shuffled order and Dask
give what serial gives: the same values, the same failures (type and node), the same
final state of every node and the same number of body runs. Each run has a fresh
result cache, so a cached node runs once in each.
"""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcg_core import Graph, NodeError, NodeFailures, ShuffledExecutor, override, resolve
from tests.core import _nodes_for_processes as P
from tests.properties import _parity_nodes as N

pytestmark = pytest.mark.timeout(600)

Spec = tuple[str, tuple[int, ...]]  # (kind, indices of earlier nodes it consumes)


@st.composite
def graphs(draw: Any, max_nodes: int = 7) -> list[Spec]:
    """Shrinks towards fewer nodes, fewer edges and plain nodes; one timed-out node at
    most (each costs its timeout)."""
    size = draw(st.integers(1, max_nodes))
    kinds = st.sampled_from(sorted(N.KINDS, key=lambda k: k != "plain"))
    specs: list[Spec] = []
    for i in range(size):
        kind = draw(kinds)
        if kind == "timed_out" and any(k == "timed_out" for k, _ in specs):
            kind = "plain"
        inputs = draw(st.lists(st.integers(0, i - 1), max_size=2, unique=True)) if i else []
        specs.append((kind, tuple(sorted(inputs))))
    return specs


def observe(specs: list[Spec], executor: Any, log_dir: Path) -> dict[str, Any]:
    """Everything a user can see of one resolve of the graph."""
    log_dir.mkdir()
    log = str(log_dir)
    futures: list[Any] = []
    with Graph() as graph, override({N.replaced: N.fake}):
        for i, (kind, inputs) in enumerate(specs):
            make = N.KINDS[kind]
            args = [futures[j] for j in inputs]
            futures.append(make(log, f"n{i}", *args))
            if kind == "pure":  # the same call again: one node, one run
                assert make(log, f"n{i}", *args) is futures[-1] or \
                    make(log, f"n{i}", *args).node is futures[-1].node
        try:
            outcome: Any = ("values", resolve(*futures, executor=executor,
                                              keep_going=True))
        except NodeFailures as exc:
            outcome = ("failures", sorted(_failure(e) for e in exc.errors))
        except NodeError as exc:
            outcome = ("failures", [_failure(exc)])
    states = Counter((rec.path, rec.state) for rec in graph.nodes)
    return {"outcome": outcome, "states": states, "runs": P.runs(log)}


def _failure(err: NodeError) -> tuple[str, str]:
    return (type(err.__cause__).__name__, err.path)


_counter = itertools.count()


def _compare(specs: list[Spec], executor: Any, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> None:
    example = next(_counter)
    found = []
    for name, where in (("serial", "serial"), ("other", executor)):
        monkeypatch.setenv("TCG_CACHE_DIR", str(tmp_path / f"cache-{example}-{name}"))
        found.append(observe(specs, where, tmp_path / f"log-{example}-{name}"))
    serial, other = found
    assert other["outcome"] == serial["outcome"]
    assert other["states"] == serial["states"]
    assert other["runs"] == serial["runs"]


EXAMPLES = {"threads": 40, "shuffled": 40, "processes": 12, "dask": 12}


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_every_executor_gives_what_serial_gives(
        kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest) -> None:
    executor: Any = {"shuffled": ShuffledExecutor(seed=11)}.get(kind, kind)
    if kind == "dask":
        executor = request.getfixturevalue("dask_client")

    @settings(max_examples=EXAMPLES[kind], deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow,
                                     HealthCheck.function_scoped_fixture])
    @given(graphs())
    def run(specs: list[Spec]) -> None:
        _compare(specs, executor, tmp_path, monkeypatch)

    run()


def test_the_strategy_makes_every_kind_and_edges() -> None:
    """The property is only as good as the graphs: every kind appears, with edges."""
    seen: set[str] = set()
    edges = False

    @settings(max_examples=300, deadline=None, database=None)
    @given(graphs())
    def look(specs: list[Spec]) -> None:
        nonlocal edges
        seen.update(kind for kind, _ in specs)
        edges |= any(inputs for _, inputs in specs)

    look()
    assert seen == set(N.KINDS) and edges

"""A run that stopped (fail-fast, Ctrl-C) is drawn as it stopped (issue 22): nodes still
running and nodes never started are marked so in every export, never drawn as done,
and every format says the same of each node."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tcg_core import Graph, NodeError, resolve, to_dot, to_json, to_mermaid, to_networkx
from tests.core import _nodes_for_processes as P

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_every_export_says_the_same_of_a_stopped_run(executor: str, tmp_path: Path) -> None:
    # Serial (and a shuffled order) run one body at a time: nothing is in flight when a
    # node fails, so no node can be left running; Dask is the same client-side code.
    log = str(tmp_path)
    with Graph() as graph:
        nap = P.gated_nap(log, "nap")
        P.identity(nap)  # never started: its input never finished
        P.urgent_boom(log, "first")
    try:
        with pytest.raises(NodeError):
            resolve(*graph.futures, executor=executor, max_workers=2, inline_tiny=False)
        # Exported while the nap still waits at its gate: the run stopped around it.
        exports = _exports(graph)
    finally:
        P.open_gate(log)
    states = {n["name"]: n["state"] for n in json.loads(exports["json"])["nodes"]}
    # Threads cannot stop the nap (still running); processes kill it (back to pending).
    assert states["gated_nap"] == ("running" if executor == "threads" else "pending")
    assert states["identity"] == "pending" and states["urgent_boom"] == "failed"
    assert exports["networkx"] == states
    expected = {"running": "(unfinished: running)", "pending": "(not run)", "failed": None}
    for name, state in states.items():
        mark = expected[state]
        for text in (_line(exports["dot"], f'label="{name}'),
                     _line(exports["mermaid"], f'["{name}')):
            if mark is None:
                assert "(not run)" not in text and "(unfinished" not in text, text
            else:
                assert mark in text, (name, text)


def test_a_graph_not_run_yet_is_drawn_plain() -> None:
    future = P.identity(P.identity(1))
    assert "(not run)" not in to_dot(future.graph) and "notrun" not in to_mermaid(
        future.graph)


def _exports(graph: Graph) -> dict[str, Any]:
    nx_graph = to_networkx(graph)
    return {"json": to_json(graph), "dot": to_dot(graph), "mermaid": to_mermaid(graph),
            "networkx": {data["name"]: data["state"] for _, data in nx_graph.nodes(data=True)}}


def _line(text: str, marker: str) -> str:
    return next(line for line in text.splitlines() if marker in line)

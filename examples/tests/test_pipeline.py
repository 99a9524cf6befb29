"""Tests for the seed's nested pipeline (``examples/pipeline.py``): a starting point to copy.

    pytest examples/tests --tcg-graph-out graphs    # and look at graphs/*.svg
"""

from __future__ import annotations

import pytest

from examples.pipeline import multiply, pipeline, subtract
from pytest_tcg import assert_graph_shape, assert_nested


def test_value(tcg_resolve):
    assert tcg_resolve(pipeline(10, 2, 5, 6)) == -60


@pytest.mark.parametrize("executor", [
    pytest.param("serial", marks=pytest.mark.tcg("serial")),
    pytest.param("threads", marks=pytest.mark.tcg("threads", workers=4)),
    pytest.param("processes", marks=pytest.mark.tcg("processes", workers=2)),
])
def test_same_value_on_every_executor(tcg_resolve, executor):
    assert tcg_resolve(pipeline(10, 2, 5, 6)) == -60


def test_nesting(tcg_graph):
    pipeline(10, 2, 5, 6)
    tcg_graph.resolve()
    assert_nested(tcg_graph, {"pipeline": ["add", "subtract", "multiply"], "add": ["_add"]})


def test_data_edges(tcg_graph):
    pipeline(10, 2, 5, 6)
    tcg_graph.resolve()
    # pipeline and _add take plain values only: they are nodes without data edges.
    assert_graph_shape(tcg_graph, {"multiply": {"add", "subtract"}, "pipeline": set(),
                                   "_add": set()})


def test_structure_snapshot(tcg_graph, tcg_snapshot):
    pipeline(10, 2, 5, 6)
    tcg_graph.resolve()
    tcg_snapshot()  # __tcg_snapshots__/test_pipeline/test_structure_snapshot.json


def test_node_bodies_are_plain_functions():
    # .func is the undecorated function: unit-test a step without building a graph.
    assert subtract.func(5, 6) == -1
    assert multiply.func(12, 5, -1) == -60

"""Which call failed: a node's error shows the call (id and a short summary of its
arguments), and a per-call label (``node.named("...")``) is shown in errors, kept on
the record, written to JSON and drawn in diagrams."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tcg_core import Graph, NodeError, load_json, node, to_dot, to_mermaid
from tests.core import _values_for_processes as V


@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_the_error_shows_the_label_the_id_and_the_arguments(executor: str) -> None:
    with Graph() as g:
        V.parse_rows.named("parse shop/a")(V.value("shop/a"))
        failing = V.parse_rows.named("parse shop/b")(V.value("shop/b"), limit=3)
    with pytest.raises(NodeError) as info:
        g.resolve(executor=executor)
    message = str(info.value)
    assert message.startswith("node 'parse_rows' [parse shop/b] failed (parse_rows): "
                              "ValueError: bad row"), message
    # the futures' values are shown: what the body was given
    assert f"the call: parse_rows#{failing.node.id}('shop/b', limit=3)" in message


def test_calls_of_one_function_are_told_apart_without_labels() -> None:
    with Graph() as g:
        V.parse_rows("a/b1")
        V.parse_rows("a/b2")
    with pytest.raises(Exception) as info:
        g.resolve(executor="serial", keep_going=True)
    messages = sorted(str(e) for e in info.value.errors)  # type: ignore[attr-defined]
    assert "parse_rows#" in messages[0] and "('a/b1')" in messages[0]
    assert "('a/b2')" in messages[1]


def test_long_arguments_are_summarised() -> None:
    @node
    def fails(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("no")

    with pytest.raises(NodeError) as info:
        fails("x" * 500, list(range(1000)), 3, 4, 5, 6, a=1).resolve(executor="serial")
    call = str(info.value).split("the call: ")[1]
    assert len(call) < 200, call
    assert "..." in call and "a=1" in call


def test_a_labelled_child_inside_a_parent_names_its_path_and_label() -> None:
    with pytest.raises(NodeError) as info:
        V.run_pages("shop/a", "shop/b").resolve(executor="threads")
    assert "node 'parse_rows' [parse shop/b] failed (run_pages › parse_rows)" in str(
        info.value)


def test_the_label_is_kept_on_the_record_and_in_json_and_diagrams() -> None:
    with Graph() as g:
        labelled = V.value.named("the <first> one")(1)
        V.value(2)
    g.resolve(executor="serial")
    assert labelled.node.label == "the <first> one"
    assert [r.label for r in g.nodes] == ["the <first> one", None]
    doc = json.loads(g.to_json())
    assert [n["label"] for n in doc["nodes"]] == ["the <first> one", None]
    assert [r.label for r in load_json(g.to_json()).nodes] == ["the <first> one", None]
    assert 'label="value\\nthe <first> one\\n' in to_dot(g)
    assert "value<br>the #lt;first#gt; one<br>" in to_mermaid(g)
    assert g.to_networkx().nodes[labelled.node.id]["label"] == "the <first> one"


def test_named_with_nout_labels_the_call() -> None:
    @node(nout=2)
    def pair() -> tuple[int, int]:
        return 1, 2

    left, right = pair.named("the pair")()
    assert left.node.label == "the pair" and right.node is left.node
    assert (left.resolve(), right.resolve()) == (1, 2)


@pytest.mark.parametrize("label", [None, "", 3, True, b"x"])
def test_named_checks_its_label(label: Any) -> None:
    with pytest.raises(TypeError, match=r"value\.named\(\): label must be a non-empty str, "
                                        f"not {type(label).__name__}"):
        V.value.named(label)


@pytest.mark.timeout(120)
def test_labels_and_the_call_on_dask(dask_client: Any) -> None:
    with pytest.raises(NodeError) as info:
        V.run_pages("shop/a", "shop/b").resolve(executor=dask_client)
    message = str(info.value)
    assert "node 'parse_rows' [parse shop/b] failed (run_pages › parse_rows)" in message
    assert "('shop/b')" in message

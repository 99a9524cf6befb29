"""Exporters, logging and ``load_json`` against hostile text and documents (issue 20):
an exception whose ``__str__`` raises, lone surrogates, huge messages and names, and
corrupt or malicious JSON. Each gives a readable result or one ``TcgError`` naming the
field, never a raw error from tcg's code or an exporter that hangs.

Not per executor: exporters read a finished graph model, whichever executor made it
(``test_a_hostile_error_is_exported_from_every_executor`` checks that once).
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from typing import Any

import pytest

from tcg_core import (
    Graph,
    NodeError,
    TcgError,
    load_json,
    node,
    resolve,
    save,
    to_chrome_trace,
    to_dot,
    to_json,
    to_mermaid,
    to_networkx,
)
from tests.core import _values_for_processes as V

pytestmark = pytest.mark.timeout(60)


def _failed_graph(error: BaseException, executor: Any = "serial") -> Graph:
    with Graph() as graph:
        future = V.raise_given(error)
    with pytest.raises(NodeError):
        resolve(future, executor=executor)
    return graph


def _every_export(graph: Any) -> dict[str, str]:
    texts = {"dot": to_dot(graph), "mermaid": to_mermaid(graph), "json": to_json(graph),
             "trace": to_chrome_trace(graph)}
    to_networkx(graph)
    for text in texts.values():
        text.encode("utf-8")  # every export can be written to a file
    return texts


def test_an_error_whose_str_raises_is_exported_by_its_type() -> None:
    texts = _every_export(_failed_graph(V.HostileStr("boom")))
    for kind in ("dot", "mermaid", "json"):
        assert "HostileStr" in texts[kind]
    assert "<str() of the HostileStr raised RuntimeError>" in texts["json"]


def test_a_hostile_error_is_exported_from_every_executor(every_executor: Any) -> None:
    texts = _every_export(_failed_graph(V.HostileStr("boom"), every_executor))
    assert "HostileStr" in texts["json"]


def test_lone_surrogates_and_huge_messages_are_written_and_drawn() -> None:
    graph = _failed_graph(ValueError("bad \ud800 row " + "y" * 50_000))
    texts = _every_export(graph)
    (loaded,) = load_json(texts["json"]).nodes
    assert str(loaded.error).startswith("bad \ud800 row yyy")  # JSON keeps it exactly
    assert max(len(line) for line in texts["dot"].splitlines()) < 16_384
    if shutil.which("dot"):
        drawn = subprocess.run(["dot", "-Tsvg"], input=texts["dot"].encode(),
                               capture_output=True, check=False)
        assert drawn.returncode == 0, drawn.stderr


def test_save_writes_every_format_for_hostile_text(tmp_path: Any) -> None:
    graph = _failed_graph(ValueError("bad \ud800"))
    for suffix in ("json", "dot", "mmd"):
        target = tmp_path / f"g.{suffix}"
        save(graph, target)
        target.read_text(encoding="utf-8")


def test_logging_and_verbose_lines_survive_an_error_whose_str_raises(
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    logging.raiseExceptions = True  # the default: a formatting error would print
    with caplog.at_level(logging.INFO, logger="tcg_core"):
        _failed_graph(V.HostileStr("boom"))
        verbose = node(verbose=True, name="loud")(V.raise_given.func)
        with pytest.raises(NodeError):
            resolve(verbose(V.HostileStr("x")), executor="serial")
    assert any("HostileStr: <str() of the HostileStr raised RuntimeError>" in r.getMessage()
               for r in caplog.records)
    captured = capsys.readouterr()
    assert "Logging error" not in captured.err
    assert "[tcg] loud: failed" in captured.out and "HostileStr" in captured.out


@pytest.mark.parametrize("name", ["a\ud800b", "x" * 1001])
def test_a_name_no_file_or_diagram_can_hold_is_refused_where_it_is_given(name: str) -> None:
    with pytest.raises(ValueError, match="name must be"):
        node(name=name)(V.raise_given.func)
    step = node(V.raise_given.func)
    with pytest.raises(ValueError, match="name must be"):
        step.name = name


# -- load_json -----------------------------------------------------------------------


def _doc(*nodes: dict[str, Any], version: Any = 1) -> str:
    return json.dumps({"format": "tcg-graph", "version": version, "nodes": list(nodes)})


def _n(node_id: int, **fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": node_id, "name": f"n{node_id}", "inputs": [],
                             "input_names": [], "state": "done"}
    entry.update(fields)
    return entry


@pytest.mark.parametrize(("text", "field"), [
    (_doc(version=True), "version must be 1, got True"),
    (_doc(version=1.0), "version must be 1, got 1.0"),
    (_doc(_n(1, inputs=[2], input_names=["x"]), _n(2, inputs=[1], input_names=["y"])),
     "free of cycles"),
    (_doc(_n(1, inputs=[1], input_names=["x"])), "free of cycles"),
    (_doc(_n(1, children=[2]), _n(2, parent=1, inputs=[1], input_names=["x"])),
     "free of cycles"),
    (_doc(_n(1, parent=2), _n(2, parent=1)), "a chain of parents that ends"),
    (_doc(_n(1, children=[2]), _n(2)), r"nodes\[0\]\.children must be nodes whose parent"),
    (_doc(_n(1, start=1e400)), r"nodes\[0\]\.start must be a finite number"),
    ('{"format": "tcg-graph", "version": 1, "nodes": [{"id": 1e400}]}',
     r"nodes\[0\]\.id must be an int"),
    (_doc(_n(10**30)), r"nodes\[0\]\.id must be an int"),
    (_doc(_n(True)), r"nodes\[0\]\.id must be an int"),
    (_doc(_n(1), _n(1)), r"nodes\[1\]\.id must be unique"),
    (_doc(_n(1, state="exploded")), r"nodes\[0\]\.state must be one of"),
    (_doc(_n(1, name=5)), r"nodes\[0\]\.name must be a non-empty string"),
    (_doc(_n(1, attempts=-1)), r"nodes\[0\]\.attempts must be an int >= 0"),
    (_doc(_n(1, returned="yes")), r"nodes\[0\]\.returned must be true or false"),
    (_doc(_n(1, inputs=[], input_names=["x"])), r"nodes\[0\]\.input_names must be 0 names"),
    (_doc(_n(1, error=["x"])), r"nodes\[0\]\.error must be a string"),
    (_doc("not a node"), r"nodes\[0\] must be an object"),
    ("[" * 100_000 + "]" * 100_000, "not JSON"),
    ('{"format": "tcg-graph", "version": 1, "nodes": [{"id": ' + "9" * 5000 + "}]}",
     "not JSON"),
])
def test_load_json_refuses_a_hostile_document_naming_the_field(text: str, field: str) -> None:
    with pytest.raises(TcgError, match=field):
        load_json(text)


def test_a_deep_but_valid_nesting_loads_and_exports() -> None:
    depth = 3000
    nodes = [_n(i, parent=i - 1 if i else None, children=[i + 1] if i < depth - 1 else None)
             for i in range(depth)]
    model = load_json(_doc(*nodes))
    assert len(model.nodes) == depth
    _every_export(model)

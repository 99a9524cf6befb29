"""The exporters: networkx, DOT/pydot, Mermaid, JSON, Chrome trace and save()."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import networkx as nx
import pydot
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import tcg_core
from examples.pipeline import pipeline
from tcg_core import (
    Graph,
    GraphModel,
    NodeError,
    NodeState,
    TcgError,
    load_json,
    node,
    save,
    to_chrome_trace,
    to_dot,
    to_json,
    to_mermaid,
    to_networkx,
    to_pydot,
)

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz 'dot' is not installed")
EXPORT_DIR = Path(tcg_core.__file__).parent / "_export"


# -- the seed pipeline (examples/pipeline.py): _add inside add; add, subtract, multiply inside
# pipeline


# -- a graph with a failure, skipped consumers and a dropped child -------------------------
@node
def boom(x: int) -> float:
    return x / 0


def plain_inc(x: int) -> int:
    return x + 1


inc = node(plain_inc)


@node
def shaky(x: int) -> Any:
    first = inc(x)
    inc(first)  # created, never returned nor consumed: "unreturned"
    return inc(boom(first))


@node
def square(x: int) -> int:
    return x * x


@node
def pair(a: int, b: int) -> int:
    return a + b


WEIRD = 'we"ird\\ <b>&lt; é→ #1 `x`'


@node(name=WEIRD)
def weird(x: int) -> int:
    return x


def seed_graph(executor: str = "serial") -> GraphModel:
    future = pipeline(10, 2, 5, 6)
    assert future.resolve(executor=executor) == -60
    graph: GraphModel = future.graph
    return graph


def failing_graph() -> GraphModel:
    with Graph() as graph:
        top = shaky(1)
        inc(top)
        square(3)
    with pytest.raises(NodeError, match="boom"):
        graph.resolve(executor="serial", keep_going=True)
    return graph


@pytest.fixture
def seed() -> GraphModel:
    return seed_graph()


@pytest.fixture
def failing() -> GraphModel:
    return failing_graph()


# -- a small reader of DOT text (through pydot's parser) -----------------------------------
def _unquote(value: str | None) -> str:
    if value is None:
        return ""
    if value.startswith('"') and value.endswith('"'):
        value = value[1:-1]
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append({"n": "\n", "\\": "\\", '"': '"'}.get(nxt, "\\" + nxt))
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out).replace("&amp;", "&")


class Drawing:
    """What a DOT text shows: boxes by key, clusters with their members, arrows."""

    def __init__(self, text: str) -> None:
        with warnings.catch_warnings():
            # pydot's parser module uses pyparsing names deprecated in pyparsing 3.3;
            # the exporters never parse, only the tests do.
            warnings.simplefilter("ignore", DeprecationWarning)
            parsed = pydot.graph_from_dot_data(text)
        assert parsed is not None and len(parsed) == 1, text
        self.dot = parsed[0]
        self.nodes: dict[str, dict[str, str]] = {}  # node key -> attributes (unquoted)
        self.clusters: dict[str, dict[str, Any]] = {}  # cluster key -> attrs, parent, members
        self.owner: dict[str, str | None] = {}  # node key -> the cluster it sits in
        self._walk(self.dot, None)
        self.edges = [(e.get_source(), e.get_destination(),
                       {k: _unquote(v) for k, v in e.get_attributes().items()})
                      for e in self._all_edges(self.dot)]

    def _walk(self, graph: Any, cluster: str | None) -> None:
        for item in graph.get_nodes():
            if item.get_name() in ("node", "edge", "graph"):
                continue
            key = item.get_name()
            self.nodes[key] = {k: _unquote(v) for k, v in item.get_attributes().items()}
            self.owner[key] = cluster
        for sub in graph.get_subgraphs():
            name = sub.get_name()
            attrs = {k: _unquote(v) for k, v in sub.get_attributes().items()}
            self.clusters[name] = {"attrs": attrs, "parent": cluster}
            self._walk(sub, name)

    def _all_edges(self, graph: Any) -> list[Any]:
        found = list(graph.get_edges())
        for sub in graph.get_subgraphs():
            found.extend(self._all_edges(sub))
        return found

    def label(self, key: str) -> str:
        if key in self.clusters:
            return self.clusters[key]["attrs"]["label"]
        return self.nodes[key]["label"]

    def name(self, key: str) -> str:
        return self.label(key).split("\n")[0]

    def cluster_named(self, name: str) -> str:
        found = [k for k in self.clusters if self.name(k) == name]
        assert len(found) == 1, (name, self.clusters)
        return found[0]

    def box_named(self, name: str) -> str:
        found = [k for k, a in self.nodes.items()
                 if a.get("style") != "invis" and a["label"].split("\n")[0] == name]
        assert len(found) == 1, (name, self.nodes)
        return found[0]

    def shown_end(self, key: str, clip: str | None) -> str:
        """The name drawn at an arrow's end: the clipped-to cluster's, else the box's."""
        return self.name(clip) if clip else self.name(key)

    def arrows(self) -> set[tuple[str, str]]:
        return {(self.shown_end(t, a.get("ltail")), self.shown_end(h, a.get("lhead")))
                for t, h, a in self.edges if a.get("style") != "invis"}


def _render(text: str, fmt: str = "svg") -> subprocess.CompletedProcess[bytes]:
    dot = shutil.which("dot")
    assert dot is not None
    return subprocess.run([dot, f"-T{fmt}"], input=text.encode(), capture_output=True,
                          check=False, timeout=60)


# -- networkx --------------------------------------------------------------------------------
def test_networkx_nodes_edges_and_attributes(seed: GraphModel) -> None:
    g = to_networkx(seed)
    assert isinstance(g, nx.DiGraph)
    by_name = {data["name"]: key for key, data in g.nodes(data=True)}
    assert set(by_name) == {"pipeline", "add", "_add", "subtract", "multiply"}
    assert set(g.nodes) == {r.id for r in seed.nodes}
    edges = {(g.nodes[u]["name"], g.nodes[v]["name"]): a for u, v, a in g.edges(data=True)}
    assert edges == {("add", "multiply"): {"arg": "a", "args": ("a",)},
                     ("subtract", "multiply"): {"arg": "c", "args": ("c",)}}
    inner = g.nodes[by_name["_add"]]
    assert inner["parent"] == by_name["add"]
    assert g.nodes[by_name["add"]]["parent"] == by_name["pipeline"]
    assert g.nodes[by_name["pipeline"]]["parent"] is None
    assert inner["path"] == "pipeline › add › _add"
    assert inner["depth"] == 2
    for _, data in g.nodes(data=True):
        assert data["state"] == NodeState.DONE
        assert data["duration"] is not None and data["duration"] >= 0
        assert data["start"] <= data["end"]
        assert isinstance(data["worker"], str)
        assert data["error"] is None
        assert data["unreturned"] is False
    assert g.nodes[by_name["multiply"]]["returned"] is True
    assert g.nodes[by_name["add"]]["returned"] is False  # feeds multiply, not returned itself


def test_networkx_collapses_parallel_edges_and_draws_nesting() -> None:
    x = square(3)
    total = pair(x, x)
    assert total.resolve(executor="serial") == 18
    g = to_networkx(total.graph)
    assert g.number_of_edges() == 1
    ((_, _, data),) = g.edges(data=True)
    assert data == {"arg": "a, b", "args": ("a", "b")}

    tree = to_networkx(seed_graph(), nesting=True)
    named = {(tree.nodes[u]["name"], tree.nodes[v]["name"]) for u, v in tree.edges}
    assert named == {("pipeline", "add"), ("pipeline", "subtract"), ("pipeline", "multiply"),
                     ("add", "_add")}
    assert nx.is_forest(tree)


def test_networkx_marks_failures(failing: GraphModel) -> None:
    g = to_networkx(failing)
    (failed,) = [d for _, d in g.nodes(data=True) if d["name"] == "boom"]
    assert failed["state"] == NodeState.FAILED
    assert failed["error"] == "ZeroDivisionError: division by zero"
    assert sum(d["unreturned"] for _, d in g.nodes(data=True)) == 1


# -- DOT and pydot ---------------------------------------------------------------------------
def test_dot_nests_clusters_like_the_seed_picture(seed: GraphModel) -> None:
    drawing = Drawing(to_dot(seed))
    pipe, add_ = drawing.cluster_named("pipeline"), drawing.cluster_named("add")
    assert drawing.clusters[pipe]["parent"] is None
    assert drawing.clusters[add_]["parent"] == pipe
    assert drawing.owner[drawing.box_named("_add")] == add_
    for name in ("subtract", "multiply"):
        assert drawing.owner[drawing.box_named(name)] == pipe
    assert drawing.arrows() == {("add", "multiply"), ("subtract", "multiply")}
    assert drawing.dot.get_graph_defaults()[0]["compound"] in ("true", '"true"')
    # The arrow out of 'add' starts on its cluster's border.
    (out_of_add,) = [a for _, _, a in drawing.edges if a.get("ltail")]
    assert out_of_add["ltail"] == add_


def test_dot_labels_durations_and_is_deterministic(seed: GraphModel) -> None:
    drawing = Drawing(to_dot(seed))
    label = drawing.label(drawing.box_named("_add"))
    assert label.split("\n")[1].endswith(("µs", "ms", " s"))
    assert to_dot(seed) == to_dot(seed)
    untimed = to_dot(seed, timings=False)
    assert "µs" not in untimed and untimed == to_dot(seed_graph(), timings=False)


def test_pydot_matches_dot_text(seed: GraphModel) -> None:
    dot = to_pydot(seed)
    assert isinstance(dot, pydot.Dot)
    ours, theirs = Drawing(to_dot(seed)), Drawing(dot.to_string())
    assert ours.arrows() == theirs.arrows()
    assert {k: v["parent"] for k, v in ours.clusters.items()} == \
        {k: v["parent"] for k, v in theirs.clusters.items()}
    assert ours.nodes == theirs.nodes


def test_dot_styles_failed_skipped_and_unreturned(failing: GraphModel) -> None:
    drawing = Drawing(to_dot(failing))
    failed = drawing.nodes[drawing.box_named("boom")]
    assert failed["color"] == "#cc0000" and "filled" in failed["style"]
    assert "ZeroDivisionError" in failed["label"]
    parent = drawing.clusters[drawing.cluster_named("shaky")]["attrs"]
    assert parent["color"] == "#cc0000" and "(failed)" in parent["label"]
    skipped = [a for a in drawing.nodes.values() if "(skipped)" in a.get("label", "")]
    assert len(skipped) == 2  # inc after boom, inc after shaky
    for attrs in skipped:
        assert "dashed" in attrs["style"] and attrs["color"] == "#999999"
    unreturned = [a for a in drawing.nodes.values() if "(unreturned)" in a.get("label", "")]
    assert len(unreturned) == 1 and unreturned[0]["style"] == "dashed"
    assert "(unreturned)" not in to_dot(seed_graph())  # add/subtract feed the result


def test_dot_escapes_names() -> None:
    future = pipeline(weird(10), 2, 5, 6)
    future.resolve(executor="serial")
    text = to_dot(future.graph)
    drawing = Drawing(text)
    assert drawing.name(drawing.box_named(WEIRD)) == WEIRD
    if HAS_DOT:
        done = _render(text)
        assert done.returncode == 0, done.stderr
        svg = done.stdout.decode()
        assert "we&quot;ird\\ &lt;b&gt;&amp;lt; é→ #1 `x`" in svg


@needs_dot
def test_graphviz_draws_without_warnings(seed: GraphModel, failing: GraphModel) -> None:
    for graph in (seed, failing):
        done = _render(to_dot(graph))
        assert done.returncode == 0 and done.stderr == b"", done.stderr


@settings(max_examples=60, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20))
@example("\u2028")  # a line separator once split Mermaid's output
def test_any_name_survives_dot_and_mermaid(name: str) -> None:
    future = node(name=name)(plain_inc)(1)  # never resolved: pending graphs export too
    drawing = Drawing(to_dot(future.graph))
    (key,) = drawing.nodes
    shown = drawing.name(key) if "\n" not in name else drawing.label(key)
    assert "\\x" in shown or "\\u" in shown or shown == name  # escaped, or shown as is
    mermaid = to_mermaid(future.graph)
    label = mermaid.splitlines()[1].strip()
    assert label.startswith('n1["') and label.endswith('"]')
    assert not set(label[4:-2]) & set('"<>`\n')


# -- Mermaid ---------------------------------------------------------------------------------
def test_mermaid_subgraphs_and_edges(seed: GraphModel) -> None:
    lines = to_mermaid(seed).splitlines()
    assert lines[0] == "flowchart LR"
    subgraphs = [line.strip() for line in lines if line.strip().startswith("subgraph ")]
    assert [s.split('"')[1] for s in subgraphs] == ["pipeline", "add"]
    assert sum(line.strip() == "end" for line in lines) == 2
    ids = {line.strip().split("[")[0].removeprefix("subgraph "):
           line.split('"')[1].split("<br>")[0] for line in lines if '["' in line}
    edges = {(ids[a], ids[b]) for a, _, b in
             (line.split() for line in lines if "-->" in line)}
    assert edges == {("add", "multiply"), ("subtract", "multiply")}
    # _add is the one member of add, which sits inside pipeline
    key = {name: k for k, name in ids.items()}
    opens = [line.strip() for line in lines]
    at = opens.index(f'subgraph {key["add"]}["add"]')
    assert opens[at + 1].startswith(f'{key["_add"]}["_add<br>') and opens[at + 2] == "end"
    assert opens.index(f'subgraph {key["pipeline"]}["pipeline"]') < at


def test_mermaid_classes_for_failures(failing: GraphModel) -> None:
    text = to_mermaid(failing)
    for name in ("failed", "skipped", "unreturned"):
        assert f"classDef {name} " in text
    class_lines = {line.split()[-1]: line.split()[1].split(",")
                   for line in text.splitlines() if line.strip().startswith("class ")}
    assert len(class_lines["failed"]) == 2  # boom and its parent shaky
    assert len(class_lines["skipped"]) == 2
    assert len(class_lines["unreturned"]) == 1


def test_mermaid_escapes_names() -> None:
    text = to_mermaid(weird(1).graph)
    assert 'n1["we#quot;ird\\ #lt;b#gt;#amp;lt; é→ #35;1 #96;x#96;"]' in text


# -- JSON ------------------------------------------------------------------------------------
FIELDS = ("id", "name", "path", "state", "start", "end", "duration", "worker", "returned",
          "attempts", "input_names")


def _snapshot(graph: GraphModel) -> list[dict[str, Any]]:
    def ident(rec: Any) -> Any:
        return None if rec is None else rec.id

    out = []
    for rec in graph.nodes:
        row = {f: getattr(rec, f) for f in FIELDS}
        row.update(parent=ident(rec.parent), inputs=[ident(r) for r in rec.inputs],
                   children=None if rec.children is None else [c.id for c in rec.children],
                   error=None if rec.error is None else
                   f"{getattr(rec.error, 'type_name', type(rec.error).__name__)}: {rec.error}")
        out.append(row)
    return out


@pytest.mark.parametrize("make", [seed_graph, failing_graph])
def test_json_round_trip(make: Any) -> None:
    graph = make()
    text = to_json(graph)
    doc = json.loads(text)
    assert doc["format"] == "tcg-graph" and doc["version"] == 1
    loaded = load_json(text)
    assert isinstance(loaded, GraphModel)
    # Loaded records are data: no function comes back with them.
    assert all(isinstance(r, tcg_core.NodeRecord) and not isinstance(r.spec, tcg_core.NodeFunction)
               and not hasattr(r.spec, "func") for r in loaded.nodes)
    assert _snapshot(loaded) == _snapshot(graph)
    assert to_json(loaded) == text
    assert to_dot(loaded) == to_dot(graph)
    assert to_mermaid(loaded) == to_mermaid(graph)
    assert to_chrome_trace(loaded) == to_chrome_trace(graph)
    assert loaded.makespan() == graph.makespan()
    assert [r.id for r in loaded.critical_path()] == [r.id for r in graph.critical_path()]
    assert loaded.nesting_tree() == graph.nesting_tree()


def test_json_keeps_errors_and_cost(failing: GraphModel) -> None:
    loaded = load_json(to_json(failing).encode())
    assert sorted(r.name for r in loaded.failed()) == ["boom", "shaky"]
    boom_rec = loaded.node("boom")
    assert boom_rec.error is not None and str(boom_rec.error) == "division by zero"
    assert getattr(boom_rec.error, "type_name", None) == "ZeroDivisionError"
    doc = json.loads(to_json(failing))
    assert {n["name"]: n["error"] for n in doc["nodes"]}["boom"] == \
        "ZeroDivisionError: division by zero"
    costly = node(cost=2.5)(plain_inc)(1)
    again = load_json(to_json(costly.graph))
    assert again.nodes[0].cost == 2.5
    assert again.critical_path_length("cost") == 2.5


@pytest.mark.parametrize(("text", "message"), [
    ("not json", "not JSON"),
    ("[1, 2]", "format"),
    ('{"format": "other", "version": 1, "nodes": []}', "format"),
    ('{"format": "tcg-graph", "version": 99, "nodes": []}', "version must be 1, got 99"),
    ('{"format": "tcg-graph", "version": 1}', "nodes must be a list, got None"),
    ('{"format": "tcg-graph", "version": 1, "nodes": [{"id": 1, "name": "a", '
     '"inputs": [7], "input_names": ["x"], "state": "done"}]}',
     r"nodes\[0\]\.inputs\[0\] must be the id of a node of the document, got 7"),
])
def test_load_json_rejects_other_documents(text: str, message: str) -> None:
    with pytest.raises(TcgError, match=message):
        load_json(text)


# -- Chrome trace ----------------------------------------------------------------------------
def test_chrome_trace_has_one_bar_per_ran_node(failing: GraphModel) -> None:
    trace = json.loads(to_chrome_trace(failing))
    events = trace["traceEvents"]
    bars = [e for e in events if e["ph"] == "X"]
    ran = [r for r in failing.nodes if r.start is not None and r.end is not None]
    assert len(bars) == len(ran) and len(ran) < len(failing.nodes)  # skipped left out
    assert {b["args"]["id"] for b in bars} == {r.id for r in ran}
    assert min(b["ts"] for b in bars) == 0
    for bar in bars:
        assert bar["ts"] >= 0 and bar["dur"] >= 0 and bar["pid"] == 1
        rec = next(r for r in ran if r.id == bar["args"]["id"])
        assert bar["name"] == rec.name
        assert bar["args"] == {"path": rec.path, "state": rec.state, "id": rec.id}
    names = {e["tid"]: e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert {b["tid"] for b in bars} <= set(names)


def test_chrome_trace_tracks_per_worker() -> None:
    graph = seed_graph(executor="threads")
    events = json.loads(to_chrome_trace(graph))["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in events if e["name"] == "thread_name"}
    workers = {r.worker for r in graph.nodes}
    assert set(names.values()) == workers
    for bar in (e for e in events if e["ph"] == "X"):
        rec = next(r for r in graph.nodes if r.id == bar["args"]["id"])
        assert names[bar["tid"]] == rec.worker


def test_chrome_trace_of_unrun_graph_is_empty() -> None:
    events = json.loads(to_chrome_trace(inc(1).graph))["traceEvents"]
    assert [e for e in events if e["ph"] == "X"] == []


# -- save() ----------------------------------------------------------------------------------
TEXT_ENDINGS = [".dot", ".gv", ".mmd", ".json", ".trace.json"]


@pytest.mark.parametrize("ending", TEXT_ENDINGS)
def test_save_text_formats(seed: GraphModel, tmp_path: Path, ending: str) -> None:
    target = tmp_path / "deep" / "er" / f"graph{ending}"
    written = save(seed, target)
    assert written == target and target.is_file()
    text = target.read_text(encoding="utf-8")
    expected = {".dot": to_dot, ".gv": to_dot, ".mmd": to_mermaid, ".json": to_json,
                ".trace.json": to_chrome_trace}[ending](seed)
    if ending != ".trace.json":
        assert text == expected
    else:
        assert "traceEvents" in json.loads(text)
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


@needs_dot
@pytest.mark.parametrize(("ending", "magic"), [(".svg", b"<svg"), (".png", b"\x89PNG"),
                                               (".pdf", b"%PDF")])
def test_save_rendered_formats(seed: GraphModel, tmp_path: Path, ending: str,
                               magic: bytes) -> None:
    target = save(seed, tmp_path / f"graph{ending.upper()}")
    assert magic in target.read_bytes()[:400]
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_graph_methods_delegate(seed: GraphModel, tmp_path: Path) -> None:
    with Graph() as graph:
        pipeline(10, 2, 5, 6)
    assert graph.resolve(executor="serial") == [-60]
    assert Drawing(graph.to_dot()).arrows() == {("add", "multiply"), ("subtract", "multiply")}
    assert graph.to_mermaid().startswith("flowchart LR")
    assert load_json(graph.to_json()).nesting_tree() == graph.nesting_tree()
    assert graph.to_networkx().number_of_nodes() == 5
    assert isinstance(graph.to_pydot(), pydot.Dot)
    assert "traceEvents" in json.loads(graph.to_chrome_trace())
    assert graph.save(tmp_path / "g.mmd").read_text() == graph.to_mermaid()


def test_save_unknown_ending(seed: GraphModel, tmp_path: Path) -> None:
    with pytest.raises(TcgError, match=r"\.dot.*\.svg.*\.mmd|\.mmd.*\.svg") as info:
        save(seed, tmp_path / "graph.txt")
    for ending in (".dot", ".gv", ".svg", ".png", ".pdf", ".mmd", ".json", ".trace.json"):
        assert ending in str(info.value)
    assert not list(tmp_path.iterdir())


def test_save_without_graphviz(seed: GraphModel, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(TcgError, match=r"apt-get install graphviz.*brew install graphviz"):
        save(seed, tmp_path / "graph.svg")
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shell script as a fake 'dot'")
def test_save_reports_graphviz_errors(seed: GraphModel, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dot"
    fake.write_text("#!/bin/sh\necho 'Error: syntax error in line 3' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(TcgError, match="syntax error in line 3"):
        save(seed, tmp_path / "out" / "graph.png")
    assert not (tmp_path / "out" / "graph.png").exists()


def test_save_failure_leaves_no_temp_file(seed: GraphModel, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save(seed, tmp_path / "graph.json")
    assert not list(tmp_path.iterdir())


def test_save_concurrent_writers_never_leave_partial_files(tmp_path: Path) -> None:
    graphs = [seed_graph(), failing_graph()]
    texts = {to_json(g) for g in graphs}
    target = tmp_path / "shared.json"
    errors: list[BaseException] = []
    seen: list[str] = []
    stop = threading.Event()

    def writer(graph: GraphModel) -> None:
        try:
            for _ in range(25):
                save(graph, target)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        while not stop.is_set():
            if target.exists():
                seen.append(target.read_text(encoding="utf-8"))

    threads = [threading.Thread(target=writer, args=(g,)) for g in graphs * 2]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    assert not errors
    assert target.read_text(encoding="utf-8") in texts
    assert all(text in texts for text in seen)
    assert [p.name for p in tmp_path.iterdir()] == ["shared.json"]


def test_deep_nesting_needs_no_recursion() -> None:
    depth = 3000  # far past Python's recursion limit
    nodes = [{"id": i, "name": f"level{i}", "parent": i - 1 if i > 1 else None,
              "children": [i + 1] if i < depth else None, "inputs": [], "input_names": [],
              "state": "done", "start": float(i), "end": float(2 * depth - i)}
             for i in range(1, depth + 1)]
    graph = load_json(json.dumps({"format": "tcg-graph", "version": 1, "nodes": nodes}))
    assert to_dot(graph).count("subgraph cluster_") == depth - 1
    assert to_mermaid(graph).count("subgraph ") == depth - 1
    assert to_pydot(graph).get_subgraphs()[0].get_name() == "cluster_1"
    tree = to_networkx(graph, nesting=True)
    assert tree.nodes[depth]["depth"] == depth - 1
    assert tree.nodes[depth]["path"].count(" › ") == depth - 1
    assert load_json(to_json(graph)).nodes[-1].depth == depth - 1
    assert len(json.loads(to_chrome_trace(graph))["traceEvents"]) == depth + 3


# -- contracts shared by every exporter ------------------------------------------------------
@pytest.mark.parametrize("export", [to_networkx, to_dot, to_pydot, to_mermaid, to_json,
                                    to_chrome_trace])
def test_exporters_refuse_a_future_with_a_hint(export: Any) -> None:
    with pytest.raises(TcgError, match=r"future\.graph"):
        export(inc(1))


@pytest.mark.parametrize(("export", "module"), [(to_networkx, "networkx"), (to_pydot, "pydot")])
def test_missing_optional_library_says_what_to_install(
        seed: GraphModel, monkeypatch: pytest.MonkeyPatch, export: Any, module: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes "import <module>" fail
    with pytest.raises(TcgError, match=f"pip install {module}"):
        export(seed)


def test_exporters_read_the_graph_model_only() -> None:
    allowed = {"_errors", "_graph"}
    for path in sorted(EXPORT_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for stmt in tree.body:  # module level only: optional libraries load lazily
            if isinstance(stmt, ast.ImportFrom) and stmt.level == 2:
                assert stmt.module in allowed, (path.name, stmt.module)
            elif isinstance(stmt, ast.ImportFrom) and stmt.level == 0:
                assert stmt.module and stmt.module.split(".")[0] not in {"networkx", "pydot"}
            elif isinstance(stmt, ast.Import):
                assert not {a.name.split(".")[0] for a in stmt.names} & {"networkx", "pydot"}
        for sub in ast.walk(tree):
            if isinstance(sub, ast.ImportFrom) and sub.level == 2:
                assert sub.module in allowed, (path.name, sub.module)


def test_unicode_line_separators_never_split_a_diagram_line() -> None:
    from tcg_core import node as make_node

    odd = make_node(name="a\u2028b\u2029c\x85d")(lambda: 1)
    future = odd()
    future.resolve(executor="serial")
    for text in (to_dot(future.graph), to_mermaid(future.graph)):
        assert "\u2028" not in text and "\u2029" not in text and "\x85" not in text
        assert "u2028b" in text and "u2029c" in text and "x85d" in text  # shown, escaped


@node
def healthy_step(x: int) -> Any:
    return inc(x)


@node
def broken_stage(x: int) -> Any:
    return pair(healthy_step(x), boom(x))


def _broken_stage_graph() -> GraphModel:
    future = broken_stage(1)
    with pytest.raises(NodeError, match="boom"):
        future.resolve(executor="serial", keep_going=True)
    graph: GraphModel = future.graph
    return graph


def test_a_healthy_cluster_inside_a_failed_one_is_not_drawn_failed() -> None:
    graph = _broken_stage_graph()
    drawing = Drawing(to_dot(graph))
    outer = drawing.clusters[drawing.cluster_named("broken_stage")]["attrs"]
    inner = drawing.clusters[drawing.cluster_named("healthy_step")]["attrs"]
    assert outer["color"] == "#cc0000"
    # Graphviz hands cluster attributes down: the healthy one must undo each of them.
    assert (inner["color"], inner["fontcolor"], inner["penwidth"]) == ("black", "black", "1")
    assert inner["label"] == "healthy_step"
    # A cluster that is not inside a marked one states nothing extra.
    plain = Drawing(to_dot(seed_graph())).clusters
    assert all(set(c["attrs"]) == {"label"} for c in plain.values())
    ours, theirs = Drawing(to_dot(graph)), Drawing(to_pydot(graph).to_string())
    assert ours.clusters == theirs.clusters


@needs_dot
def test_graphviz_draws_only_the_failed_nodes_red() -> None:
    svg = _render(to_dot(_broken_stage_graph())).stdout.decode()
    strokes = {}
    for title, stroke in re.findall(
            r'<g id="clust\d+" class="cluster">\s*<title>(\w+)</title>\s*<polygon[^>]*'
            r'stroke="([^"]+)"', svg):
        strokes[title] = stroke
    dot = Drawing(to_dot(_broken_stage_graph()))
    assert strokes[dot.cluster_named("broken_stage")] == "#cc0000"
    assert strokes[dot.cluster_named("healthy_step")] == "black"

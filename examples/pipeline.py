"""The seed's nested pipeline: ``pipeline(10, 2, 5, 6)`` = 12 · 5 · (-1) = -60.

Run ``python examples/pipeline.py`` (``-gv pydot``, the default, writes an SVG/PNG
diagram with Graphviz; ``-gv nx`` prints the networkx view instead).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tcg_core import Future, Node


@Node()
def _add(a: int, b: int) -> int:
    return a + b


@Node()
def add(a: int, b: int) -> int:
    return _add(a, b)  # type: ignore[no-any-return]


@Node()
def subtract(a: int, b: int) -> int:
    return a - b


@Node()
def multiply(a: int, b: int, c: int) -> int:
    return a * b * c


@Node()
def pipeline(a: int, b: int, c: int, d: int) -> int:
    add_future = add(a, b)
    subtract_future = subtract(c, d)
    multiply_future = multiply(add_future, c, subtract_future)
    return multiply_future  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-gv", "--graph-view", choices=["pydot", "nx"], default="pydot")
    parser.add_argument("--out", default="examples/out", help="folder for the diagrams")
    parser.add_argument("--executor", default="threads")
    args = parser.parse_args(argv)

    pipeline_future: Future[int] = pipeline(10, 2, 5, 6)
    started = time.perf_counter()
    result = pipeline_future.resolve(executor=args.executor)
    elapsed = time.perf_counter() - started
    print(f"Result: {result}  ({elapsed * 1000:.1f} ms, {len(pipeline_future.graph.nodes)} nodes)")

    graph = pipeline_future.graph
    if args.graph_view == "nx":
        nxg = graph.to_networkx()
        print("networkx nodes:", dict(nxg.nodes(data="name")))
        print("networkx edges:", [(nxg.nodes[u]["name"], nxg.nodes[v]["name"])
                                  for u, v in nxg.edges])
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for written in _save_all(graph, out / "pipeline"):
        print(f"Wrote {written}")
    return 0


def _save_all(graph: object, stem: Path) -> list[Path]:
    import shutil

    suffixes = [".dot", ".mmd", ".json"]
    if shutil.which("dot"):
        suffixes = [".svg", ".png", *suffixes]
    else:
        print("Graphviz's `dot` is not installed: writing DOT and Mermaid text only "
              "(apt-get install graphviz, or brew install graphviz, for SVG/PNG)")
    return [graph.save(stem.with_suffix(s)) for s in suffixes]  # type: ignore[attr-defined]


if __name__ == "__main__":
    raise SystemExit(main())

"""``Graph``: records every future created inside a ``with`` block, resolves and exports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._context import Frame, pop_frame, push_frame
from ._graph import GraphModel, NodeRecord
from ._node import Future
from ._scheduler import resolve_futures

__all__ = ["Graph"]


class Graph(GraphModel):
    """A graph that records every future created inside ``with Graph() as g:``.

    Futures are recorded whether or not anything consumes them, and ``g.resolve()``
    runs them all. Nodes created inside node bodies are reached as children.

    >>> from tcg_core import Graph, node
    >>> @node
    ... def inc(x):
    ...     return x + 1
    >>> with Graph() as g:
    ...     a = inc(1)
    ...     b = inc(a)
    ...     unused = inc(10)
    >>> g.resolve(executor="serial")
    [2, 3, 11]
    >>> len(g.nodes), b.resolve()
    (3, 3)
    """

    def __init__(self, futures: list[Future[Any]] | None = None) -> None:
        super().__init__()
        self._frame = Frame()
        if futures:
            self._frame.futures.extend(futures)
        self._tokens: list[Any] = []

    @classmethod
    def of(cls, *futures: Future[Any]) -> Graph:
        """A graph of the given futures and everything they reach."""
        return cls(list(futures))

    def __enter__(self) -> Graph:
        self._tokens.append(push_frame(self._frame))
        return self

    def __exit__(self, *exc: object) -> None:
        pop_frame(self._tokens.pop())

    def _seed_records(self) -> list[NodeRecord]:
        return [f._record for f in self._frame.futures] + self._seeds

    @property
    def futures(self) -> list[Future[Any]]:
        """The futures recorded directly in this graph, in creation order."""
        return list(self._frame.futures)

    def add(self, *futures: Future[Any]) -> None:
        """Record futures created elsewhere."""
        self._frame.futures.extend(futures)

    def resolve(self, executor: Any = None, **options: Any) -> list[Any]:
        """Resolve every recorded future in one run; returns their values in order."""
        return resolve_futures(self._frame.futures, executor=executor, **options)

    def value(self, name: str) -> Any:
        """The value of the one recorded future whose node is called ``name``."""
        matches = [f for f in self._frame.futures if f._record.name == name]
        if len(matches) != 1:
            raise LookupError(f"{len(matches)} recorded futures named {name!r}")
        return matches[0].resolve()

    # -- views (each delegates to an exporter that reads the graph model only) -----------
    def to_networkx(self, **options: Any) -> Any:
        """A ``networkx.DiGraph`` of data edges; node attributes name/parent/state/duration."""
        from ._export import to_networkx

        return to_networkx(self, **options)

    def to_pydot(self, **options: Any) -> Any:
        """A ``pydot.Dot`` with nested nodes drawn as clusters inside their parent."""
        from ._export import to_pydot

        return to_pydot(self, **options)

    def to_dot(self, **options: Any) -> str:
        """Graphviz DOT text (clusters for nesting)."""
        from ._export import to_dot

        return to_dot(self, **options)

    def to_mermaid(self, **options: Any) -> str:
        """Mermaid flowchart text (subgraphs for nesting)."""
        from ._export import to_mermaid

        return to_mermaid(self, **options)

    def to_json(self, **options: Any) -> str:
        """JSON text of nodes, edges, nesting and timings (load with ``tcg_core.load_json``)."""
        from ._export import to_json

        return to_json(self, **options)

    def to_chrome_trace(self) -> str:
        """The execution timeline as Trace Event Format JSON (Perfetto, chrome://tracing)."""
        from ._export import to_chrome_trace

        return to_chrome_trace(self)

    def save(self, path: str | Path) -> Path:
        """Write the graph; the format comes from the extension (see ``tcg_core.save``)."""
        from ._export import save

        return save(self, path)

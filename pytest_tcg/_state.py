"""Where the plugin keeps its state: ``config.stash`` per session, ``item.stash`` per test."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ._config import Settings
from ._stats import Stats

if TYPE_CHECKING:  # imported when used: loading the plugin must not import tcg_core
    from tcg_core import GraphModel

    from ._output import GraphWriter

__all__ = ["SETTINGS", "STATS", "WRITER", "TEST", "CURRENT", "ItemState"]


@dataclass
class ItemState:
    """What one test built: the graphs for its diagram, its snapshot calls and speedup
    checks so far, and the files its diagram was saved as."""

    sources: list[Any] = field(default_factory=list)
    snapshot_calls: int = 0
    #: The speedup reports of checks run in this test (their text goes in the report).
    speedups: list[Any] = field(default_factory=list)
    #: Format → the file written for it (with --tcg-graph-out), once saved.
    saved: dict[str, Path] | None = None
    #: Node count and makespan of the saved model, for the HTML report.
    nodes: int = 0
    makespan: float = 0.0
    #: "passed", "failed", "error", "skipped" or "xfailed": the worst phase so far.
    outcome: str = "passed"
    #: Why pytest failed (or xfailed) the test: the first lines of its crash message.
    reason: str | None = None
    #: The failing nodes' one-line errors (type, message, path, call), causes first.
    node_errors: list[str] = field(default_factory=list)

    def add(self, source: Any) -> None:
        if not any(s is source for s in self.sources):
            self.sources.append(source)

    def model(self) -> GraphModel | None:
        """Everything the test's graphs reach, as one model (``None`` if nothing)."""
        if not self.sources:
            return None
        from ._graphs import as_model

        model = as_model(self.sources)
        return model if model.nodes else None


SETTINGS = pytest.StashKey[Settings]()
STATS = pytest.StashKey[Stats]()
WRITER: pytest.StashKey[GraphWriter | None] = pytest.StashKey()
TEST = pytest.StashKey[ItemState]()
#: The test whose body is running now (set only once the per-test hooks are registered).
CURRENT: pytest.StashKey[pytest.Item | None] = pytest.StashKey()

"""Where the plugin keeps its state: one ``SessionState`` per session (in
``config.stash``, owned by ``_session.TcgSession``), one ``ItemState`` per test (in
``item.stash``). The parts below the session read and write it through ``state_of``."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ._settings import Settings
from ._stats import Stats

if TYPE_CHECKING:  # imported when used: loading the plugin must not import tcg_core
    from tcg_core import GraphModel

    from ._report._output import GraphWriter

__all__ = ["SESSION", "TEST", "ItemState", "SessionState", "item_state", "state_of"]


@dataclass
class SessionState:
    """What the whole session shares: its settings, its counters, where diagrams go, the
    test running now."""

    settings: Settings  #: the options, checked at configure
    stats: Stats  #: the counters of the summary (merged from xdist workers)
    #: writes each test's diagram files (--tcg-graph-out), or None
    writer: GraphWriter | None = None
    #: the test whose body is running now (known once the per-test hooks are registered)
    current: pytest.Item | None = None
    #: registers the per-test hooks, the first time a test uses the plugin
    #: (``TcgSession.use_reports``: the one place that registers them)
    use_reports: Callable[[], None] = lambda: None


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


SESSION = pytest.StashKey[SessionState]()
TEST = pytest.StashKey[ItemState]()


def state_of(config: pytest.Config) -> SessionState:
    """The session's state (``pytest_configure`` made it)."""
    return config.stash[SESSION]


def item_state(item: pytest.Item) -> ItemState:
    """The test's state, created on first use (which registers the per-test hooks)."""
    state = item.stash.get(TEST, None)
    if state is None:
        state = item.stash[TEST] = ItemState()
        state_of(item.config).use_reports()
    return state

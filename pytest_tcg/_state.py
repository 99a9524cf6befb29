"""Where the plugin keeps its state: ``config.stash`` per session, ``item.stash`` per test."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from ._config import Settings
from ._stats import Stats

if TYPE_CHECKING:  # imported when used: loading the plugin must not import tcg_core
    from tcg_core import GraphModel

    from ._output import GraphWriter

__all__ = ["SETTINGS", "STATS", "WRITER", "TEST", "ItemState", "item_state"]


@dataclass
class ItemState:
    """What one test built: the graphs for its diagram, and its snapshot calls so far."""


    sources: list[Any] = field(default_factory=list)
    snapshot_calls: int = 0

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


def item_state(item: pytest.Item) -> ItemState:
    """The test's state, created on first use."""
    state = item.stash.get(TEST, None)
    if state is None:
        state = item.stash[TEST] = ItemState()
    return state



"""What the flags and ini keys asked for, read once at configure (``Settings``)."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import os
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from ._config import RANDOM, default_formats
from ._options import from_flag, value

__all__ = ["Settings", "anchored"]


@dataclass(frozen=True)
class Settings:
    """The session's options, checked (see ``_options`` for each one's meaning)."""

    #: --tcg-graph-out: where each test's diagram goes, or None
    graph_out: Path | None
    #: --tcg-graph-format: the formats written there
    formats: tuple[str, ...]
    #: a line for the summary when the default formats are not images (no Graphviz)
    format_note: str | None
    #: --tcg-executor: the fixtures' executor, or None (threads)
    executor: str | None
    #: --tcg-workers: its worker count, or None (its default)
    workers: int | None
    #: --tcg-snapshot-update: write snapshots instead of comparing
    snapshot_update: bool
    #: --tcg-shuffle: the seed every test's ShuffledExecutor seed derives from, or None
    shuffle: int | None = None
    #: --tcg-check-mutation: the fixtures' resolves check that bodies leave inputs alone
    check_mutation: bool = False
    #: --tcg-coverage: the packages whose node functions are counted, or None
    coverage: list[str] | None = None
    #: --tcg-coverage-fail-under: the percentage the session must reach, or None
    coverage_fail_under: float | None = None
    #: --tcg-progress: draw a progress bar for long resolves in tests
    progress: bool = False
    #: --tcg-cache-dir: a persistent result-cache folder, or None (one per session)
    cache_dir: Path | None = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        """Read every option (flag, else ini key), checked where it is given."""
        formats, note = value(config, "tcg_graph_format"), None
        if formats is None:
            formats, note = default_formats()
        coverage = value(config, "tcg_coverage")
        fail_under = value(config, "tcg_coverage_fail_under")
        if fail_under is not None and coverage is None:
            raise pytest.UsageError("--tcg-coverage-fail-under needs --tcg-coverage=PKG "
                                    "(which packages' node functions to count)")
        return cls(graph_out=anchored(config, "tcg_graph_out"), formats=formats,
                   format_note=note, executor=value(config, "tcg_executor"),
                   workers=value(config, "tcg_workers"),
                   snapshot_update=value(config, "tcg_snapshot_update"),
                   shuffle=_shuffle_seed(config),
                   check_mutation=value(config, "tcg_check_mutation"),
                   coverage=coverage, coverage_fail_under=fail_under,
                   progress=value(config, "tcg_progress"),
                   cache_dir=anchored(config, "tcg_cache_dir"))


def anchored(config: pytest.Config, dest: str) -> Path | None:
    """The folder option ``dest`` names, absolute: a flag's relative to where pytest was
    started, an ini key's to the ini file."""
    given = value(config, dest)
    if given is None:
        return None
    path = Path(os.path.expanduser(str(given)))
    if path.is_absolute():
        return path
    if not from_flag(config, dest) and config.inipath is not None:
        return config.inipath.parent / path
    return Path(config.invocation_params.dir) / path


def _shuffle_seed(config: pytest.Config) -> int | None:
    chosen = value(config, "tcg_shuffle")
    if chosen != RANDOM:
        return chosen  # type: ignore[no-any-return]
    shared = getattr(config, "workerinput", {}).get("tcg_shuffle")
    # An xdist worker takes the controller's seed, so the header's seed replays every test.
    return int(shared) if shared is not None else random.randrange(10**6)

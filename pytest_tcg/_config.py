"""The plugin's settings: command-line flags, their ini keys, and the checks on both.

Each ``--tcg-*`` flag has a parse function used as argparse ``type=``; it raises
``pytest.UsageError`` so a bad value stops pytest with one line naming the flag. An ini
value goes through the same function, so both spellings accept the same things.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import hashlib
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = ["EXECUTORS", "FORMATS", "Settings", "parse_executor", "parse_formats",
           "parse_workers", "parse_dir", "default_formats", "GRAPHVIZ_HINT", "parse_shuffle",
           "parse_flag", "test_seed", "RANDOM"]

#: ``--tcg-shuffle`` without a seed: one is chosen at random (and printed).
RANDOM = "random"

EXECUTORS = ("serial", "threads", "processes", "dask")
#: ``--tcg-graph-format`` names and the file ending each one writes.
FORMATS = {"svg": ".svg", "png": ".png", "dot": ".dot", "mmd": ".mmd", "json": ".json",
           "trace": ".trace.json"}
RENDERED = ("svg", "png")
GRAPHVIZ_HINT = ("Graphviz not found: diagrams saved as .dot and .mmd; install Graphviz "
                 "(apt-get install graphviz, brew install graphviz) to get .svg images")


def parse_executor(value: str) -> str:
    """``--tcg-executor``: one of serial, threads, processes, dask."""
    name = value.strip().lower()
    if name not in EXECUTORS:
        raise pytest.UsageError(f"--tcg-executor: unknown executor {value!r}; "
                                f"use one of {', '.join(EXECUTORS)}")
    return name


def parse_workers(value: str) -> int:
    """``--tcg-workers``: a positive number of workers."""
    try:
        workers = int(value)
    except ValueError:
        workers = 0
    if workers < 1:
        raise pytest.UsageError(f"--tcg-workers: expected a positive whole number, got {value!r}")
    return workers


def parse_formats(value: str) -> tuple[str, ...]:
    """``--tcg-graph-format``: a comma-separated list, e.g. ``svg,mmd``."""
    names = [part.strip().lower().lstrip(".") for part in value.split(",") if part.strip()]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise pytest.UsageError(f"--tcg-graph-format: unknown format {', '.join(unknown)!r}; "
                                f"use a comma-separated list of {', '.join(FORMATS)}"
                                if unknown else "--tcg-graph-format: no format given")
    return tuple(dict.fromkeys(names))


def parse_dir(value: str) -> str:
    """``--tcg-graph-out``: a folder (created when needed)."""
    if not value.strip():
        raise pytest.UsageError("--tcg-graph-out: expected a folder name")
    return value


def parse_shuffle(value: str) -> int | str:
    """``--tcg-shuffle[=SEED]``: a whole number >= 0, or ``random``."""
    text = value.strip().lower()
    if text == RANDOM:
        return RANDOM
    try:
        seed = int(text)
    except ValueError:
        seed = -1
    if seed < 0:
        raise pytest.UsageError(f"--tcg-shuffle: expected a seed (a whole number >= 0) or "
                                f"'random', got {value!r}")
    return seed


def parse_flag(value: str) -> bool:
    """An on/off ini key (``tcg_check_mutation``): true/false, yes/no, on/off, 1/0."""
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise pytest.UsageError(f"expected true or false, got {value!r}")


def test_seed(base: int, nodeid: str) -> int:
    """The ``ShuffledExecutor`` seed of one test under ``--tcg-shuffle=base``: derived
    from the test's id, so it does not depend on which tests run or on which worker.

    >>> test_seed(1, "test_a.py::test_x") == test_seed(1, "test_a.py::test_x")
    True
    """
    digest = hashlib.blake2b(f"{base}/{nodeid}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big")


test_seed.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


def _shuffle_seed(config: pytest.Config) -> int | None:
    chosen = _pick(config, "tcg_shuffle", parse_shuffle)
    if chosen != RANDOM:
        return chosen  # type: ignore[no-any-return]
    shared = getattr(config, "workerinput", {}).get("tcg_shuffle")
    # An xdist worker takes the controller's seed, so the header's seed replays every test.
    return int(shared) if shared is not None else random.randrange(10**6)


def default_formats() -> tuple[tuple[str, ...], str | None]:
    """svg when Graphviz's ``dot`` is on PATH, else dot and mmd plus a hint to print."""
    if shutil.which("dot"):
        return ("svg",), None
    return ("dot", "mmd"), GRAPHVIZ_HINT


@dataclass(frozen=True)
class Settings:
    """What the flags and ini keys asked for, after checking."""

    graph_out: Path | None
    formats: tuple[str, ...]
    format_note: str | None
    executor: str | None
    workers: int | None
    snapshot_update: bool
    #: --tcg-shuffle: the seed every test's ShuffledExecutor seed derives from, or None
    shuffle: int | None = None
    #: --tcg-check-mutation: the fixtures' resolves check that bodies leave inputs alone
    check_mutation: bool = False

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        out = _pick(config, "tcg_graph_out", parse_dir)
        formats = _pick(config, "tcg_graph_format", parse_formats)
        note = None
        if formats is None:
            formats, note = default_formats()
        graph_out = None
        if out is not None:
            graph_out = _anchor(config, out, from_ini=config.getoption("tcg_graph_out") is None)
        return cls(graph_out=graph_out, formats=formats, format_note=note,
                   executor=_pick(config, "tcg_executor", parse_executor),
                   workers=_pick(config, "tcg_workers", parse_workers),
                   snapshot_update=bool(config.getoption("tcg_snapshot_update")),
                   shuffle=_shuffle_seed(config),
                   check_mutation=bool(config.getoption("tcg_check_mutation")) or _ini_flag(
                       config, "tcg_check_mutation"))


def _pick(config: pytest.Config, name: str, parse: Any) -> Any:
    """The flag's value, else the ini key's (checked by the same function), else None."""
    value = config.getoption(name)
    if value is not None:
        return value
    raw = config.getini(name)
    if not raw or not str(raw).strip():
        return None
    try:
        return parse(str(raw))
    except pytest.UsageError as exc:
        raise pytest.UsageError(f"ini key {name} = {raw!r}: {exc}") from None


def _ini_flag(config: pytest.Config, name: str) -> bool:
    raw = str(config.getini(name))
    try:
        return parse_flag(raw)
    except pytest.UsageError as exc:
        raise pytest.UsageError(f"ini key {name} = {raw!r}: {exc}") from None


def _anchor(config: pytest.Config, out: str, *, from_ini: bool) -> Path:
    # A flag is relative to where pytest was started, an ini value to the ini file.
    path = Path(os.path.expanduser(out))
    if path.is_absolute():
        return path
    if from_ini and config.inipath is not None:
        return config.inipath.parent / path
    return Path(config.invocation_params.dir) / path

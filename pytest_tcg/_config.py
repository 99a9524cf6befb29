"""The plugin's settings: command-line flags, their ini keys, and the checks on both.

Each ``--tcg-*`` flag has a parse function used as argparse ``type=``; it raises
``pytest.UsageError`` so a bad value stops pytest with one line naming the flag. An ini
value goes through the same function, so both spellings accept the same things.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = ["EXECUTORS", "FORMATS", "Settings", "parse_executor", "parse_formats",
           "parse_workers", "parse_dir", "default_formats", "GRAPHVIZ_HINT"]

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
                   snapshot_update=bool(config.getoption("tcg_snapshot_update")))


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


def _anchor(config: pytest.Config, out: str, *, from_ini: bool) -> Path:
    # A flag is relative to where pytest was started, an ini value to the ini file.
    path = Path(os.path.expanduser(out))
    if path.is_absolute():
        return path
    if from_ini and config.inipath is not None:
        return config.inipath.parent / path
    return Path(config.invocation_params.dir) / path

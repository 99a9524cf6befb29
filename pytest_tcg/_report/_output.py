"""``--tcg-graph-out``: one set of diagram files per test, safe across xdist workers.

A test's files are named after its node id, so two tests (on any worker) never write
the same file, and ``tcg_core.save`` writes each one under a temporary name and renames
it into place, so nobody ever sees a partial file.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from dataclasses import dataclass
from pathlib import Path

import tcg_core
from tcg_core import GraphModel

from .._config import FORMATS
from .._naming import file_stem
from .._text import first_line

__all__ = ["GraphWriter"]


@dataclass
class GraphWriter:
    """Writes a test's graph in every requested format; collects problems, never raises."""

    directory: Path
    formats: tuple[str, ...]

    def prepare(self) -> str | None:
        """Create the folder; the reason it cannot be used, or ``None``."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return f"cannot create folder {str(self.directory)!r}: {_short(exc)}"
        if not self.directory.is_dir():
            return f"{str(self.directory)!r} is not a folder"
        return None

    def write(self, model: GraphModel, nodeid: str, extra: tuple[str, ...] = ()
              ) -> tuple[dict[str, Path], list[str]]:
        """Save ``model`` as ``<folder>/<file_stem(nodeid)>.<ext>`` per format (the
        requested ones, then ``extra``); returns format → file written, and problems."""
        stem = file_stem(nodeid)
        written: dict[str, Path] = {}
        problems: list[str] = []
        for fmt in dict.fromkeys((*self.formats, *extra)):
            path = self.directory / (stem + FORMATS[fmt])
            try:
                written[fmt] = tcg_core.save(model, path)
            except Exception as exc:
                problems.append(f"{fmt} for {nodeid}: {_short(exc)}")
        return written, problems


def _short(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return first_line(exc)

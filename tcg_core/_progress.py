"""``progress()``: a live progress bar of a resolve, drawn by tqdm.

tqdm draws and rate-limits the bar and estimates the remaining time; this callback
only counts. The bar shows nodes finished (done, failed or skipped) out of nodes known
(the total grows as bodies create children), the running nodes' names and the
failures so far. By default it draws only when its stream is a terminal.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import os
import sys
from time import perf_counter
from typing import Any, TextIO

from ._callbacks import Callback
from ._options import check_seconds
from ._record import NodeRecord

__all__ = ["ProgressBar", "progress"]

#: How often the running names are recomputed (seconds): tqdm redraws ~10 times a second.
_POSTFIX_EVERY = 0.1


class ProgressBar(Callback):
    """A ``Callback`` that draws a live bar of every resolve it sees.

    ``file`` is the stream (default ``sys.stderr``); ``always=True`` draws even when it
    is not a terminal (by default nothing is printed then); ``delay`` (seconds) shows
    the bar only once a resolve has run that long. Nested and overlapping
    resolves share one bar, closed when the last one ends.

    >>> import io
    >>> from tcg_core import node, progress
    >>> @node
    ... def inc(x):
    ...     return x + 1
    >>> out = io.StringIO()
    >>> with progress(file=out):   # not a terminal: nothing is drawn
    ...     inc(1).resolve(executor="serial")
    2
    >>> out.getvalue()
    ''
    """

    def __init__(self, *, file: TextIO | None = None, always: bool = False,
                 delay: float = 0.0) -> None:
        if not isinstance(always, bool):
            raise TypeError(f"progress(): always must be True or False, got "
                            f"{type(always).__name__} {always!r}")
        if file is not None and not callable(getattr(file, "write", None)):
            raise TypeError(f"progress(): file must be a text stream with a write() method "
                            f"(sys.stderr, a file opened for writing) or None, got "
                            f"{type(file).__name__} {file!r:.60}")
        self.file: TextIO | None = file  #: where the bar is drawn (None: sys.stderr)
        self.always: bool = always  #: draw even when the stream is not a terminal
        #: seconds a resolve must have run before the bar shows
        self.delay: float = check_seconds("progress()", "delay", delay, allow_zero=True)
        self.known: int = 0  #: nodes known so far
        self.finished: int = 0  #: done, failed or skipped
        self.failed: int = 0  #: failed so far
        self.running: dict[int, str] = {}  #: names of the running nodes, by record id
        self._bar: Any = None  #: the tqdm bar while a resolve runs
        self._depth = 0  #: nested resolves sharing the bar
        self._next_postfix = 0.0  #: when the running names are redrawn next

    def on_resolve_start(self) -> None:
        if self._depth == 0:  # a new outermost resolve counts its own nodes from zero
            self.known = self.finished = self.failed = 0
            self.running.clear()
        self._depth += 1
        if self._bar is None:
            from tqdm import tqdm  # loaded only by resolves that draw a bar

            file = self.file if self.file is not None else sys.stderr
            # A pseudo-terminal nobody sized reports 0 columns: tqdm would draw nothing.
            sized = _columns(file) > 0
            self._bar = tqdm(total=self.known, desc="tcg", unit="node", file=file,
                             disable=False if self.always else None, dynamic_ncols=sized,
                             ncols=None if sized else 80, delay=self.delay)

    def on_resolve_end(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._bar is not None:
            self._postfix()
            self._bar.refresh()
            self._bar.close()
            self._bar = None

    def on_add(self, record: NodeRecord) -> None:
        self.known += 1
        if self._bar is not None:
            self._bar.total = self.known

    def on_start(self, record: NodeRecord) -> None:
        self.running[record.id] = record.name

    def on_finish(self, record: NodeRecord) -> None:
        self._ended(record)

    def on_fail(self, record: NodeRecord, error: BaseException) -> None:
        self.failed += 1
        self._ended(record)

    def on_skip(self, record: NodeRecord) -> None:
        self._ended(record)

    def _ended(self, record: NodeRecord) -> None:
        self.running.pop(record.id, None)
        self.finished += 1
        bar = self._bar
        if bar is None:
            return
        now = perf_counter()
        if now >= self._next_postfix:
            self._next_postfix = now + _POSTFIX_EVERY
            self._postfix()
        bar.update(1)

    def _postfix(self) -> None:
        names = list(dict.fromkeys(self.running.values()))
        text = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
        parts = [f"running: {text}"] if names else []
        if self.failed:
            parts.append(f"failed: {self.failed}")
        self._bar.set_postfix_str(" | ".join(parts), refresh=False)


def _columns(file: TextIO) -> int:
    try:
        return os.get_terminal_size(file.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0


def progress(*, file: TextIO | None = None, always: bool = False,
             delay: float = 0.0) -> ProgressBar:
    """A progress bar for every resolve inside ``with progress():`` (see ``ProgressBar``).

    >>> from tcg_core import ProgressBar, progress
    >>> isinstance(progress(), ProgressBar)
    True
    """
    return ProgressBar(file=file, always=always, delay=delay)

"""Logging and ``verbose=True``: callbacks that describe each node as it goes.

The ``tcg_core`` logger gets a record per node (start at DEBUG; finish, failure,
retry, skip and cache hit at INFO), with the nesting path and the body's duration. A
resolve adds ``LogCallback`` only when that logger is enabled for INFO or DEBUG, so an
application that does not log pays nothing per node.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import logging
import sys

from ._callbacks import Callback
from ._errors import safe_text
from ._record import NodeRecord

__all__ = ["LOGGER", "LogCallback", "VerboseCallback", "logging_callback"]

LOGGER = logging.getLogger("tcg_core")


def _took(record: NodeRecord) -> str:
    duration = record.duration
    return "" if duration is None else f" in {duration:.3f}s"


class LogCallback(Callback):
    """Log every node of a resolve to the ``tcg_core`` logger."""

    def on_start(self, record: NodeRecord) -> None:
        LOGGER.debug("start %s", record.path)

    def on_finish(self, record: NodeRecord) -> None:
        LOGGER.info("done %s%s", record.path, _took(record))

    def on_fail(self, record: NodeRecord, error: BaseException) -> None:
        LOGGER.info("failed %s%s: %s: %s", record.path, _took(record), type(error).__name__,
                    safe_text(error))

    def on_retry(self, record: NodeRecord, error: BaseException) -> None:
        LOGGER.info("retry %s after %s: %s", record.path, type(error).__name__,
                    safe_text(error))

    def on_skip(self, record: NodeRecord) -> None:
        LOGGER.info("skipped %s: an input failed", record.path)

    def on_cache_hit(self, record: NodeRecord) -> None:
        LOGGER.info("cached %s: value read from the result cache", record.path)


def logging_callback() -> LogCallback | None:
    """A ``LogCallback`` when the ``tcg_core`` logger would emit INFO, else ``None``."""
    return LogCallback() if LOGGER.isEnabledFor(logging.INFO) else None


class VerboseCallback(Callback):
    """Print a line per node of ``@node(verbose=True)`` functions (to stdout)."""

    @staticmethod
    def _say(record: NodeRecord, what: str) -> None:
        if getattr(record.spec, "verbose", False):
            print(f"[tcg] {record.path}: {what}", file=sys.stdout, flush=True)

    def on_start(self, record: NodeRecord) -> None:
        self._say(record, "start")

    def on_finish(self, record: NodeRecord) -> None:
        self._say(record, f"done{_took(record)}")

    def on_fail(self, record: NodeRecord, error: BaseException) -> None:
        self._say(record, f"failed{_took(record)}: {type(error).__name__}: "
                          f"{safe_text(error)}")

    def on_cache_hit(self, record: NodeRecord) -> None:
        self._say(record, "cached")

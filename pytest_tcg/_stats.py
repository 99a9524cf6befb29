"""What the plugin did in a session, for the terminal summary.

Under pytest-xdist every worker keeps its own ``Stats``, sends it as a plain dict through
``workeroutput`` when its session ends, and the controller merges them.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["Stats", "listen", "notify"]

_MAX_MESSAGES = 5


@dataclass
class Stats:
    graph_tests: int = 0
    graph_files: int = 0
    graph_dir: str | None = None
    #: the session's formats, the same in every worker: merged as the first one set
    formats: list[str] = field(default_factory=list, metadata={"merge": "first"})
    format_note: str | None = None
    output_fatal: str | None = None
    output_errors: list[str] = field(default_factory=list)
    output_error_count: int = 0
    speedups: list[float] = field(default_factory=list)
    simulated: int = 0
    speedup_failures: int = 0
    snapshots_written: int = 0
    snapshots_failed: int = 0
    snapshots_passed: int = 0
    #: One row per test for the HTML report (``--tcg-graph-out``); see ``_report._hooks``.
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: Snapshot files the tests compared or wrote, for the unused-snapshot audit.
    snapshot_used: list[str] = field(default_factory=list)
    #: Snapshot files no test used, found by the controller (``_snapshots._unused``), and whether
    #: --tcg-snapshot-update removed them.
    snapshot_unused: list[str] = field(default_factory=list)
    snapshot_unused_removed: bool = False
    report_file: str | None = None

    def add_error(self, message: str) -> None:
        """Count a file that could not be written; keep the first few distinct messages."""
        self.output_error_count += 1
        if message not in self.output_errors and len(self.output_errors) < _MAX_MESSAGES:
            self.output_errors.append(message)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def merge(self, data: dict[str, Any]) -> None:
        """Add a worker's counts (its ``to_dict()``) into these, field by field, by the
        field's kind: numbers add up, lists join, a text or flag keeps the first one set.
        A field added later is merged too, never silently dropped under xdist."""
        other = Stats(**data)
        for spec in fields(self):
            mine, theirs = getattr(self, spec.name), getattr(other, spec.name)
            if spec.metadata.get("merge") == "first":
                setattr(self, spec.name, mine or theirs)
            elif isinstance(mine, bool):
                setattr(self, spec.name, mine or theirs)
            elif isinstance(mine, int):
                setattr(self, spec.name, mine + theirs)
            elif isinstance(mine, list):
                if spec.name == "output_errors":  # distinct, and only the first few
                    mine.extend(m for m in theirs if m not in mine)
                    del mine[_MAX_MESSAGES:]
                else:
                    mine.extend(theirs)
            else:  # a text (or None): the first one set
                setattr(self, spec.name, mine or theirs)

    def summary_lines(self) -> list[str]:
        """The lines of the ``tcg`` section (empty when the plugin did nothing to report)."""
        lines: list[str] = []
        if self.graph_files:
            what = ", ".join(self.formats)
            lines.append(f"graphs: {_plural(self.graph_files, 'file')} ({what}) for "
                         f"{_plural(self.graph_tests, 'test')} saved in {self.graph_dir}")
        if self.report_file:
            lines.append(f"report: {self.report_file}")
        if self.format_note and self.graph_files:
            lines.append(self.format_note)
        if self.output_fatal:
            lines.append(f"graphs not saved: {self.output_fatal}")
        elif self.output_errors:
            lines.append(f"{_plural(self.output_error_count, 'graph file')} not saved; "
                         f"first: {self.output_errors[0]}")
        if self.speedups:
            lines.append(self._speedup_line())
        if self.snapshots_written or self.snapshots_failed or self.snapshots_passed:
            lines.append(f"snapshots: {self.snapshots_passed} matched, "
                         f"{self.snapshots_written} written, {self.snapshots_failed} failed")
        if self.snapshot_unused:
            lines.append(self._unused_line())
        return lines

    def _unused_line(self) -> str:
        files = self.snapshot_unused
        listed = ", ".join(files[:_MAX_MESSAGES])
        if len(files) > _MAX_MESSAGES:
            listed += f" and {len(files) - _MAX_MESSAGES} more"
        if self.snapshot_unused_removed:
            return f"snapshots: {_plural(len(files), 'unused file')} removed: {listed}"
        return (f"snapshots: {_plural(len(files), 'unused file')} (no test uses them; "
                f"--tcg-snapshot-update removes them): {listed}")

    def _speedup_line(self) -> str:
        count = len(self.speedups)
        kinds = ""
        if self.simulated:
            kinds = f" ({count - self.simulated} measured, {self.simulated} simulated)"
        failed = f", {self.speedup_failures} failed" if self.speedup_failures else ""
        return (f"speedup checks: {count} run{kinds}{failed}, smallest "
                f"{min(self.speedups):.2f}x, median {_median(self.speedups):.2f}x")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _median(values: list[float]) -> float:
    import statistics  # only for a summary that has speedup checks to report

    return statistics.median(values)


# -- speedup checks tell the plugin -------------------------------------------------------
# The sink lives here, not beside the checks (``_assertions._timing``), so the plugin can listen
# without importing them: a session that runs no check should not pay for them. A
# context variable, not a process-wide list: a pytest session run inside a test (pytester)
# has its own, and the outer one's is back when it ends.
_sink: ContextVar[Callable[[Any], None] | None] = ContextVar("tcg_speedup_sink",
                                                             default=None)


def listen(listener: Callable[[Any], None]) -> Callable[[], None]:
    """Have ``listener`` called with every speedup report checked in this context (the
    plugin counts them); returns what stops it."""
    token = _sink.set(listener)

    def stop() -> None:
        try:
            _sink.reset(token)
        except ValueError:  # reset from another context: this one ends listening
            _sink.set(None)

    return stop


def notify(report: Any) -> None:
    """A speedup check ran: tell the session listening in this context, if any."""
    sink = _sink.get()
    if sink is not None:
        sink(report)

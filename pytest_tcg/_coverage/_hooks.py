"""Pipeline coverage, the hooks (``--tcg-coverage=PKG[,PKG...]``): registered at configure
only when asked for, so a session without it pays nothing.

Each test runs inside a ``tcg_core`` callback (``with callback:`` reaches every resolve
in the test, nested ones too) that notes, per node function, how its calls ended. The
node functions the named packages define are found by importing the packages once the
tests have run (in the xdist controller, which collects no tests itself).
Under pytest-xdist each worker sends its ledger to the controller (through the session's
bridge, ``_session.TcgSession``), which merges them (``Ledger.merge``) and reports once,
as a plain run would.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from .._naming import write_atomically
from .._report._hooks import shown_path
from ._ledger import Ledger, Universe, discover, document, key_of, percent, summary_lines

__all__ = ["CoverageSession"]

JSON_NAME = "tcg-coverage.json"


class CoverageSession:
    """The session's pipeline coverage: discovery, recording, merging, reporting."""

    def __init__(self, config: pytest.Config, packages: list[str],
                 fail_under: float | None, out_dir: Path | None) -> None:
        self._config = config
        self.packages = packages  #: what --tcg-coverage named
        self.fail_under = fail_under  #: --tcg-coverage-fail-under, if given
        self._out_dir = out_dir  #: --tcg-graph-out, where the JSON and page go
        self.ledger = Ledger()  #: what this process's tests did
        self.universe = Universe()  #: the node functions of the packages (controller)
        self._failed_here: set[str] = set()  #: node functions that failed in this test
        self.written: list[Path] = []  #: the files written at the end

    def _is_worker(self) -> bool:
        return hasattr(self._config, "workerinput")

    def _discover(self) -> None:
        """Find the universe, once, in the process that reports. At the end of the
        session: the xdist controller collects nothing, and by then a plain run has put
        the project on ``sys.path`` (as its tests import it); the root and the
        invocation folder are added for the import, and taken off again."""
        config = self._config
        extra = [str(p) for p in (config.rootpath, config.invocation_params.dir)
                 if str(p) not in sys.path]
        sys.path[:0] = extra
        try:
            self.universe = discover(self.packages, config.rootpath)
        finally:
            for entry in extra:
                if entry in sys.path:
                    sys.path.remove(entry)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        """https://docs.pytest.org/en/stable/reference/reference.html#pytest.hookspec.pytest_runtest_call"""
        self._failed_here.clear()
        with _recorder(self.ledger, item.nodeid, self._failed_here):
            return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """https://docs.pytest.org/en/stable/reference/reference.html#pytest.hookspec.pytest_runtest_makereport"""
        report = yield
        if report.when == "call" and report.passed:
            for key in self._failed_here:  # it failed, and the test expected it to
                self.ledger.function(key).failure_tested = True
        return report

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """https://docs.pytest.org/en/stable/reference/reference.html#pytest.hookspec.pytest_sessionfinish"""
        if self._is_worker():  # its ledger goes to the controller (the session's bridge)
            return
        self._discover()
        self._write()
        if self.fail_under is not None and percent(self.ledger, self.universe) < \
                self.fail_under and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _write(self) -> None:
        folder = self._out_dir or self._config.invocation_params.dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / JSON_NAME
            write_atomically(path, document(self.ledger, self.universe))
            self.written.append(path)
            if self._out_dir is not None:
                from ._html import render

                page = folder / "coverage.html"
                write_atomically(page, render(self.ledger, self.universe))
                self.written.append(page)
        except OSError as exc:
            self.written.clear()
            self._problem = f"could not write the coverage files in {folder}: {exc}"

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """https://docs.pytest.org/en/stable/reference/reference.html#pytest.hookspec.pytest_terminal_summary"""
        if self._is_worker():
            return
        terminalreporter.section("tcg pipeline coverage")
        for line in summary_lines(self.ledger, self.universe):
            terminalreporter.write_line(line)
        for path in self.written:
            terminalreporter.write_line(f"written: {shown_path(self._config, path)}")
        problem = getattr(self, "_problem", None)
        if problem:
            terminalreporter.write_line(problem, red=True)
        total = percent(self.ledger, self.universe)
        if self.fail_under is not None:
            if total < self.fail_under:
                terminalreporter.write_line(
                    f"FAIL Required tcg pipeline coverage of {self.fail_under:g}% not "
                    f"reached. Total pipeline coverage: {total:.2f}%", red=True, bold=True)
            else:
                terminalreporter.write_line(
                    f"Required tcg pipeline coverage of {self.fail_under:g}% reached. "
                    f"Total pipeline coverage: {total:.2f}%", green=True)


def _recorder(ledger: Ledger, test: str, failed_here: set[str]) -> Any:
    """A ``tcg_core.Callback`` noting how each node call of the test ended (its class is
    made once, on first use: ``tcg_core`` is imported only when coverage runs)."""
    global _RECORDER
    if _RECORDER is None:
        _RECORDER = _recorder_class()
    return _RECORDER(ledger, test, failed_here)


_RECORDER: Any = None


def _recorder_class() -> Any:
    from tcg_core import Callback, NodeTimeoutError

    class Recorder(Callback):
        def __init__(self, ledger: Ledger, test: str, failed_here: set[str]) -> None:
            self.ledger = ledger  #: the session's record
            self.test = test  #: the running test's id
            self.failed_here = failed_here  #: keys of node functions failed in this test
            self.keys: dict[int, str | None] = {}  #: spec id → key, looked up once

        def key(self, record: Any) -> str | None:
            spec = record.spec
            found = self.keys.get(id(spec), "")
            if found == "":
                found = self.keys[id(spec)] = key_of(spec)
            return found

        def ended(self, record: Any, failed: BaseException | None) -> None:
            name = self.key(record)
            if name is None:
                return
            ledger = self.ledger
            entry = ledger.function(name)
            if record.cached:
                entry.cached += 1
            elif record.replaced:
                entry.replaced += 1
            else:
                entry.bodies += max(record.attempts, 1)
                if self.test not in entry.tests:
                    entry.tests.append(self.test)
            parent = record.parent
            if parent is not None:
                entry.nested = True
                link = f"{self.key(parent)} -> {name}"
                ledger.nesting[link] = ledger.nesting.get(link, 0) + 1
            if failed is None:
                entry.done += 1
            else:
                entry.failed += 1
                entry.timed_out += isinstance(failed, NodeTimeoutError)
                self.failed_here.add(name)
            for source in dict.fromkeys(record.inputs):
                edge = f"{self.key(source)} -> {name}"
                ledger.edges[edge] = ledger.edges.get(edge, 0) + 1

        def on_finish(self, record: Any) -> None:
            self.ended(record, None)

        def on_fail(self, record: Any, error: BaseException) -> None:
            self.ended(record, error)

        def on_retry(self, record: Any, error: BaseException) -> None:
            name = self.key(record)
            if name is not None:
                entry = self.ledger.function(name)
                entry.retried += 1
                entry.timed_out += isinstance(error, NodeTimeoutError)

        def on_skip(self, record: Any) -> None:
            name = self.key(record)
            if name is not None:
                self.ledger.function(name).skipped += 1

    return Recorder


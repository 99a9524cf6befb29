"""One pytest session as the plugin sees it: ``TcgSession``, the one object every hook of
``plugin`` calls into (as syrupy's ``SnapshotSession`` and pytest-benchmark's
``BenchmarkSession`` are).

It reads the options once, owns the session's state (``_state.SessionState``), and is the
one place that registers the plugin's other hook objects, each only when something needs
it, so that a session that never uses the plugin pays nothing per test:

- the per-test reports (``_report._hooks.TestReports``), the first time a test uses a fixture,
  a speedup check or ``--tcg-graph-out``;
- the recorder of each test's graph (``_GraphRecorder``), with ``--tcg-graph-out``;
- the replay line of a shuffled test (``_ShuffleSeeds``), with ``--tcg-shuffle``;
- the unused-snapshot audit (``_snapshots._unused.SnapshotAudit``) and pipeline coverage
  (``_coverage._hooks.CoverageSession``, with ``--tcg-coverage``).

Under pytest-xdist it is also the one bridge: a worker hands everything the controller
needs (counters, the snapshot collection, the coverage ledger) through one
``workeroutput`` entry, and the controller merges it.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from ._config import test_seed
from ._fixtures._executor import describe_executor
from ._longruns import configure as configure_long_runs
from ._report._hooks import TestReports, shown_path
from ._settings import Settings
from ._snapshots._unused import SnapshotAudit
from ._state import SESSION, SessionState, item_state
from ._stats import Stats, listen

__all__ = ["TcgSession", "session_of"]

#: The one ``workeroutput`` entry of an xdist worker.
WORKER_OUTPUT = "tcg"


class TcgSession:
    """The plugin's session: see the module docstring.

    Made by ``pytest_configure`` (``start``); every later hook reaches it through
    ``session_of(config)``.
    """

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config  #: pytest's config of this session
        stats = Stats(formats=list(settings.formats), format_note=settings.format_note)
        #: what the parts below share (the fixtures, the reports, the assertions' sink)
        self.state = SessionState(settings, stats, use_reports=self.use_reports)
        #: the per-test reports, once registered
        self.reports: TestReports | None = None
        #: the unused-snapshot audit (it unregisters itself when there is nothing to audit)
        self.audit = SnapshotAudit(config, stats, settings.snapshot_update)
        #: pipeline coverage (--tcg-coverage), or None
        self.coverage: Any = None

    @classmethod
    def start(cls, config: pytest.Config) -> TcgSession:
        """Read the options, make the session, register what the options ask for."""
        session = cls(config, Settings.from_config(config))
        config.stash[_TCG_SESSION] = session
        config.stash[SESSION] = session.state
        config.add_cleanup(listen(session.heard))
        settings = session.state.settings
        configure_long_runs(config, settings)
        if settings.graph_out is not None:
            session.start_graph_output(settings.graph_out)
        manager = config.pluginmanager
        manager.register(session.audit, "tcg-snapshot-audit")
        if settings.shuffle is not None:
            manager.register(_ShuffleSeeds(settings.shuffle), "tcg-shuffle-seeds")
        if settings.coverage is not None:
            from ._coverage._hooks import CoverageSession

            session.coverage = CoverageSession(config, settings.coverage,
                                               settings.coverage_fail_under,
                                               settings.graph_out)
            manager.register(session.coverage, "tcg-coverage")
        return session

    def start_graph_output(self, folder: Path) -> None:
        """``--tcg-graph-out``: a writer for the diagrams, and the hooks that record each
        test's graph (or the one line saying why no file will be written)."""
        from ._report._output import GraphWriter

        writer = GraphWriter(folder, self.state.settings.formats)
        problem = writer.prepare()
        if problem is not None:
            self.state.stats.output_fatal = problem
            return
        self.state.writer = writer
        self.state.stats.graph_dir = _shown(self.config, folder)
        self.config.pluginmanager.register(_GraphRecorder(), "tcg-graph-recorder")
        self.use_reports()  # saves the diagrams and keeps the HTML rows

    def use_reports(self) -> None:
        """Register the per-test reports, once: the first test that uses the plugin."""
        if self.reports is None:
            self.reports = TestReports(self.config)
            self.config.pluginmanager.register(self.reports, "tcg-reports")

    def heard(self, report: Any) -> None:
        """A speedup check ran in this session (the assertions' sink, ``_stats``)."""
        stats = self.state.stats
        # Failures are counted by the per-test hooks, once the test's outcome is known.
        stats.speedups.append(report.speedup)
        stats.simulated += report.kind == "simulated"
        self.use_reports()
        assert self.reports is not None
        self.reports.heard(report)

    # -- the header and the summary ---------------------------------------------------------
    def header(self) -> list[str]:
        """The ``tcg:`` lines under pytest's header."""
        settings = self.state.settings
        if settings.shuffle is not None:
            lines = [f"tcg: executor shuffled (--tcg-shuffle={settings.shuffle}: each "
                     "test's order is seeded from it; pass it again to replay)"]
        else:
            lines = [f"tcg: executor {describe_executor(settings.executor, settings.workers)}"]
        if settings.check_mutation:
            lines.append("tcg: check_mutation on (tcg_resolve, tcg_session_resolve, tcg_graph)")
        if settings.graph_out is not None:
            lines.append(f"tcg: graphs to {_shown(self.config, settings.graph_out)} "
                         f"({','.join(settings.formats)})")
        return lines

    def finish(self, session: pytest.Session) -> None:
        """A worker hands its part to the controller; the controller (or a run without
        xdist) writes the HTML report."""
        output = getattr(self.config, "workeroutput", None)
        if output is not None:
            output[WORKER_OUTPUT] = self.worker_output()
            return
        writer, stats = self.state.writer, self.state.stats
        if writer is None:
            return
        from ._report._html import write_report

        try:
            path = write_report(writer.directory, stats.rows, session.testscollected)
            stats.report_file = _shown(self.config, path)
        except OSError as exc:
            stats.add_error(f"index.html: {exc.strerror or exc}")

    def summary(self, terminalreporter: Any) -> None:
        """The ``tcg`` section at the end of the run (the controller's, under xdist)."""
        if hasattr(self.config, "workerinput"):
            return
        lines = self.state.stats.summary_lines()
        if lines:
            terminalreporter.write_sep("-", "tcg")
            for line in lines:
                terminalreporter.write_line(line)

    # -- the xdist bridge --------------------------------------------------------------------
    def configure_node(self, node: Any) -> None:
        """Controller → a worker: the ``--tcg-shuffle`` seed chosen once for the run."""
        shuffle = self.state.settings.shuffle
        if shuffle is not None:
            node.workerinput["tcg_shuffle"] = shuffle

    def worker_output(self) -> dict[str, Any]:
        """Everything a worker's controller needs, as plain data."""
        return {"stats": self.state.stats.to_dict(), "snapshots": self.audit.worker_data(),
                "coverage": self.coverage.ledger.to_dict() if self.coverage else None}

    def merge_worker(self, node: Any) -> None:
        """Controller: a worker ended; merge what it sent (``worker_output``)."""
        data = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT)
        if not data:
            return
        self.state.stats.merge(data["stats"])
        self.audit.merge_worker_data(data["snapshots"])
        if self.coverage is not None and data["coverage"] is not None:
            self.coverage.ledger.merge(data["coverage"])


_TCG_SESSION = pytest.StashKey[TcgSession]()


def session_of(config: pytest.Config) -> TcgSession:
    """The session ``pytest_configure`` started."""
    return config.stash[_TCG_SESSION]


def _shown(config: pytest.Config, path: Path) -> str:
    return shown_path(config, path) or "."


class _GraphRecorder:
    """Records what a test body builds, registered only with --tcg-graph-out: a run
    without it pays nothing per test. ``_report._hooks`` saves the diagram."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        """https://docs.pytest.org/en/stable/reference/reference.html#pytest.hookspec.pytest_runtest_call"""
        # Record the futures a test body creates even without the tcg_graph fixture
        # (which records them itself and must not be shadowed).
        if "tcg_graph" in getattr(item, "fixturenames", ()):
            return (yield)
        from tcg_core import Graph

        graph = Graph()
        try:
            with graph:
                return (yield)
        finally:
            if graph.futures:
                item_state(item).add(graph)


class _ShuffleSeeds:
    """Registered only under ``--tcg-shuffle``: a session without it pays no per-test hook."""

    def __init__(self, shuffle: int) -> None:
        self.shuffle = shuffle  #: the session's base seed

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item,
                                  call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        """https://docs.pytest.org/en/stable/reference/reference.html#pytest.hookspec.pytest_runtest_makereport"""
        report = yield
        if report.failed:
            # As pytest-randomly does: the seed a failure needs is in the failure's report.
            seed = test_seed(self.shuffle, item.nodeid)
            report.sections.append(("tcg shuffle", f"this test ran with ShuffledExecutor("
                                                   f"seed={seed}); replay: pytest "
                                                   f"--tcg-shuffle={self.shuffle} "
                                                   f"'{item.nodeid}'"))
        return report

"""pytest-tcg's hooks and options (the ``pytest11`` entry point ``tcg``; disable it with
``-p no:tcg``). The fixtures live in ``_fixtures``; this module only wires things up."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from ._config import (
    FORMATS,
    RANDOM,
    Settings,
    parse_dir,
    parse_executor,
    parse_formats,
    parse_shuffle,
    parse_workers,
    test_seed,
)
from ._executor import MARKER_HELP, describe_executor
from ._fixtures import (
    tcg_executor,
    tcg_graph,
    tcg_regression,
    tcg_resolve,
    tcg_session_resolve,
    tcg_snapshot,
)
from ._longruns import add_options as add_long_run_options
from ._longruns import configure as configure_long_runs
from ._mock import tcg_mock
from ._reports import ensure_reports, item_state
from ._state import SETTINGS, STATS, WRITER
from ._stats import Stats, listen
from ._text import did_you_mean
from ._unused import SnapshotAudit

if TYPE_CHECKING:
    from ._reports import TestReports
    from ._timing import SpeedupReport

# Every pytest run in an environment with pytest-tcg loads this module: it imports
# tcg_core, the speedup checks and the diagram writers only when something uses them.

__all__ = ["tcg_executor", "tcg_graph", "tcg_mock", "tcg_regression", "tcg_resolve",
           "tcg_session_resolve", "tcg_snapshot"]

_WORKEROUTPUT_KEY = "tcg_stats"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tcg", "tcg: computation-graph pipelines (pytest-tcg)")
    formats = ",".join(FORMATS)
    group.addoption(
        "--tcg-graph-out", dest="tcg_graph_out", metavar="DIR", type=parse_dir, default=None,
        help="Save the graph of every test that built one as DIR/<test id>.<ext> "
             "(ini: tcg_graph_out).")
    group.addoption(
        "--tcg-graph-format", dest="tcg_graph_format", metavar="FORMATS", type=parse_formats,
        default=None,
        help=f"Comma-separated formats for --tcg-graph-out, from {formats}; default svg when "
             "Graphviz is installed, else dot,mmd (ini: tcg_graph_format).")
    group.addoption(
        "--tcg-executor", dest="tcg_executor", metavar="NAME", type=parse_executor,
        default=None,
        help="Executor for tcg_executor/tcg_resolve/tcg_graph: serial, threads, processes or "
             "dask; default threads (ini: tcg_executor).")
    group.addoption(
        "--tcg-workers", dest="tcg_workers", metavar="N", type=parse_workers, default=None,
        help="Worker count for that executor (ini: tcg_workers).")
    group.addoption(
        "--tcg-snapshot-update", dest="tcg_snapshot_update", action="store_true",
        default=False,
        help="Write tcg_snapshot files from the graphs the tests build instead of "
             "comparing.")
    group.addoption(
        "--tcg-shuffle", dest="tcg_shuffle", metavar="SEED", nargs="?", const=RANDOM,
        type=parse_shuffle, default=None,
        help="Make every test's executor a tcg_core.ShuffledExecutor: nodes run in a random "
             "valid order, seeded per test from SEED (random when omitted; printed in the "
             "header and in failing tests' reports) (ini: tcg_shuffle).")
    group.addoption(
        "--tcg-check-mutation", dest="tcg_check_mutation", action="store_true",
        default=False,
        help="Resolve with check_mutation=True in tcg_resolve, tcg_session_resolve and "
             "tcg_graph: a node whose "
             "body changes one of its arguments fails (ini: tcg_check_mutation).")
    group.addoption(
        "--tcg-coverage", dest="tcg_coverage", metavar="PKG[,PKG...]", default=None,
        type=_lazy_parse("parse_packages"),
        help="Pipeline coverage: which node functions of these packages the tests ran, "
             "and how; a summary, tcg-coverage.json and (with --tcg-graph-out) "
             "coverage.html (ini: tcg_coverage).")
    group.addoption(
        "--tcg-coverage-fail-under", dest="tcg_coverage_fail_under", metavar="PCT",
        default=None, type=_lazy_parse("parse_fail_under"),
        help="Fail the session when under PCT%% of the node functions ran "
             "(ini: tcg_coverage_fail_under).")
    parser.addini("tcg_coverage", "Packages for --tcg-coverage.", default="")
    parser.addini("tcg_coverage_fail_under", "Percentage for --tcg-coverage-fail-under.",
                  default="")
    parser.addini("tcg_shuffle", "Seed (or 'random') for --tcg-shuffle.", default="")
    parser.addini("tcg_check_mutation", "true to turn on --tcg-check-mutation.", default="")
    add_long_run_options(parser, group)
    parser.addini("tcg_graph_out", "Folder for --tcg-graph-out (relative to the ini file).",
                  default="")
    parser.addini("tcg_graph_format", "Formats for --tcg-graph-format.", default="")
    parser.addini("tcg_executor", "Default executor for --tcg-executor.", default="")
    parser.addini("tcg_workers", "Default worker count for --tcg-workers.", default="")


def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser,
                                  args: list[str]) -> None:
    """A misspelt ``--tcg-*`` flag gets a "did you mean" (argparse would only say it is
    unrecognized): checked here, the one hook that sees the arguments before they are
    parsed."""
    known = sorted(name for option in parser.getgroup("tcg").options
                   for name in option.names() if name.startswith("--"))
    for arg in args:
        if arg == "--":
            break
        name = arg.split("=", 1)[0]
        if name.startswith("--tcg") and name not in known:
            raise pytest.UsageError(f"unknown option {name}{did_you_mean(name, known)}; the "
                                    f"tcg options are {', '.join(known)}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    _check_ini_keys(config)
    configure_long_runs(config)
    settings = Settings.from_config(config)
    stats = Stats(formats=list(settings.formats), format_note=settings.format_note)
    config.stash[SETTINGS] = settings
    config.stash[STATS] = stats
    config.stash[WRITER] = None
    if settings.graph_out is not None:
        from ._output import GraphWriter

        writer = GraphWriter(settings.graph_out, settings.formats)
        problem = writer.prepare()
        if problem is None:
            config.stash[WRITER] = writer
            stats.graph_dir = _shown(config, settings.graph_out)
            config.pluginmanager.register(_GraphRecorder(), "tcg-graph-recorder")
            ensure_reports(config)  # saves the diagrams and keeps the HTML rows
        else:
            stats.output_fatal = problem

    def count(report: SpeedupReport) -> None:
        # Failures are counted by the per-test hooks, once the test's outcome is known.
        stats.speedups.append(report.speedup)
        stats.simulated += report.kind == "simulated"
        ensure_reports(config)
        reports: TestReports | None = config.pluginmanager.get_plugin("tcg-reports")
        if reports is not None:
            reports.heard(report)

    config.add_cleanup(listen(count))
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistController(stats), "tcg-xdist")
    config.pluginmanager.register(SnapshotAudit(config, stats, settings.snapshot_update),
                                  "tcg-snapshot-audit")
    if settings.shuffle is not None:
        config.pluginmanager.register(_ShuffleSeeds(settings.shuffle), "tcg-shuffle-seeds")
    _configure_coverage(config, settings)


def _lazy_parse(name: str) -> Any:
    """An option's parser from ``_coverage_plugin``, imported only when the option is
    given (loading the plugin stays cheap)."""

    def parse(value: str) -> Any:
        from . import _coverage_plugin

        return getattr(_coverage_plugin, name)(value)

    parse.__name__ = name
    return parse


def _configure_coverage(config: pytest.Config, settings: Settings) -> None:
    """Register the coverage hooks when ``--tcg-coverage`` (or its ini key) asks."""
    packages = _option_or_ini(config, "tcg_coverage", "parse_packages")
    if packages is None:
        if _option_or_ini(config, "tcg_coverage_fail_under", "parse_fail_under") is not None:
            raise pytest.UsageError("--tcg-coverage-fail-under needs --tcg-coverage=PKG "
                                    "(which packages' node functions to count)")
        return
    from ._coverage_plugin import CoverageSession, CoverageXdist

    fail_under = _option_or_ini(config, "tcg_coverage_fail_under", "parse_fail_under")
    coverage = CoverageSession(config, packages, fail_under, settings.graph_out)
    config.pluginmanager.register(coverage, "tcg-coverage")
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(CoverageXdist(coverage), "tcg-coverage-xdist")


def _option_or_ini(config: pytest.Config, name: str, parser: str) -> Any:
    value = config.getoption(name)
    if value is not None:
        return value
    raw = str(config.getini(name) or "").strip()
    if not raw:
        return None
    try:
        return _lazy_parse(parser)(raw)
    except pytest.UsageError as exc:
        raise pytest.UsageError(f"ini key {name} = {raw!r}: {exc}") from None


#: Every ini key the plugin reads (``addini`` above and in ``_longruns``).
INI_KEYS = ["tcg_shuffle", "tcg_check_mutation", "tcg_graph_out", "tcg_graph_format",
            "tcg_executor", "tcg_workers", "tcg_progress", "tcg_cache_dir", "tcg_coverage",
            "tcg_coverage_fail_under"]


def _check_ini_keys(config: pytest.Config) -> None:
    """A misspelt ``tcg_*`` ini key gets a warning with a "did you mean" (pytest's own
    says only that the key is unknown)."""
    for key in sorted(_ini_keys_given(config)):
        if key.startswith("tcg") and key not in INI_KEYS:
            config.issue_config_time_warning(pytest.PytestConfigWarning(
                f"unknown ini key {key!r}{did_you_mean(key, INI_KEYS)}: pytest-tcg ignores "
                f"it; its keys are {', '.join(INI_KEYS)}"), stacklevel=2)


def _ini_keys_given(config: pytest.Config) -> list[str]:
    """The keys the ini file sets. pytest has no public way to list them: 9.x keeps them
    in ``_inicfg`` (its ``inicfg`` is deprecated), 8.x in ``inicfg``; with neither,
    nothing is checked (pytest still warns of an unknown key, without a suggestion)."""
    found = getattr(config, "_inicfg", None)
    if found is None and int(pytest.__version__.split(".")[0]) < 9:
        found = getattr(config, "inicfg", None)
    try:
        return [str(key) for key in (found or {})]
    except Exception:
        return []


def _shown(config: pytest.Config, path: Any) -> str:
    try:
        return str(path.relative_to(config.invocation_params.dir)) or "."
    except ValueError:
        return str(path)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """https://docs.pytest.org/en/stable/reference/reference.html#pytest.hookspec.pytest_report_header"""
    settings = config.stash[SETTINGS]
    if settings.shuffle is not None:
        lines = [f"tcg: executor shuffled (--tcg-shuffle={settings.shuffle}: each test's "
                 "order is seeded from it; pass it again to replay)"]
    else:
        lines = [f"tcg: executor {describe_executor(settings.executor, settings.workers)}"]
    if settings.check_mutation:
        lines.append("tcg: check_mutation on (tcg_resolve, tcg_session_resolve, tcg_graph)")
    if settings.graph_out is not None:
        lines.append(f"tcg: graphs to {_shown(config, settings.graph_out)} "
                     f"({','.join(settings.formats)})")
    return lines


class _GraphRecorder:
    """Records what a test body builds, registered only with --tcg-graph-out: a run
    without it pays nothing per test. ``_reports`` saves the diagram."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
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
        report = yield
        if report.failed:
            # As pytest-randomly does: the seed a failure needs is in the failure's report.
            seed = test_seed(self.shuffle, item.nodeid)
            report.sections.append(("tcg shuffle", f"this test ran with ShuffledExecutor("
                                                   f"seed={seed}); replay: pytest "
                                                   f"--tcg-shuffle={self.shuffle} "
                                                   f"'{item.nodeid}'"))
        return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    config = session.config
    if workeroutput is not None:  # an xdist worker: hand the counts to the controller
        workeroutput[_WORKEROUTPUT_KEY] = config.stash[STATS].to_dict()
        return
    writer = config.stash[WRITER]
    if writer is not None:  # the controller, or a run without xdist: one page for all
        from ._html import write_report

        stats = config.stash[STATS]
        try:
            path = write_report(writer.directory, stats.rows, session.testscollected)
            stats.report_file = _shown(config, path)
        except OSError as exc:
            stats.add_error(f"index.html: {exc.strerror or exc}")


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    lines = config.stash[STATS].summary_lines()
    if lines:
        terminalreporter.write_sep("-", "tcg")
        for line in lines:
            terminalreporter.write_line(line)


class _XdistController:
    """Hooks that exist only with pytest-xdist: merge each worker's counts."""

    def __init__(self, stats: Stats) -> None:
        self._stats = stats

    def pytest_configure_node(self, node: Any) -> None:
        # Workers use the controller's --tcg-shuffle seed, chosen once for the run.
        shuffle = node.config.stash[SETTINGS].shuffle
        if shuffle is not None:
            node.workerinput["tcg_shuffle"] = shuffle

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        data = getattr(node, "workeroutput", {}).get(_WORKEROUTPUT_KEY)
        if data:
            self._stats.merge(data)

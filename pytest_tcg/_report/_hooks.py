"""Per-test hooks, registered the first time a test uses the plugin (a fixture, a speedup
check, ``--tcg-graph-out``), so a session that never does pays nothing per test.

They keep the reports honest and useful:

- a speedup check counts as *failed* in the summary only when its
  ``SpeedupAssertionError`` is what failed the test (it escaped, or is the cause or
  context of what escaped); a check a test expected to fail (``pytest.raises``) or
  one in an ``xfail`` test is not a failure;
- a failing test that built a graph gets a ``tcg`` section in its report: the failing
  node, its path and inputs, what was skipped, the tree around it, and the saved files
  (also as junit XML properties ``tcg_diagram``, ``tcg_trace``, ``tcg_json``);
- a Hypothesis test keeps the graphs of one example, the last one run: the minimal
  failing example when it fails, since Hypothesis replays that one last;
- with ``--tcg-graph-out``, each test's diagram is saved once its body has run, and a
  row for the HTML report is kept.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from .._state import TEST, ItemState, item_state, state_of

__all__ = ["TestReports", "shown_path"]

#: Formats a failing test always gets, for its forensics (the trace shows the timeline).
_FAILURE_EXTRA = ("json", "trace")
_PROPERTY = {"svg": "tcg_diagram", "png": "tcg_diagram", "dot": "tcg_diagram",
             "mmd": "tcg_diagram", "json": "tcg_json", "trace": "tcg_trace"}


class TestReports:
    """The per-test hooks; see the module docstring."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._state = state_of(config)  #: the session's state
        #: Failing speedup reports heard during the current test, by identity.
        self._failing: list[Any] = []

    def heard(self, report: Any) -> None:
        """A speedup check ran (called by the plugin's listener)."""
        item = self._state.current
        if item is not None:
            item_state(item).speedups.append(report)
        if not report.passed:
            self._failing.append(report)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        """https://docs.pytest.org/en/stable/reference/reference.html#pytest.hookspec.pytest_runtest_call"""
        self._state.current = item
        restore = _one_example_at_a_time(item)
        try:
            return (yield)
        finally:
            restore()
            self._state.current = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """https://docs.pytest.org/en/stable/reference/reference.html#pytest.hookspec.pytest_runtest_makereport"""
        report = yield
        stats = self._state.stats
        if report.failed and call.excinfo is not None:
            stats.speedup_failures += self._escaped(call.excinfo.value)
            hint = _hypothesis_hint(item, call.excinfo.value)
            if hint is not None:
                report.sections.append(("tcg: with Hypothesis", hint))
        state = item.stash.get(TEST, None)
        if state is not None or self._state.writer is not None:
            try:
                self._report(item, report, state or item_state(item))
            except Exception as exc:  # the plugin must never break a test's report
                stats.add_error(f"{item.nodeid}: tcg report: {type(exc).__name__}: {exc}")
        if report.when == "teardown":
            self._failing.clear()
        return report

    def _escaped(self, error: BaseException) -> int:
        """How many of this test's failing checks are in the error that failed it."""
        found = 0
        seen: set[int] = set()
        todo = [error]
        while todo:
            exc = todo.pop()
            if id(exc) in seen:
                continue
            seen.add(id(exc))
            if any(getattr(exc, "report", None) is r for r in self._failing):
                found += 1
            todo += [e for e in (exc.__cause__, exc.__context__) if e is not None]
            todo += [e for e in getattr(exc, "exceptions", ()) if isinstance(e, BaseException)]
        return found

    def _report(self, item: pytest.Item, report: pytest.TestReport, state: ItemState) -> None:
        state.outcome = _worse(state.outcome, _outcome(report))
        if state.reason is None:
            state.reason = _reason(report)
        writer = self._state.writer
        last_chance = report.when == "teardown" and state.saved is None
        if writer is not None and (report.when == "call" or last_chance):
            self._save(item, report, state)
        if report.failed:
            model = state.model()
            if model is not None:
                from ._forensics import describe, one_line_errors

                state.node_errors = one_line_errors(model)
                files = {fmt: shown_path(self._config, path)
                         for fmt, path in (state.saved or {}).items()}
                report.sections.append(("tcg: the graph of this test", describe(model, files)))
        if report.when == "teardown" and writer is not None:
            self._state.stats.rows.append(_row(item, state, writer.directory))
        if report.when == "teardown":
            # The test is over and its report written: its graphs (their futures, and the
            # values these keep alive) die with it, so a later test never meets them,
            # through a pure=True node's memo, say, and a session's memory stays flat.
            state.sources.clear()

    def _save(self, item: pytest.Item, report: pytest.TestReport, state: ItemState) -> None:
        writer = self._state.writer
        assert writer is not None
        stats = self._state.stats
        state.saved = {}
        model = state.model()
        if model is None:
            return
        state.nodes, state.makespan = len(model.nodes), model.makespan()
        failing = report.failed or bool(model.failed())
        written, problems = writer.write(model, item.nodeid, _FAILURE_EXTRA if failing else ())
        state.saved = written
        if written:
            stats.graph_tests += 1
            stats.graph_files += len(written)
        for problem in problems:
            stats.add_error(problem)
        for fmt, path in written.items():
            prop = (_PROPERTY[fmt], shown_path(self._config, path))
            # The teardown report, which junitxml reads, copies item.user_properties;
            # a file saved at teardown goes on that report directly.
            item.user_properties.append(prop)
            if report.when == "teardown":
                report.user_properties.append(prop)


#: The function-scoped fixtures a Hypothesis test can swap for a session-wide one.
_SESSION_TWIN = {"tcg_resolve": "tcg_session_resolve"}


def _hypothesis_hint(item: pytest.Item, error: BaseException) -> str | None:
    """What to write instead when Hypothesis refused a tcg fixture (its health check for
    function-scoped fixtures says only to suppress the check)."""
    if type(error).__name__ != "FailedHealthCheck" or "function-scoped fixture" not in \
            str(error):
        return None
    used = [name for name in getattr(item, "fixturenames", ()) if name.startswith("tcg_")
            and f"'{name}'" in str(error)]
    if not used:
        return None
    name = used[0]
    twin = _SESSION_TWIN.get(name)
    if twin is not None:
        return (f"{name} is function-scoped, so Hypothesis refuses it in a @given test: "
                f"use {twin} instead, the same calls for the whole session (each "
                "resolve still goes in the running test's diagram)")
    return (f"{name} is function-scoped, so Hypothesis refuses it in a @given test: "
            "build and resolve the graph inside the test (with tcg_core.Graph() as g: ...), "
            "or resolve with tcg_session_resolve")


def _one_example_at_a_time(item: pytest.Item) -> Callable[[], None]:
    """For a Hypothesis test, start every example with no graphs (Hypothesis documents
    ``test.hypothesis.inner_test`` as replaceable for wrappers like this one); returns
    how to put the original back."""
    handle: Any = getattr(getattr(item, "obj", None), "hypothesis", None)
    inner = getattr(handle, "inner_test", None)
    if handle is None or inner is None:
        return lambda: None
    recording = state_of(item.config).writer is not None and "tcg_graph" not in getattr(
        item, "fixturenames", ())

    def example(*args: Any, **kwargs: Any) -> Any:
        state = item_state(item)
        state.sources.clear()
        state.speedups.clear()
        if not recording:
            return inner(*args, **kwargs)
        from tcg_core import Graph

        graph = Graph()
        try:
            with graph:
                return inner(*args, **kwargs)
        finally:
            if graph.futures:
                state.add(graph)

    handle.inner_test = example

    def restore() -> None:
        handle.inner_test = inner

    return restore


_RANK = {"passed": 0, "skipped": 1, "xfailed": 1, "xpassed": 2, "error": 3, "failed": 4}


def _outcome(report: pytest.TestReport) -> str:
    xfail = hasattr(report, "wasxfail")
    if report.failed:
        return "failed" if report.when == "call" else "error"
    if report.skipped:
        return "xfailed" if xfail else "skipped"
    return "xpassed" if xfail and report.when == "call" else "passed"


def _worse(a: str, b: str) -> str:
    return a if _RANK[a] >= _RANK[b] else b


def shown_path(config: pytest.Config, path: Path) -> str:
    """``path`` as the user sees it: relative to where pytest was started, if inside."""
    try:
        return str(path.relative_to(config.invocation_params.dir))
    except ValueError:
        return str(path)


def _row(item: pytest.Item, state: ItemState, directory: Path) -> dict[str, Any]:
    """What the HTML report shows of one test; plain data, to cross from xdist workers."""
    files = {}
    for fmt, path in (state.saved or {}).items():
        try:
            files[fmt] = path.relative_to(directory).as_posix()
        except ValueError:
            files[fmt] = str(path)
    checks = [{"kind": r.kind, "speedup": r.speedup, "min": r.min_speedup,
               "passed": r.passed} for r in state.speedups]
    return {"nodeid": item.nodeid, "outcome": state.outcome, "nodes": state.nodes,
            "makespan": state.makespan, "speedups": checks, "files": files,
            "reason": state.reason, "node_errors": list(state.node_errors)}


_REASON_LINES = 4


def _reason(report: pytest.TestReport) -> str | None:
    """Why pytest failed the test (its crash message, first lines), or why it was
    expected to fail; ``None`` for a test that passed."""
    if hasattr(report, "wasxfail") and (report.skipped or report.passed):
        return f"expected to fail: {report.wasxfail}" if report.wasxfail else \
            "expected to fail"
    if not report.failed:
        return None
    crash = getattr(report.longrepr, "reprcrash", None)
    text = getattr(crash, "message", None) or str(report.longrepr or "")
    lines = [line for line in str(text).splitlines() if line.strip()]
    shown = lines[:_REASON_LINES] + (["…"] if len(lines) > _REASON_LINES else [])
    where = "" if report.when == "call" else f"(in {report.when}) "
    return where + "\n".join(shown)

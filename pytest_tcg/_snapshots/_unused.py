"""Unused snapshot files: reported in the summary, removed by ``--tcg-snapshot-update``.

A file in ``__tcg_snapshots__/<module>/`` is unused when its test module was collected
whole and every one of its tests ran to the end, and no test compared or wrote the file.
Anything less proves nothing, so the audit is cautious:

* a module with deselected tests (``-k``, ``-m``, ``--lf``), with tests a conftest or
  plugin removed from the session's items after collecting them (``items[:] = ...`` in
  ``pytest_collection_modifyitems``: opt-in slow tests, CI sharding), or named with
  ``::`` on the command line is skipped: its other tests did not run;
* a test that did not pass (failed, skipped, xfailed) keeps its own files: it may have
  stopped before it got to ``tcg_snapshot()``, or runs elsewhere;
* a session that stopped early (``-x``, ``--maxfail``, Ctrl-C) or had collection errors
  audits nothing.

Under pytest-xdist each worker sends its collection to the controller (``worker_data``,
through the session's bridge; the files it used go in its ``Stats``); the controller,
which sees every test's reports, decides.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import os
from pathlib import Path
from typing import Any

import pytest

from .._stats import Stats

__all__ = ["SnapshotAudit"]

SNAPSHOT_DIR = "__tcg_snapshots__"


def _norm(path: str | os.PathLike[str]) -> str:
    return os.path.normcase(os.path.abspath(path))


class SnapshotAudit:
    """The hooks of the audit; one per session (plain, xdist worker or controller)."""

    def __init__(self, config: pytest.Config, stats: Stats, update: bool) -> None:
        self._config = config
        self._stats = stats
        self._update = update
        #: test module → the ids of its collected tests (merged from workers under xdist)
        self._modules: dict[str, set[str]] = {}
        #: modules not collected or selected whole
        self._partial: set[str] = set()
        self._collection_failed = False
        #: test module → the ids its collection produced, before any hook removed some
        self._collected: dict[str, set[str]] = {}
        self._finished: set[str] = set()  #: tests whose teardown reported
        self._not_passed: set[str] = set()  #: tests with a failed or skipped phase

    # -- collection (plain runs and xdist workers) ------------------------------------------
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._collection_failed = True
            return
        for found in report.result:
            if isinstance(found, pytest.Item):
                self._collected.setdefault(_norm(found.path), set()).add(found.nodeid)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self._partial.update(_norm(item.path) for item in items)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for arg in self._config.args:
            if "::" in arg:
                named = arg.split("::", 1)[0]
                self._partial.add(_norm(self._config.invocation_params.dir / named))
        for item in session.items:
            self._modules.setdefault(_norm(item.path), set()).add(item.nodeid)
        if getattr(self._config, "workerinput", None) is None and not self._any_snapshots():
            # Nothing to audit (and no xdist worker to report for): no per-test hooks.
            self._config.pluginmanager.unregister(self)
        # Collected, then dropped without pytest_deselected (items[:] = ... in a hook):
        # those tests did not run, so their files prove nothing.
        for module, ids in self._collected.items():
            if ids - self._modules.get(module, set()):
                self._partial.add(module)

    def _any_snapshots(self) -> bool:
        """A snapshot folder beside any collected module (or xdist will send collections)."""
        if self._config.pluginmanager.hasplugin("xdist") and getattr(
                self._config.option, "numprocesses", None):
            return True
        return any((Path(module).parent / SNAPSHOT_DIR).is_dir() for module in self._modules)

    # -- outcomes (plain runs and the xdist controller, which hears every report) -------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed or report.skipped:
            self._not_passed.add(report.nodeid)
        if report.when == "teardown":
            self._finished.add(report.nodeid)

    # -- xdist (through ``_session.TcgSession``, the one bridge) ------------------------------
    def worker_data(self) -> dict[str, Any]:
        """A worker's collection, as plain data for the controller."""
        return {"modules": {m: sorted(ids) for m, ids in self._modules.items()},
                "partial": sorted(self._partial), "failed": self._collection_failed}

    def merge_worker_data(self, data: dict[str, Any]) -> None:
        """Controller: a worker's ``worker_data``, merged."""
        for module, ids in data["modules"].items():
            self._modules.setdefault(module, set()).update(ids)
        self._partial.update(data["partial"])
        self._collection_failed = self._collection_failed or data["failed"]

    # -- the decision --------------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)  # after the plugin merged the workers' used files
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(self._config, "workeroutput"):  # a worker: the controller decides
            return
        stopped = session.shouldstop or session.shouldfail or exitstatus in (
            pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR,
            pytest.ExitCode.USAGE_ERROR)
        if stopped or self._collection_failed or not self._modules:
            return
        unused = self.unused_files()
        if not unused:
            return
        shown = [self._shown(path) for path in unused]
        self._stats.snapshot_unused = shown
        if self._update:
            for path in unused:
                path.unlink(missing_ok=True)
                if not any(path.parent.iterdir()):
                    path.parent.rmdir()  # the module's folder, now empty
            self._stats.snapshot_unused_removed = True

    def unused_files(self) -> list[Path]:
        """Snapshot files of modules that ran whole that no test used, sorted."""
        from .._naming import names_stem

        used = {_norm(path) for path in self._stats.snapshot_used}
        found: list[Path] = []
        for module, ids in self._modules.items():
            if module in self._partial or not ids <= self._finished:
                continue
            folder = Path(module).parent / SNAPSHOT_DIR / Path(module).stem
            if not folder.is_dir():
                continue
            # A test that did not pass may not have reached tcg_snapshot(): keep its files.
            kept = {names_stem(nodeid.partition("::")[2]) for nodeid in ids
                    if nodeid in self._not_passed}
            for path in sorted([*folder.glob("*.json"), *folder.glob("*.npz")]):
                if _norm(path) in used or not path.is_file():
                    continue
                # <test>.json, or <test>.<name>.json for a named or second snapshot
                if any(path.name == f"{stem}.json" or path.name.startswith(f"{stem}.")
                       for stem in kept):
                    continue
                found.append(path)
        return sorted(found)

    def _shown(self, path: Path) -> str:
        try:
            return str(path.relative_to(self._config.rootpath))
        except ValueError:
            return str(path)

"""Unused snapshot files: listed in the summary, removed by ``--tcg-snapshot-update``,
and only for modules that were collected whole and ran to the end (plain and ``-n 2``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import RunPytest

BOTH = '''
from tcgpipes import add, done, inc, twice

def test_kept(tcg_snapshot):
    tcg_snapshot(done(inc(1)))
    tcg_snapshot(done(twice(1)), name="named")

def test_gone(tcg_snapshot):
    tcg_snapshot(done(add(1, 2)))
'''

ONLY_KEPT = '''
from tcgpipes import done, inc, twice

def test_kept(tcg_snapshot):
    tcg_snapshot(done(inc(1)))
    tcg_snapshot(done(twice(1)), name="named")

def test_other():
    pass
'''


def _files(project: pytest.Pytester, module: str = "test_snaps") -> list[str]:
    folder = project.path / "__tcg_snapshots__" / module
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture
def stale(project: pytest.Pytester, run: RunPytest) -> Path:
    """A module whose test_gone was deleted after its snapshot was written."""
    project.makepyfile(test_snaps=BOTH)
    run("--tcg-snapshot-update").assert_outcomes(passed=2)
    assert _files(project) == ["test_gone.json", "test_kept.json", "test_kept.named.json"]
    return project.makepyfile(test_snaps=ONLY_KEPT)


def test_an_unused_file_is_reported_then_removed_by_update(
        stale: Path, project: pytest.Pytester, run_both: RunPytest) -> None:
    result = run_both()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["snapshots: 1 unused file (no test uses them; "
                                 "--tcg-snapshot-update removes them): "
                                 "__tcg_snapshots__/test_snaps/test_gone.json"])
    assert "test_gone.json" in _files(project)  # reporting never deletes
    result = run_both("--tcg-snapshot-update")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["snapshots: 1 unused file removed: "
                                 "__tcg_snapshots__/test_snaps/test_gone.json"])
    assert _files(project) == ["test_kept.json", "test_kept.named.json"]
    assert "unused file" not in run_both().stdout.str()


@pytest.mark.parametrize("args", [
    ["-k", "test_kept"],                       # deselected tests: the module ran in part
    ["test_snaps.py::test_kept"],              # named with ::
    ["-x"],                                    # the session stopped early
    ["--maxfail", "1"],
], ids=["deselected", "node-id", "exitfirst", "maxfail"])
def test_a_partial_run_reports_and_removes_nothing(
        stale: Path, project: pytest.Pytester, run_both: RunPytest, args: list[str]) -> None:
    project.makepyfile(test_early="def test_a_failure():\n    assert False\n")
    if args[0] in ("-x", "--maxfail"):
        args = [*args, "-p", "no:randomly", "test_early.py", "test_snaps.py"]
    result = run_both("--tcg-snapshot-update", *args)
    assert "unused file" not in result.stdout.str()
    assert "test_gone.json" in _files(project)


def test_a_collection_error_anywhere_reports_and_removes_nothing(
        stale: Path, project: pytest.Pytester, run_both: RunPytest) -> None:
    project.makepyfile(test_broken="import no_such_module_here\n")
    result = run_both("--tcg-snapshot-update", "--continue-on-collection-errors")
    assert "unused file" not in result.stdout.str()
    assert "test_gone.json" in _files(project)


def test_a_test_that_did_not_pass_keeps_its_files(
        stale: Path, project: pytest.Pytester, run_both: RunPytest) -> None:
    project.makepyfile(test_snaps='''
        import pytest

        def test_kept():
            raise RuntimeError("stopped before tcg_snapshot()")

        @pytest.mark.skip(reason="runs elsewhere")
        def test_gone(tcg_snapshot):
            pass
    ''')
    result = run_both("--tcg-snapshot-update")
    result.assert_outcomes(failed=1, skipped=1)
    assert "unused file" not in result.stdout.str()
    assert _files(project) == ["test_gone.json", "test_kept.json", "test_kept.named.json"]


OPT_IN_SLOW = '''
import os


def pytest_collection_modifyitems(config, items):
    # Opt-in slow tests, as many projects do: removed from items, never "deselected".
    if not os.environ.get("RUN_SLOW"):
        items[:] = [item for item in items if "gone" not in item.name]
'''


def test_files_of_tests_a_conftest_removed_from_items_are_kept(
        project: pytest.Pytester, run: RunPytest, run_both: RunPytest) -> None:
    """``--tcg-snapshot-update`` deleted them: only ``pytest_deselected`` was honoured,
    and ``items[:] = ...`` in a conftest does not call it (issue 20: data loss)."""
    project.makepyfile(test_snaps=BOTH)
    run("--tcg-snapshot-update").assert_outcomes(passed=2)
    project.makeconftest(OPT_IN_SLOW)
    result = run_both("--tcg-snapshot-update")
    result.assert_outcomes(passed=1)
    assert "unused file" not in result.stdout.str()
    assert _files(project) == ["test_gone.json", "test_kept.json", "test_kept.named.json"]

"""The plugin's long-run parts: a temporary result cache per session (isolation), a
persistent one with --tcg-cache-dir, and --tcg-progress only when output is not captured."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import RunPytest

CACHED_TEST = '''
import os
from pathlib import Path
from tcg_core import node


@node(cache=True)
def slow_square(x):
    return x * x


def test_cached():
    f = slow_square(6)
    assert f.resolve() == 36
    out = Path({out!r})
    out.mkdir(exist_ok=True)
    (out / str(os.getpid())).write_text(f"{{f.node.cached}} {{os.environ['TCG_CACHE_DIR']}}")
'''


def _seen(out: Path) -> list[tuple[str, str]]:
    found = [tuple(p.read_text().split(" ", 1)) for p in sorted(out.iterdir())]
    for p in out.iterdir():
        p.unlink()
    return found  # type: ignore[return-value]


def test_each_session_has_a_temporary_cache_of_its_own(project: pytest.Pytester,
                                                       run_both: RunPytest,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "out"
    project.makepyfile(test_cached=CACHED_TEST.format(out=str(out)))
    sessions = []
    for _ in range(2):
        run_both().assert_outcomes(passed=1)
        sessions.append(_seen(out))
    # The second session never sees the first one's value, and each folder is gone.
    assert [s[0][0] for s in sessions] == ["False", "False"]
    folders = {s[0][1] for s in sessions}
    assert len(folders) == 2
    assert not any(Path(f).exists() for f in folders)


def test_tcg_cache_dir_keeps_values_across_sessions(project: pytest.Pytester,
                                                    run_both: RunPytest,
                                                    tmp_path: Path) -> None:
    out = tmp_path / "out"
    store = tmp_path / "store"
    project.makepyfile(test_cached=CACHED_TEST.format(out=str(out)))
    cached = []
    for _ in range(2):
        run_both(f"--tcg-cache-dir={store}").assert_outcomes(passed=1)
        (flag, folder), = _seen(out)
        cached.append(flag)
        assert Path(folder) == store
    assert cached == ["False", "True"]
    assert any(store.rglob("*.pickle"))


PROGRESS_TEST = '''
from tcg_core import ProgressBar
from tcg_core._callbacks import active_callbacks


def test_bar():
    bars = [cb for cb in active_callbacks() if isinstance(cb, ProgressBar)]
    assert len(bars) == {expected}
'''


@pytest.mark.parametrize(("args", "expected"), [
    (("--tcg-progress", "-s"), 1),
    (("--tcg-progress",), 0),  # output captured: never a bar
    (("-s",), 0),  # not asked
])
def test_progress_is_shown_only_when_asked_and_output_is_not_captured(
        project: pytest.Pytester, run: RunPytest, args: tuple[str, ...],
        expected: int) -> None:
    project.makepyfile(test_bar=PROGRESS_TEST.format(expected=expected))
    run(*args).assert_outcomes(passed=1)


def test_progress_is_never_shown_in_xdist_workers(project: pytest.Pytester) -> None:
    project.makepyfile(test_bar=PROGRESS_TEST.format(expected=0))
    result = project.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider",
                                          "--tcg-progress", "-s")
    result.assert_outcomes(passed=1)


def test_an_empty_cache_dir_is_a_usage_error(run: RunPytest) -> None:
    result = run("--tcg-cache-dir= ")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--tcg-cache-dir: expected a folder name*"])


# -- the ini twins (README: every option has an ini key of the same name) ------------------


def test_ini_tcg_cache_dir_keeps_values_across_sessions_relative_to_the_ini_file(
        project: pytest.Pytester, run_both: RunPytest, tmp_path: Path) -> None:
    out = tmp_path / "out"
    project.makepyfile(test_cached=CACHED_TEST.format(out=str(out)))
    project.makeini("[pytest]\ntcg_cache_dir = store\n")
    cached = []
    for _ in range(2):
        run_both().assert_outcomes(passed=1)
        (flag, folder), = _seen(out)
        cached.append(flag)
        assert Path(folder) == Path(project.path) / "store"
    assert cached == ["False", "True"]


def test_the_cache_dir_flag_wins_over_the_ini_key(project: pytest.Pytester, run: RunPytest,
                                                  tmp_path: Path) -> None:
    out = tmp_path / "out"
    project.makepyfile(test_cached=CACHED_TEST.format(out=str(out)))
    project.makeini("[pytest]\ntcg_cache_dir = from-ini\n")
    run(f"--tcg-cache-dir={tmp_path / 'from-flag'}").assert_outcomes(passed=1)
    (_, folder), = _seen(out)
    assert Path(folder) == tmp_path / "from-flag"


@pytest.mark.parametrize(("ini", "expected"), [("true", 1), ("off", 0)])
def test_ini_tcg_progress(project: pytest.Pytester, run: RunPytest, ini: str,
                          expected: int) -> None:
    project.makepyfile(test_bar=PROGRESS_TEST.format(expected=expected))
    project.makeini(f"[pytest]\ntcg_progress = {ini}\n")
    run("-s").assert_outcomes(passed=1)


def test_a_bad_ini_tcg_progress_is_a_usage_error(project: pytest.Pytester,
                                                  run: RunPytest) -> None:
    project.makepyfile(test_bar=PROGRESS_TEST.format(expected=0))
    project.makeini("[pytest]\ntcg_progress = maybe\n")
    result = run("-s")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini key tcg_progress = 'maybe'*expected true or false*"])

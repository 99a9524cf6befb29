"""Pipeline coverage (``--tcg-coverage``, issue 23): which node functions of a package the
tests ran, and how; the same numbers under ``-n 2``; ``--tcg-coverage-fail-under``
fails the session as pytest-cov does."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import RunPytest

STEPS = '''
from tcg_core import node

@node
def load(region):
    raise ConnectionError("no database in tests")

@node
def clean(rows):
    return [r for r in rows if r is not None]

@node
def total(rows):
    if not rows:
        raise ValueError("no rows")
    return sum(rows)

@node(cache=True)
def slow_stat(rows):
    return max(rows)

@node
def export(value):
    return f"value={value}"

@node
def never_called(x):
    return x

@node
def region_report(region):
    return total(clean(load(region)))

class Tools:
    @node
    def scale(self, x):
        return x * 2
'''

TESTS = '''
import pytest
from tcg_core import NodeError
from shop.steps import Tools, clean, load, region_report, slow_stat, total

def test_report(tcg_mock, tcg_resolve):
    tcg_mock({load: [1, None, 2]})
    assert tcg_resolve(region_report("east")) == 3

def test_empty_fails(tcg_mock, tcg_resolve):
    tcg_mock({load: []})
    with pytest.raises(NodeError, match="no rows"):
        tcg_resolve(region_report("west"))

def test_cached(tcg_resolve):
    assert tcg_resolve(slow_stat([1, 5])) == 5

def test_method(tcg_resolve):
    assert tcg_resolve(Tools().scale(2)) == 4
'''


@pytest.fixture
def shop(project: pytest.Pytester) -> pytest.Pytester:
    package = project.mkpydir("shop")
    (package / "steps.py").write_text(STEPS, encoding="utf-8")
    project.makepyfile(test_shop=TESTS)
    return project


def test_the_summary_lists_what_never_ran_first(shop: pytest.Pytester,
                                                run_both: RunPytest) -> None:
    result = run_both("--tcg-coverage=shop", "--tcg-cache-dir=cache")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines([
        "*tcg pipeline coverage*",
        "5 of 8 node functions run (62.5%)",
        "node function * file:line * tests  bodies  how",
        "shop.steps:export * shop/steps.py:* * 0      0       never run",
        "shop.steps:load * shop/steps.py:* * 0      0       only replaced  nested",
        "shop.steps:never_called * shop/steps.py:* * never run",
        "shop.steps:Tools.scale * 1      1       body",
        "shop.steps:clean * 2      2       body           nested",
        "shop.steps:region_report * 2      2       body           1 failed; failure tested",
        "shop.steps:slow_stat * 1      1       body",
        "shop.steps:total * 2      2       body           1 failed; failure tested; nested",
        "written: tcg-coverage.json",
    ])
    doc = json.loads((shop.path / "tcg-coverage.json").read_text(encoding="utf-8"))
    assert doc["percent"] == 62.5
    assert {e["from"]: e["to"] for e in doc["edges"]} == {
        "shop.steps:load": "shop.steps:clean", "shop.steps:clean": "shop.steps:total"}
    assert {(n["parent"], n["child"]) for n in doc["nesting"]} == {
        ("shop.steps:region_report", f"shop.steps:{name}")
        for name in ("load", "clean", "total")}


def test_plain_and_xdist_report_the_same_numbers(shop: pytest.Pytester, run: RunPytest,
                                                 project: pytest.Pytester) -> None:
    found = []
    for number, extra in enumerate(([], ["-n", "2"])):  # a cache each: no hit in the 2nd
        result = project.runpytest_subprocess("-p", "no:cacheprovider", "--tcg-coverage=shop",
                                              f"--tcg-cache-dir=cache{number}", *extra)
        result.assert_outcomes(passed=4)
        doc = json.loads((shop.path / "tcg-coverage.json").read_text(encoding="utf-8"))
        for function in doc["functions"]:
            function["tests"] = sorted(function["tests"])
        found.append(doc)
    assert found[0] == found[1]


def test_a_function_only_read_from_the_cache_does_not_count_as_run(
        shop: pytest.Pytester, run: RunPytest) -> None:
    run("--tcg-coverage=shop", "--tcg-cache-dir=cache", "-k", "cached").assert_outcomes(
        passed=1)
    result = run("--tcg-coverage=shop", "--tcg-cache-dir=cache", "-k", "cached")
    result.stdout.fnmatch_lines(["0 of 8 node functions run (0.0%)",
                                 "shop.steps:slow_stat * 0      0       only cached"])


@pytest.mark.parametrize("under", ["80", "50"])
def test_fail_under_fails_the_session_as_pytest_cov_does(shop: pytest.Pytester,
                                                         run_both: RunPytest,
                                                         under: str) -> None:
    result = run_both("--tcg-coverage=shop", f"--tcg-coverage-fail-under={under}")
    result.assert_outcomes(passed=4)
    if under == "80":
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.stdout.fnmatch_lines(["FAIL Required tcg pipeline coverage of 80% not "
                                     "reached. Total pipeline coverage: 62.50%"])
    else:
        assert result.ret == pytest.ExitCode.OK
        result.stdout.fnmatch_lines(["Required tcg pipeline coverage of 50% reached. "
                                     "Total pipeline coverage: 62.50%"])


def test_the_ini_keys_work_and_are_checked(shop: pytest.Pytester, run: RunPytest) -> None:
    shop.makeini("[pytest]\ntcg_coverage = shop\ntcg_coverage_fail_under = 99\n")
    result = run()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["5 of 8 node functions run (62.5%)"])
    shop.makeini("[pytest]\ntcg_coverage = shop\ntcg_coverage_fail_under = lots\n")
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini key tcg_coverage_fail_under = 'lots'*percentage*"])


def test_an_import_error_is_reported_not_a_crash(shop: pytest.Pytester,
                                                 run: RunPytest) -> None:
    (shop.path / "shop" / "broken.py").write_text("import no_such_module\n", encoding="utf-8")
    result = run("--tcg-coverage=shop,no_such_package")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines([  # in the order the packages were named
        "could not import shop.broken: ModuleNotFoundError*",
        "could not import no_such_package: ModuleNotFoundError*"])


def test_bad_option_values_are_refused(shop: pytest.Pytester, run: RunPytest) -> None:
    assert run("--tcg-coverage=not a package").ret == pytest.ExitCode.USAGE_ERROR
    assert run("--tcg-coverage-fail-under=80").ret == pytest.ExitCode.USAGE_ERROR
    assert run("--tcg-coverage=shop", "--tcg-coverage-fail-under=120").ret == \
        pytest.ExitCode.USAGE_ERROR


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
def test_the_coverage_page_opens_in_a_browser(shop: pytest.Pytester, run: RunPytest,
                                              tmp_path: Path) -> None:
    run("--tcg-coverage=shop", "--tcg-graph-out=graphs").assert_outcomes(passed=4)
    page = shop.path / "graphs" / "coverage.html"
    assert CHROMIUM is not None
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                          f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                          page.as_uri()], capture_output=True, text=True, timeout=120,
                         check=False)
    assert dom.returncode == 0, dom.stderr
    assert "5 of 8 node functions run (62.5%)" in dom.stdout
    rows = dom.stdout.split("<tbody>", 1)[1]
    assert rows.index("never run") < rows.index(">body<")  # never-run rows first
    assert "<svg" in dom.stdout or "digraph coverage" in dom.stdout


EXECUTOR_FLAGS = {"serial": ["--tcg-executor=serial"], "threads": ["--tcg-executor=threads"],
                  "processes": ["--tcg-executor=processes"], "shuffled": ["--tcg-shuffle=3"],
                  "dask": ["--tcg-executor=dask"]}


@pytest.mark.parametrize("kind", sorted(EXECUTOR_FLAGS))
def test_the_same_numbers_on_every_executor(shop: pytest.Pytester, kind: str) -> None:
    # Callbacks run in the resolving process on every executor (processes and Dask send
    # a resolve with callbacks node by node), so each sees every call.
    _needs_dask_for(kind)
    result = shop.runpytest_subprocess("-p", "no:cacheprovider", "--tcg-coverage=shop",
                                       f"--tcg-cache-dir=cache-{kind}", *EXECUTOR_FLAGS[kind])
    result.assert_outcomes(passed=4)
    doc = json.loads((shop.path / "tcg-coverage.json").read_text(encoding="utf-8"))
    assert doc["percent"] == 62.5
    by_key = {f["key"]: f for f in doc["functions"]}
    assert by_key["shop.steps:load"]["replaced"] == 2
    assert by_key["shop.steps:total"]["failure_tested"] is True


def _needs_dask_for(executor: str) -> None:
    """Skip a Dask case where distributed is not installed (the wheel tests install the
    test extra only); looked up without importing it into this process."""
    import importlib.util

    if "dask" in executor and importlib.util.find_spec("distributed") is None:
        pytest.skip("needs distributed (pip install 'pytest-tcg[dask]')")

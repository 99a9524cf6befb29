"""The plugin installs through its entry point, shows its options and marker, and
``-p no:tcg`` turns it off."""

from __future__ import annotations

import pytest

from .conftest import RunPytest

OPTIONS = ["--tcg-graph-out=DIR", "--tcg-graph-format=FORMATS", "--tcg-executor=NAME",
           "--tcg-workers=N", "--tcg-snapshot-update", "--tcg-coverage=PKG[,PKG...]",
           "--tcg-coverage-fail-under=PCT"]
INI_KEYS = ["tcg_graph_out", "tcg_graph_format", "tcg_executor", "tcg_workers",
            "tcg_coverage", "tcg_coverage_fail_under"]


def test_help_lists_options_in_a_tcg_group_and_ini_keys(run_sub: RunPytest) -> None:
    result = run_sub("--help")
    assert result.ret == 0
    text = result.stdout.str()
    group = text.index("tcg: computation-graph pipelines (pytest-tcg):")
    for option in OPTIONS:
        assert text.index(option) > group, option
    for key in INI_KEYS:
        result.stdout.fnmatch_lines([f"  {key} *"])


def test_marker_is_registered(run_sub: RunPytest) -> None:
    result = run_sub("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.tcg(executor=None, workers=None): run this*"])


def test_plugin_is_loaded_by_its_entry_point_name(project: pytest.Pytester,
                                                  run_sub: RunPytest) -> None:
    project.makepyfile(test_name="""
        import pytest_tcg.plugin

        def test_registered_as_tcg(pytestconfig):
            assert pytestconfig.pluginmanager.get_plugin("tcg") is pytest_tcg.plugin
    """)
    result = run_sub()
    result.stdout.fnmatch_lines(["plugins: *tcg-*"])
    result.assert_outcomes(passed=1)


def test_no_tcg_disables_options(run_sub: RunPytest) -> None:
    result = run_sub("-p", "no:tcg", "--tcg-graph-out=graphs")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unrecognized arguments: --tcg-graph-out=graphs*"])
    assert "tcg:" not in run_sub("-p", "no:tcg", "--help").stdout.str()


def test_no_tcg_disables_fixtures_and_marker(project: pytest.Pytester,
                                             run_sub: RunPytest) -> None:
    project.makepyfile(test_uses="""
        import pytest

        def test_graph(tcg_graph):
            pass

        @pytest.mark.tcg(executor="serial")
        def test_marked():
            pass
    """)
    result = run_sub("-p", "no:tcg")
    result.stdout.fnmatch_lines(["*'tcg' not found in `markers` configuration option*"])
    result = run_sub("-p", "no:tcg", "--strict-markers", "-o", "markers=tcg")
    result.stdout.fnmatch_lines(["*fixture 'tcg_graph' not found*"])
    result.assert_outcomes(passed=1, errors=1)


def test_assertions_work_without_the_plugin(project: pytest.Pytester, run_sub: RunPytest) -> None:
    project.makepyfile(test_plain="""
        from pytest_tcg import assert_graph_shape
        from tcgpipes import add, inc

        def test_shape():
            assert_graph_shape(add(inc(1), 2), {"add": {"inc"}})
    """)
    run_sub("-p", "no:tcg").assert_outcomes(passed=1)


def test_clean_run_with_strict_markers_and_warnings_as_errors(project: pytest.Pytester,
                                                               run_sub: RunPytest) -> None:
    project.makepyfile(test_all="""
        import pytest
        from pytest_tcg import assert_nested
        from tcgpipes import pipeline

        @pytest.mark.tcg(executor="threads", workers=2)
        def test_everything(tcg_graph, tcg_resolve, tcg_executor, tcg_snapshot):
            assert tcg_resolve(pipeline(10, 2, 5, 6)) == -60
            assert_nested(tcg_graph, {"pipeline": ["plus", "minus", "times"], "plus": ["_add"]})
            tcg_snapshot()
    """)
    result = run_sub("--tcg-snapshot-update", "--tcg-graph-out=graphs", "-W", "error::Warning")
    result.assert_outcomes(passed=1)
    assert "warnings summary" not in result.stdout.str()

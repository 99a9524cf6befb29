"""``--tcg-executor``, ``--tcg-workers`` and their ini keys; bad values of every option."""

from __future__ import annotations

import pytest

from pytest_tcg._config import parse_executor, parse_formats, parse_workers

from .conftest import RunPytest

SHOW_EXECUTOR = """
    import tcg_core

    def describe(executor):
        if isinstance(executor, str):
            return executor
        kind = "processes" if isinstance(executor, tcg_core.ProcessesExecutor) \\
            else "threads"
        workers = executor.max_workers
        return f"{kind}:{workers}"

    def test_show(tcg_executor):
        print("EXECUTOR", describe(tcg_executor))
"""


@pytest.mark.parametrize(("args", "shown"), [
    ((), "threads:32"),
    (("--tcg-executor=serial",), "serial"),
    (("--tcg-executor=threads", "--tcg-workers=3"), "threads:3"),
    (("--tcg-executor", "PROCESSES", "--tcg-workers", "2"), "processes:2"),
])
def test_executor_options(project: pytest.Pytester, run: RunPytest, args: tuple[str, ...],
                          shown: str) -> None:
    project.makepyfile(test_show=SHOW_EXECUTOR)
    result = run("-s", *args)
    result.stdout.fnmatch_lines([f"*EXECUTOR {shown}*"])
    result.assert_outcomes(passed=1)


def test_ini_keys_set_defaults_and_flags_win(project: pytest.Pytester, run: RunPytest) -> None:
    project.makepyfile(test_show=SHOW_EXECUTOR)
    project.makepyprojecttoml("""
        [tool.pytest.ini_options]
        tcg_executor = "threads"
        tcg_workers = "5"
    """)
    run("-s").stdout.fnmatch_lines(["*EXECUTOR threads:5*"])
    run("-s", "--tcg-workers=7").stdout.fnmatch_lines(["*EXECUTOR threads:7*"])
    run("-s", "--tcg-executor=serial").stdout.fnmatch_lines(["*EXECUTOR serial*"])


@pytest.mark.parametrize(("args", "message"), [
    (("--tcg-executor=gpu",), "ERROR: --tcg-executor: unknown executor 'gpu'; use one of "
                              "serial, threads, processes, dask"),
    (("--tcg-workers=0",), "ERROR: --tcg-workers: expected a positive whole number, got '0'"),
    (("--tcg-workers=many",), "ERROR: --tcg-workers: expected a positive whole number, got "
                              "'many'"),
    (("--tcg-graph-format=svg,gif",), "ERROR: --tcg-graph-format: unknown format 'gif'; use a "
                                      "comma-separated list of svg, png, dot, mmd, json, trace"),
])
def test_bad_values_stop_pytest_with_one_line(project: pytest.Pytester, run_sub: RunPytest,
                                              args: tuple[str, ...], message: str) -> None:
    project.makepyfile(test_nothing="def test_nothing(): pass")
    result = run_sub(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str()


def test_bad_ini_value_names_the_key(project: pytest.Pytester, run_sub: RunPytest) -> None:
    project.makepyfile(test_nothing="def test_nothing(): pass")
    project.makeini("[pytest]\ntcg_workers = -2\n")
    result = run_sub()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: ini key tcg_workers = '-2': --tcg-workers: expected a "
                                 "positive whole number, got '-2'"])


def test_parse_functions() -> None:
    assert parse_executor(" Threads ") == "threads"
    assert parse_workers("4") == 4
    assert parse_formats("svg, .mmd,svg,trace") == ("svg", "mmd", "trace")
    for bad in ("", " , "):
        with pytest.raises(pytest.UsageError, match="no format given"):
            parse_formats(bad)


@pytest.mark.parametrize(("args", "header"), [
    ((), "tcg: executor threads, 32 workers"),
    (("--tcg-executor=serial",), "tcg: executor serial, 1 worker"),
    (("--tcg-executor=processes", "--tcg-workers=3"), "tcg: executor processes, 3 workers"),
    (("--tcg-workers=8",), "tcg: executor threads, 8 workers"),
])
def test_the_header_names_the_executor_and_workers(project: pytest.Pytester,
                                                   run_both: RunPytest,
                                                   args: tuple[str, ...], header: str) -> None:
    project.makepyfile(test_show=SHOW_EXECUTOR)
    result = run_both(*args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([header])
    assert sum(line.startswith("tcg: executor") for line in result.stdout.lines) == 1


def test_the_header_follows_the_ini_keys(project: pytest.Pytester, run: RunPytest) -> None:
    project.makepyfile(test_show=SHOW_EXECUTOR)
    project.makeini("[pytest]\ntcg_executor = processes\ntcg_workers = 2\n")
    result = run("--tcg-graph-out=graphs", "--tcg-graph-format=mmd")
    result.stdout.fnmatch_lines(["tcg: executor processes, 2 workers",
                                 "tcg: graphs to graphs (mmd)"])

"""``tcg_mock``: replacements for the rest of a test on every executor, undone at
teardown; a replacement the test never ran fails it, naming the node; Mocks work."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import RunPytest

TESTS = '''
from unittest.mock import Mock, call

import pytest
from tcgpipes import add, inc, pipeline, twice


def test_replaces_nested_nodes(tcg_mock, tcg_resolve):
    o = tcg_mock({inc: lambda x: x * 100, "_add": ValueError("bad sum")})
    assert tcg_resolve(add(inc(1), 2)) == 102
    assert o.calls(inc) == [call(1)]
    with pytest.raises(Exception, match="bad sum"):
        tcg_resolve(pipeline(1, 2, 3, 4))
    assert o.calls("_add") == [call(1, 2)]


def test_a_mock_is_a_replacement(tcg_mock, tcg_resolve):
    fake = Mock(return_value=5)
    o = tcg_mock({"inc": fake})
    assert tcg_resolve(twice(0)) == 10
    assert o.calls("inc") == [call(0), call(0)]


def test_the_real_body_runs_in_the_next_test(tcg_resolve):
    assert tcg_resolve(add(inc(1), 2)) == 4
'''


@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_replacements_apply_on_every_executor_and_end_with_the_test(
        run_both: RunPytest, project: pytest.Pytester, executor: str) -> None:
    project.makepyfile(test_mocked=TESTS)
    result = run_both("--tcg-executor", executor)
    result.assert_outcomes(passed=3)


def test_a_replacement_that_never_ran_fails_the_test_naming_it(
        run_both: RunPytest, project: pytest.Pytester) -> None:
    project.makepyfile(test_typo='''
        from tcgpipes import add, inc

        def test_typo(tcg_mock, tcg_resolve):
            tcg_mock({"icn": 0, inc: 7})
            assert tcg_resolve(inc(1)) == 7

        def test_fails_anyway(tcg_mock):
            tcg_mock({"never": 0})
            assert False, "the test's own failure"
    ''')
    result = run_both()
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_typo*",
        "*tcg_mock: the replacement for 'icn' never ran in this test*"])
    assert "'never' never ran" not in result.stdout.str()  # one failure, not two


def test_wrong_replacements_name_tcg_mock(run: RunPytest, project: pytest.Pytester) -> None:
    project.makepyfile(test_wrong='''
        def test_wrong(tcg_mock):
            tcg_mock([1, 2])
    ''')
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*TypeError: tcg_mock(): replacements must be a mapping*"])

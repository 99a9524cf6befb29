"""The plugin's messages say why and what to write (issue 22). Each fails on 0.2."""

from __future__ import annotations

import pytest

from .conftest import RunPytest


def test_hypothesis_refusing_tcg_resolve_points_to_the_session_twin(
        project: pytest.Pytester, run_both: RunPytest) -> None:
    project.makepyfile(test_h="""
from hypothesis import given, strategies as st
from tcgpipes import inc

@given(st.integers())
def test_inc(tcg_resolve, x):
    assert tcg_resolve(inc(x)) == x + 1
""")
    result = run_both()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*tcg: with Hypothesis*",
                                 "tcg_resolve is function-scoped, so Hypothesis refuses it "
                                 "in a @given test: use tcg_session_resolve instead*"])


def test_a_misspelt_flag_gets_a_did_you_mean(project: pytest.Pytester,
                                             run_sub: RunPytest) -> None:
    project.makepyfile(test_x="def test_x():\n    pass\n")
    result = run_sub("--tcg-exectuor=threads")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*unknown option --tcg-exectuor (did you mean "
                                 "'--tcg-executor'?)*"])


def test_a_misspelt_ini_key_gets_a_did_you_mean(project: pytest.Pytester,
                                                run_sub: RunPytest) -> None:
    project.makeini("[pytest]\ntcg_shufle = 3\n")
    project.makepyfile(test_x="def test_x():\n    pass\n")
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, warnings=2)  # pytest's own, and ours
    result.stdout.fnmatch_lines(["*unknown ini key 'tcg_shufle' (did you mean "
                                 "'tcg_shuffle'?)*"])


def test_every_ini_key_the_plugin_reads_is_known_to_the_check(project: pytest.Pytester
                                                              ) -> None:
    from pytest_tcg._options import INI_KEYS

    config = project.parseconfig()
    registered = sorted(k for k in config._parser._inidict if k.startswith("tcg"))
    assert registered == sorted(INI_KEYS)


@pytest.mark.parametrize("check", ["assert_order_independent", "assert_parallel_speedup"])
def test_checks_that_rerun_a_pipeline_refuse_a_future_and_say_what_to_write(
        check: str) -> None:
    import pytest_tcg
    from tcg_core import node

    @node
    def inc(x: int) -> int:
        return x + 1

    args = (inc(1),) if check == "assert_order_independent" else (inc(1), 1.5)
    with pytest.raises(TypeError, match=r"needs a zero-argument function that builds the "
                                        r"pipeline afresh .*got a Future: wrap what builds it"):
        getattr(pytest_tcg, check)(*args)


def test_a_simulated_check_that_saw_only_the_outer_node_says_so() -> None:
    from pytest_tcg import SpeedupAssertionError, assert_simulated_speedup
    from tests.core import _nodes_for_processes as P

    with pytest.raises(SpeedupAssertionError) as info:
        assert_simulated_speedup(lambda: P.pipeline(1, 2, 3, 4), 1.5, workers=2,
                                 weight="unit")
    assert "simulated over the 1 node it saw" in str(info.value)
    assert "nodes its bodies create (nested nodes) are not among them: pass run=True" in \
        str(info.value)


def test_a_serialised_parallel_check_names_the_executor_it_used() -> None:
    from pytest_tcg import SpeedupAssertionError, assert_parallel_speedup
    from tcg_core import ShuffledExecutor
    from tests.core import _nodes_for_processes as P

    with pytest.raises(SpeedupAssertionError) as info:
        assert_parallel_speedup(lambda: [P.nap(i, 0.03) for i in range(4)], 1.5,
                                executor=ShuffledExecutor(seed=1), repeats=1, attempts=1)
    text = str(info.value)
    assert "serial executor" not in text
    assert "ShuffledExecutor" in text

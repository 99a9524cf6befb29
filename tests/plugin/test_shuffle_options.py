"""``--tcg-shuffle[=SEED]`` and ``--tcg-check-mutation`` (and their ini keys), end to end."""

from __future__ import annotations

import pytest

from pytest_tcg._config import parse_flag, parse_shuffle

from .conftest import RunPytest

ORDER_TESTS = """
    from pathlib import Path

    from tcg_core import ShuffledExecutor
    from tcgpipes import add, inc

    def test_order(tcg_graph, tcg_executor):
        assert isinstance(tcg_executor, ShuffledExecutor)
        parts = [inc(i) for i in range(6)]
        total = parts[0]
        for p in parts[1:]:
            total = add(total, p)
        tcg_graph.resolve()
        orders = [r.order for r in sorted(tcg_graph.nodes, key=lambda r: r.id)]
        Path(f"order-{tcg_executor.seed}.txt").write_text(str(orders))

    def test_other(tcg_resolve):
        assert tcg_resolve(inc(1)) == 2
"""

MUTATING = """
    from tcg_core import node

    @node
    def fresh():
        return []

    @node
    def append_to(items, item):
        items.append(item)
        return len(items)

    @node
    def pair(a, b):
        return (a, b)

    def test_mutates(tcg_resolve):
        shared = fresh()
        assert sorted(tcg_resolve(pair(append_to(shared, "a"), append_to(shared, "b")))) == [1, 2]
"""


def _orders(project: pytest.Pytester) -> dict[str, str]:
    """The orders the last run's test_order wrote (by its seed), removed once read."""
    found = {}
    for path in project.path.glob("order-*.txt"):
        found[path.stem] = path.read_text()
        path.unlink()
    return found


def test_shuffle_prints_the_seed_and_the_same_seed_replays_the_same_order(
        project: pytest.Pytester, run_both: RunPytest) -> None:
    project.makepyfile(test_order=ORDER_TESTS)
    first = run_both("--tcg-shuffle=12")
    first.assert_outcomes(passed=2)
    first.stdout.fnmatch_lines(["*tcg: executor shuffled (--tcg-shuffle=12*"])
    orders = _orders(project)
    run_both("--tcg-shuffle=12").assert_outcomes(passed=2)
    assert orders and _orders(project) == orders
    run_both("--tcg-shuffle=13").assert_outcomes(passed=2)
    assert _orders(project) != orders


def test_shuffle_without_a_seed_chooses_one_and_prints_it(project: pytest.Pytester,
                                                          run_both: RunPytest) -> None:
    project.makepyfile(test_order=ORDER_TESTS)
    result = run_both("--tcg-shuffle")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*tcg: executor shuffled (--tcg-shuffle=*"])


def test_the_ini_key_turns_shuffling_on(project: pytest.Pytester, run: RunPytest) -> None:
    project.makepyfile(test_order=ORDER_TESTS)
    project.makeini("[pytest]\ntcg_shuffle = 5\n")
    result = run()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*--tcg-shuffle=5*"])
    orders = _orders(project)
    run("--tcg-shuffle=5").assert_outcomes(passed=2)
    assert orders and orders == _orders(project)


def test_a_failing_test_reports_its_seed(project: pytest.Pytester, run_both: RunPytest) -> None:
    project.makepyfile(test_fail="""
        from tcgpipes import inc

        def test_fails(tcg_resolve):
            assert tcg_resolve(inc(1)) == 3
    """)
    result = run_both("--tcg-shuffle=7")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*tcg shuffle*",
        "this test ran with ShuffledExecutor(seed=*); replay: pytest --tcg-shuffle=7 "
        "'test_fail.py::test_fails'"])


def test_check_mutation_fails_a_test_whose_nodes_change_their_inputs(
        project: pytest.Pytester, run_both: RunPytest) -> None:
    project.makepyfile(test_mut=MUTATING)
    run_both().assert_outcomes(passed=1)
    result = run_both("--tcg-check-mutation")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*InputMutationError: node 'append_to' (append_to) changed "
                                 "its argument 'items'*"])


def test_the_check_mutation_ini_key(project: pytest.Pytester, run: RunPytest) -> None:
    project.makepyfile(test_mut=MUTATING)
    project.makeini("[pytest]\ntcg_check_mutation = true\n")
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*tcg: check_mutation on*"])


@pytest.mark.parametrize("bad", ["-1", "x", "1.5"])
def test_a_bad_seed_is_refused(bad: str) -> None:
    with pytest.raises(pytest.UsageError, match="--tcg-shuffle: expected a seed"):
        parse_shuffle(bad)


def test_a_bad_ini_flag_is_refused(project: pytest.Pytester, run: RunPytest) -> None:
    with pytest.raises(pytest.UsageError, match="expected true or false"):
        parse_flag("maybe")
    project.makeini("[pytest]\ntcg_shuffle = soon\n")
    result = run()
    result.stderr.fnmatch_lines(["*ini key tcg_shuffle = 'soon': --tcg-shuffle: expected*"])


def test_the_session_resolver_follows_both_options(project: pytest.Pytester,
                                                   run: RunPytest) -> None:
    project.makepyfile(test_session="""
        from tcg_core import ShuffledExecutor
        from test_mut import append_to, fresh, pair

        def test_session(tcg_session_resolve):
            assert isinstance(tcg_session_resolve.executor, ShuffledExecutor)
            shared = fresh()
            tcg_session_resolve(pair(append_to(shared, "a"), append_to(shared, "b")))
    """, test_mut=MUTATING)
    result = run("--tcg-shuffle=3", "--tcg-check-mutation", "test_session.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*InputMutationError: node 'append_to'*"])

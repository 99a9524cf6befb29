"""``tcg_graph``: a recording Graph active for the test, resolved with the test's executor."""

from __future__ import annotations

import pytest

from .conftest import RunPytest


def test_records_every_future_the_test_creates(project: pytest.Pytester,
                                               run_both: RunPytest) -> None:
    project.makepyfile(test_graph="""
        from tcgpipes import add, inc, pipeline

        def test_records(tcg_graph):
            a = inc(1)
            unused = inc(10)
            total = add(a, 5)
            assert [f.name for f in tcg_graph.futures] == ["inc", "inc", "add"]
            assert tcg_graph.resolve() == [2, 11, 7]

        def test_nested_nodes_appear_after_the_run(tcg_graph):
            pipeline(10, 2, 5, 6)
            assert len(tcg_graph.nodes) == 1
            assert tcg_graph.resolve() == [-60]
            assert tcg_graph.nesting_tree() == {"pipeline": ["plus", "minus", "times"],
                                                "plus": ["_add"]}

        def test_fresh_graph_per_test(tcg_graph):
            assert tcg_graph.futures == []
    """)
    run_both().assert_outcomes(passed=3)


def test_fixtures_that_use_it_record_too(project: pytest.Pytester, run: RunPytest) -> None:
    project.makepyfile(test_fixture="""
        import pytest
        from tcgpipes import inc

        @pytest.fixture
        def start(tcg_graph):
            return inc(0)

        def test_sees_fixture_futures(start, tcg_graph):
            inc(start)
            assert tcg_graph.resolve() == [1, 2]
    """)
    run().assert_outcomes(passed=1)


@pytest.mark.parametrize(("args", "worker"), [
    (("--tcg-executor=serial",), "MainThread"),
    ((), "tcg-worker"),
])
def test_resolve_uses_the_test_executor(project: pytest.Pytester, run: RunPytest,
                                        args: tuple[str, ...], worker: str) -> None:
    project.makepyfile(test_exec=f"""
        from tcgpipes import nap

        def test_where(tcg_graph):
            nap(1, 0.001)
            tcg_graph.resolve()
            assert "{worker}" in tcg_graph.nodes[0].worker, tcg_graph.nodes[0].worker

        def test_explicit_executor_wins(tcg_graph):
            nap(1, 0.001)
            tcg_graph.resolve(executor="serial")
            assert "MainThread" in tcg_graph.nodes[0].worker
    """)
    run(*args).assert_outcomes(passed=2)


def test_recording_stops_after_the_test(project: pytest.Pytester, run: RunPytest) -> None:
    project.makepyfile(test_stop="""
        from tcg_core import Graph
        from tcgpipes import inc

        KEEP = []

        def test_one(tcg_graph):
            KEEP.append(tcg_graph)

        def test_two():
            inc(1)
            assert KEEP[0].futures == []
    """)
    run("-p", "no:randomly").assert_outcomes(passed=2)

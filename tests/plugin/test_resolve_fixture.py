"""``tcg_resolve``: resolve with the test's executor and keep the run for the diagram."""

from __future__ import annotations

import pytest

from .conftest import RunPytest


def test_values_for_futures_graphs_and_several_targets(project: pytest.Pytester,
                                                       run_both: RunPytest) -> None:
    project.makepyfile(test_values="""
        from tcg_core import Graph, NodeError
        import pytest
        from tcgpipes import add, inc, pipeline, twice

        def test_future(tcg_resolve):
            assert tcg_resolve(pipeline(10, 2, 5, 6)) == -60

        def test_graph(tcg_resolve):
            with Graph() as g:
                inc(1)
                twice(2)
            assert tcg_resolve(g) == [2, 6]

        def test_several_share_one_run(tcg_resolve):
            shared = inc(1)
            assert tcg_resolve(add(shared, 1), [inc(shared)]) == (3, [3])
            assert shared.node.attempts == 1

        def test_errors_propagate(tcg_resolve):
            with pytest.raises(NodeError, match="node 'add' failed"):
                tcg_resolve(add(inc(1), "x"))

        def test_needs_a_target(tcg_resolve):
            with pytest.raises(TypeError, match="needs a future"):
                tcg_resolve()
    """)
    run_both().assert_outcomes(passed=5)


def test_uses_the_marker_executor_and_passes_options(project: pytest.Pytester,
                                                     run: RunPytest) -> None:
    project.makepyfile(test_exec="""
        import pytest
        from tcg_core import NodeFailures
        from tcgpipes import add, inc, nap

        @pytest.mark.tcg(executor="serial")
        def test_serial(tcg_resolve):
            f = nap(1, 0.001)
            tcg_resolve(f)
            assert "MainThread" in f.node.worker

        def test_keep_going(tcg_resolve):
            with pytest.raises(NodeFailures, match="2 nodes failed"):
                tcg_resolve([add(1, "x"), add(2, "y"), inc(1)], keep_going=True)
    """)
    run().assert_outcomes(passed=2)


def test_resolved_graphs_become_the_test_diagram(project: pytest.Pytester,
                                                 run: RunPytest) -> None:
    project.makepyfile(test_diagram="""
        import pytest
        from tcgpipes import pipeline

        @pytest.fixture
        def built():
            return pipeline(10, 2, 5, 6)  # made outside the test body: not recorded

        def test_it(built, tcg_resolve):
            assert tcg_resolve(built) == -60
    """)
    run("--tcg-graph-out=out", "--tcg-graph-format=mmd").assert_outcomes(passed=1)
    text = (project.path / "out" / "test_diagram--test_it.mmd").read_text()
    for name in ("pipeline", "plus", "_add", "minus", "times"):
        assert name in text

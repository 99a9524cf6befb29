"""``tcg_executor`` and ``@pytest.mark.tcg``: which executor a test gets, and its shutdown."""

from __future__ import annotations

import pytest

from .conftest import RunPytest


def test_marker_beats_options(project: pytest.Pytester, run: RunPytest) -> None:
    project.makepyfile(test_marked="""
        import concurrent.futures
        import pytest

        @pytest.mark.tcg(executor="threads", workers=3)
        def test_keyword(tcg_executor):
            import tcg_core
            assert tcg_executor == tcg_core.ThreadsExecutor(max_workers=3)

        @pytest.mark.tcg("serial")
        def test_positional(tcg_executor):
            assert tcg_executor == "serial"

        @pytest.mark.tcg(workers=2)
        def test_workers_only_keeps_the_option_executor(tcg_executor):
            import tcg_core
            assert isinstance(tcg_executor, tcg_core.ProcessesExecutor)
            assert tcg_executor.max_workers == 2

        def test_unmarked_follows_the_option(tcg_executor):
            import tcg_core
            assert isinstance(tcg_executor, tcg_core.ProcessesExecutor)
    """)
    run("--tcg-executor=processes").assert_outcomes(passed=4)


def test_the_processes_fixture_still_answers_as_a_pool_with_a_deprecation_warning(
        project: pytest.Pytester, run: RunPytest) -> None:
    # It was a concurrent.futures.ProcessPoolExecutor: code that used it directly keeps
    # working for one release, warned (old behaviour kept behind a DeprecationWarning).
    project.makepyfile(test_legacy="""
        import operator
        import pytest
        from tcgpipes import twice

        @pytest.mark.tcg(executor="processes", workers=2)
        def test_submit(tcg_executor, tcg_resolve):
            with pytest.warns(DeprecationWarning, match="tcg_core.ProcessesExecutor"):
                assert tcg_executor.submit(operator.add, 2, 3).result() == 5
            with pytest.warns(DeprecationWarning):
                assert tcg_executor._max_workers == 2
            assert tcg_resolve(twice(1)) == 4
    """)
    run().assert_outcomes(passed=1)


def test_class_marker_applies_to_its_tests(project: pytest.Pytester, run: RunPytest) -> None:
    project.makepyfile(test_cls="""
        import pytest

        @pytest.mark.tcg(executor="serial")
        class TestSerial:
            def test_one(self, tcg_executor):
                assert tcg_executor == "serial"
    """)
    run().assert_outcomes(passed=1)


def test_marker_can_pass_an_executor_it_owns(project: pytest.Pytester, run: RunPytest) -> None:
    project.makepyfile(test_own="""
        import concurrent.futures
        import pytest
        from tcgpipes import twice

        POOL = concurrent.futures.ThreadPoolExecutor(2)

        @pytest.mark.tcg(executor=POOL)
        def test_uses_it(tcg_executor, tcg_resolve):
            assert tcg_executor is POOL
            assert tcg_resolve(twice(1)) == 4

        def test_not_shut_down():
            assert POOL.submit(int, "7").result() == 7
            POOL.shutdown()
    """)
    run("-p", "no:randomly").assert_outcomes(passed=2)


@pytest.mark.parametrize(("marker", "message"), [
    ("tcg(executor='gpu')", "@pytest.mark.tcg(executor='gpu'): unknown executor; use one of "
                            "serial, threads, processes, dask or pass an Executor"),
    ("tcg(worker=2)", "@pytest.mark.tcg got unknown argument(s) worker; it takes executor= "
                      "and workers="),
    ("tcg(workers=0)", "@pytest.mark.tcg(workers=0): expected a positive whole number"),
    ("tcg('serial', 'threads')", "@pytest.mark.tcg takes one executor: *"),
])
def test_bad_marker_errors_at_setup(project: pytest.Pytester, run: RunPytest, marker: str,
                                    message: str) -> None:
    project.makepyfile(test_bad=f"""
        import pytest

        @pytest.mark.{marker}
        def test_it(tcg_executor):
            pass
    """)
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_it*", message])


def test_executors_are_shut_down_at_teardown(project: pytest.Pytester, run: RunPytest) -> None:
    project.makepyfile(test_shutdown="""
        import pytest

        SEEN = []

        @pytest.mark.tcg(executor="processes", workers=1)
        def test_make(tcg_executor):
            SEEN.append(tcg_executor)

        def test_threads_are_the_engines_own(tcg_executor):
            import tcg_core  # its shared daemon threads exit when idle: nothing to close
            assert tcg_executor == tcg_core.ThreadsExecutor(max_workers=32)

        def test_check():
            for executor in SEEN:  # its worker processes were stopped at teardown
                assert "not started" in repr(executor)
                with pytest.warns(DeprecationWarning):
                    with pytest.raises(RuntimeError, match="shutdown"):
                        executor.submit(int, "1")
    """)
    run("-p", "no:randomly", "--tcg-executor=threads").assert_outcomes(passed=3)


def test_processes_executor_runs_the_pipeline(project: pytest.Pytester,
                                              run_sub: RunPytest) -> None:
    project.makepyfile(test_proc="""
        import os
        import pytest
        from tcgpipes import pipeline

        @pytest.mark.tcg(executor="processes", workers=2)
        def test_in_processes(tcg_resolve, tcg_graph):
            assert tcg_resolve(pipeline(10, 2, 5, 6)) == -60
            pids = {r.worker.split(":")[0] for r in tcg_graph.nodes}
            assert str(os.getpid()) not in pids
    """)
    run_sub().assert_outcomes(passed=1)

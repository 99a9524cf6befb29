"""``assert_ran_in_parallel``: the recorded intervals of the nodes overlapped.

Where a test needs bodies to overlap, they meet at a barrier: the overlap is then certain
however loaded the machine is, instead of likely because they sleep.
"""

from __future__ import annotations

import re
import threading
import time

import pytest

from pytest_tcg import assert_ran_in_parallel
from tcg_core import Graph, node

from .conftest import RunPytest


@node
def A() -> int:
    time.sleep(0.03)
    return 1


@node
def B(a: int) -> int:
    time.sleep(0.03)
    return a


@node
def C(a: int) -> int:
    time.sleep(0.03)
    return a


@node
def D(a: int) -> int:
    time.sleep(0.03)
    return a


@node
def E(*xs: int) -> int:
    return sum(xs)


_barrier = threading.Barrier(1)


@node
def meet(label: int) -> int:
    # Not instant: a body measured tiny runs in the scheduler's own thread, where waiting
    # at the barrier would stop the scheduler from starting the other parties.
    time.sleep(0.001)
    _barrier.wait(timeout=10)  # returns once every party is inside its body
    return label


@node
def alone(label: int) -> int:
    return label


def fan_out() -> Graph:
    with Graph() as g:
        a = A()
        E(B(a), C(a), D(a))
    return g


def test_parallel_branches_overlap() -> None:
    global _barrier
    _barrier = threading.Barrier(3)
    with Graph() as g:
        E(meet(1), meet(2), meet(3))
    g.resolve(executor="threads")
    assert_ran_in_parallel(g, "meet")
    first, second = g.nodes_named("meet")[:2]
    assert_ran_in_parallel(g, first, g.futures[2])
    assert_ran_in_parallel(g, second, "meet")


def test_a_dependency_never_overlaps_its_consumer() -> None:
    g = fan_out()
    g.resolve(executor="threads")
    with pytest.raises(AssertionError, match="A, B did not all run at the same time"):
        assert_ran_in_parallel(g, "A", "B")


def test_serial_run_fails_with_a_timeline() -> None:
    g = fan_out()
    g.resolve(executor="serial")
    with pytest.raises(AssertionError) as info:
        assert_ran_in_parallel(g, "B", "C", "D")
    lines = str(info.value).splitlines()
    assert lines[0] == "B, C, D did not all run at the same time (times from the first start):"
    order = [line.split()[0] for line in lines[1:4]]  # by start time
    assert sorted(order) == ["B", "C", "D"]
    assert "s ->" in lines[1] and "MainThread" in lines[1]
    assert re.fullmatch(rf"  {order[2]} started at \d\.\d{{3}} s, after {order[0]} had ended "
                        r"at \d\.\d{3} s", lines[4]), lines[4]
    assert lines[5] == "  at most 1 of them were running at once"
    assert lines[6].startswith("  they all ran on one worker (")
    assert lines[6].endswith("), the calling thread: the serial executor, or a resolve() "
                             "inside a node's body (which runs its graph inline)")


def test_two_workers_can_run_two_of_three() -> None:
    global _barrier
    _barrier = threading.Barrier(2)  # the two meet nodes must overlap; alone cannot join
    with Graph() as g:
        E(meet(1), meet(2), alone(3))
    g.resolve(executor="threads", max_workers=2)
    assert_ran_in_parallel(g, "meet")
    with pytest.raises(AssertionError, match="at most 2 of them were running at once"):
        assert_ran_in_parallel(g, "meet", "alone")


def test_nodes_that_did_not_run() -> None:
    g = fan_out()
    with pytest.raises(AssertionError, match=r"no recorded run.*: B \(pending\), C \(pending\)"):
        assert_ran_in_parallel(g, "B", "C")


def test_names_must_exist_and_be_several() -> None:
    g = fan_out()
    g.resolve(executor="threads")
    with pytest.raises(AssertionError, match=r"no node named 'X' in the graph \(names: A, B, C"):
        assert_ran_in_parallel(g, "B", "X")
    with pytest.raises(AssertionError, match="needs two or more nodes; B selects 1"):
        assert_ran_in_parallel(g, "B")


def test_user_sees_the_timeline(project: pytest.Pytester, run: RunPytest) -> None:
    project.makepyfile(test_par="""
        import pytest
        from pytest_tcg import assert_ran_in_parallel
        from tcgpipes import add, nap

        @pytest.mark.tcg(executor="serial")
        def test_par(tcg_graph):
            add(nap(1, 0.01), nap(2, 0.01))
            tcg_graph.resolve()
            assert_ran_in_parallel(tcg_graph, "nap")
    """)
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "E       AssertionError: nap, nap did not all run at the same time (times from the "
        "first start):",
        "E         nap    0.000 s ->   0.0* s  on *MainThread",
        "E         nap    0.0* s ->   0.0* s  on *MainThread",
        "E         nap started at 0.0* s, after nap had ended at 0.0* s",
    ])


# -- the cause the graph shows ---------------------------------------------------------

CAUSES = """
import threading
import time
import pytest
from pytest_tcg import assert_ran_in_parallel
from tcg_core import Graph, node

@node
def load():
    time.sleep(0.01)
    return 1

@node
def parse(x):
    time.sleep(0.01)
    return x

@node
def check(x):
    time.sleep(0.01)
    return x

@node
def stage(x):
    return check(x)

_lock = threading.Lock()
_both_started = threading.Barrier(2, timeout=10)

@node
def locked(i):
    _both_started.wait()  # both bodies are in flight before either takes the lock
    with _lock:
        time.sleep(0.02)
    return i

@pytest.mark.tcg(workers=8)
def test_a_data_dependency_on_a_pool_of_8(tcg_graph):
    parse(load())
    tcg_graph.resolve()
    assert_ran_in_parallel(tcg_graph, "load", "parse")

@pytest.mark.tcg(workers=8)
def test_through_nesting(tcg_graph):
    stage(parse(load()))
    tcg_graph.resolve()
    assert_ran_in_parallel(tcg_graph, "load", "check")

@pytest.mark.tcg(workers=1)
def test_one_worker(tcg_graph):
    load(), load()
    tcg_graph.resolve()
    assert_ran_in_parallel(tcg_graph, "load")

@pytest.mark.tcg(workers=2)
def test_a_lock_overlaps(tcg_graph):
    # Overlap proves the bodies were in flight at once, not that they made progress:
    # these wait on one lock and still overlap (assert_parallel_speedup tells them apart).
    locked(1), locked(2)
    tcg_graph.resolve()
    assert_ran_in_parallel(tcg_graph, "locked")
"""


def test_the_message_names_the_real_cause(project: pytest.Pytester,
                                          run_both: RunPytest) -> None:
    project.makepyfile(test_causes=CAUSES)
    result = run_both()
    result.assert_outcomes(passed=1, failed=3)
    text = result.stdout.str()
    result.stdout.fnmatch_lines([
        "E         parse cannot start before load ends, on any executor: parse takes load"])
    result.stdout.fnmatch_lines([
        "E         check cannot start before load ends, on any executor: parse takes load; "
        "stage takes parse; check is created by stage's body"])
    result.stdout.fnmatch_lines([
        "E         they all ran on one worker (*tcg-worker*) and the run used no other: a pool "
        "of one worker (max_workers=1, --tcg-workers=1)?"])
    # The old guess is gone from the data-dependency case: its pool had 8 workers.
    assert text.count("they all ran on one worker") == 1
    assert "was the executor serial" not in text

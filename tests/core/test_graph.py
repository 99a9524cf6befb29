"""The graph model's queries and the schedule simulation."""

from __future__ import annotations

import pytest

from tcg_core import Graph, node, simulate


@node(cost=1)
def step(label: str, *after: object) -> str:
    return label


@node(cost=3)
def heavy(label: str, *after: object) -> str:
    return label


def _diamond() -> Graph:
    with Graph() as g:
        a = step("a")
        b = heavy("b", a)
        c = step("c", a)
        step("d", b, c)
    return g


def test_queries_by_name_edges_and_roots() -> None:
    g = _diamond()
    assert [r.name for r in g.nodes] == ["step", "heavy", "step", "step"]
    assert g.node("heavy").name == "heavy"
    with pytest.raises(LookupError, match="3 nodes named"):
        g.node("step")
    with pytest.raises(LookupError, match="no nodes named 'nope'"):
        g.node("nope")
    assert len(g.edges()) == 4
    assert len(g.roots()) == 4  # no nesting: every node is top level
    assert g.children(g.nodes[0]) == [] and g.parent(g.nodes[0]) is None


def test_critical_path_by_cost_and_by_duration() -> None:
    g = _diamond()
    assert [r.name for r in g.critical_path("cost")] == ["step", "heavy", "step"]
    assert g.critical_path_length("cost") == 5.0
    assert g.critical_path_length("unit") == 3.0
    assert g.makespan() == 0.0 and g.total_work() == 0.0
    g.resolve(executor="serial")
    assert g.makespan() > 0 and g.total_work() > 0
    assert g.total_work() <= g.makespan() + 1e-9  # serial: no overlap
    with pytest.raises(ValueError, match="weight"):
        g.critical_path("bogus")


def test_critical_path_counts_a_parents_wait_for_its_children() -> None:
    @node(cost=10)
    def slow_child() -> int:
        return 1

    @node(cost=1)
    def parent() -> int:
        return slow_child()  # type: ignore[no-any-return]

    future = parent()
    future.resolve(executor="serial")
    # The child starts only once the parent's body returned: both bodies are on the path.
    assert [r.name for r in future.graph.critical_path("cost")] == ["parent", "slow_child"]
    assert future.graph.critical_path_length("cost") == 11.0


def test_simulation_follows_workers_and_policy() -> None:
    g = _diamond()
    assert simulate(g, workers=1, weight="cost").makespan == 6.0
    two = simulate(g, workers=2, weight="cost")
    assert two.makespan == 5.0
    assert two.speedup == pytest.approx(6 / 5)
    assert two.critical_path == 5.0
    with pytest.raises(ValueError):
        simulate(g, workers=0)
    with pytest.raises(ValueError):
        simulate(g, workers=1, policy="random")


def test_critical_path_first_beats_fifo_when_workers_are_scarce() -> None:
    with Graph() as g:
        root = step("root")
        # Created first, so FIFO runs these short nodes before the long chain's head.
        shorts = [step(f"s{i}", root) for i in range(3)]
        head = heavy("head", root)
        tail = heavy("tail", head)
        step("end", tail, *shorts)
    cp = simulate(g, workers=2, weight="cost", policy="critical-path").makespan
    fifo = simulate(g, workers=2, weight="cost", policy="fifo").makespan
    assert cp < fifo


def test_simulating_a_nested_graph_waits_for_children() -> None:
    @node(cost=2)
    def child() -> int:
        return 1

    @node(cost=1)
    def parent() -> list[int]:
        return [child(), child()]  # type: ignore[list-item]

    future = parent()
    assert future.resolve(executor="serial") == [1, 1]
    schedule = simulate(future.graph, workers=2, weight="cost")
    assert schedule.makespan == 3.0  # the body, then both children side by side
    assert simulate(future.graph, workers=1, weight="cost").makespan == 5.0


def test_one_graph_entered_in_two_threads_at_once_records_both_and_leaks_nothing() -> None:
    import threading

    from tcg_core._context import current_frame

    g = Graph()
    a_inside, b_inside, a_left = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []
    frames_after: dict[str, object] = {}

    def first() -> None:  # enters first and leaves first, while the other is inside
        try:
            with g:
                step("a")
                a_inside.set()
                assert b_inside.wait(10)
                step("a!")
            frames_after["a"] = current_frame()
        except BaseException as exc:
            errors.append(exc)
        finally:
            a_left.set()

    def second() -> None:
        try:
            assert a_inside.wait(10)
            with g:
                step("b")
                b_inside.set()
                assert a_left.wait(10)
                step("b!")
            frames_after["b"] = current_frame()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert frames_after == {"a": None, "b": None}, "a thread kept the recording frame"
    assert sorted(g.resolve(executor="serial")) == ["a", "a!", "b", "b!"]
    assert current_frame() is None


def test_leaving_a_graph_in_a_thread_that_did_not_enter_it_is_a_clear_error() -> None:
    import threading

    g = Graph()
    g.__enter__()
    try:
        problems: list[BaseException] = []

        def leave_here() -> None:
            try:
                g.__exit__(None, None, None)
            except BaseException as exc:
                problems.append(exc)

        thread = threading.Thread(target=leave_here)
        thread.start()
        thread.join(10)
        assert len(problems) == 1 and "not entered in this thread" in str(problems[0])
    finally:
        g.__exit__(None, None, None)

"""The fixtures: ``tcg_executor``, ``tcg_graph``, ``tcg_resolve`` and ``tcg_snapshot``.

The fixtures folder: this module holds the fixture functions; ``_objects`` what they
hand a test, ``_regression`` the ``tcg_regression`` fixture, ``_mock`` ``tcg_mock``, and
``_executor`` which executor a test gets.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from .._config import test_seed
from .._state import item_state, state_of
from ._executor import choose_executor, create_executor

if TYPE_CHECKING:

    from ._objects import TcgGraph, TcgResolve, TcgSessionResolve, TcgSnapshot
    from ._regression import TcgRegression

# The plugin loads this module in every pytest run: what the fixtures hand to a test
# (and tcg_core with it) is imported when a test first asks for one.
__all__ = ["tcg_executor", "tcg_graph", "tcg_resolve", "tcg_session_resolve", "tcg_snapshot"]

# -- tcg_executor ---------------------------------------------------------------------------

@pytest.fixture
def tcg_executor(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The executor for this test, to pass as ``executor=``.

    Chosen by ``@pytest.mark.tcg(executor=..., workers=...)``, else ``--tcg-executor`` and
    ``--tcg-workers`` (ini: ``tcg_executor``, ``tcg_workers``), else threads. It is the
    string ``"serial"`` for the serial executor and otherwise an executor the plugin
    created (a ``tcg_core.ThreadsExecutor``, a started ``tcg_core.ProcessesExecutor``,
    or a Dask client), shut down after the test.
    With ``--tcg-shuffle`` it is a ``tcg_core.ShuffledExecutor`` seeded for this test.
    """
    settings = state_of(request.config).settings
    if settings.shuffle is not None:  # --tcg-shuffle: every test in a random valid order
        from tcg_core import ShuffledExecutor

        yield ShuffledExecutor(seed=test_seed(settings.shuffle, request.node.nodeid))
        return
    choice = choose_executor(request.node, settings)
    executor, close = create_executor(choice)
    try:
        yield executor
    finally:
        if close is not None:
            close()


# -- tcg_graph ------------------------------------------------------------------------------

def _test_executor(request: pytest.FixtureRequest) -> Callable[[], Any]:
    # Asked for on first use, so a test that only builds a graph starts no pool.
    return lambda: request.getfixturevalue("tcg_executor")


@pytest.fixture
def tcg_graph(request: pytest.FixtureRequest) -> Iterator[TcgGraph]:
    """A recording ``tcg_core.Graph``, active for the test: every future the test creates
    is recorded in it. ``tcg_graph.resolve()`` runs them all with the test's executor;
    the graph is the test's diagram for ``--tcg-graph-out`` and ``tcg_snapshot``."""
    from ._objects import TcgGraph

    graph = TcgGraph(_test_executor(request),
                           check_mutation=state_of(request.config).settings.check_mutation)
    item_state(request.node).add(graph)
    with graph:
        yield graph


# -- tcg_resolve ----------------------------------------------------------------------------

@pytest.fixture
def tcg_resolve(request: pytest.FixtureRequest) -> TcgResolve:
    """``tcg_resolve(future)`` runs the graph with the test's executor and returns the
    value (``tcg_resolve(graph)``: the list of its futures' values), recording the run
    for the test's diagram. Keyword arguments go to ``tcg_core.resolve``."""
    from ._objects import TcgResolve

    item_state(request.node)  # registers the per-test hooks before the body runs
    return TcgResolve(request.node, _test_executor(request),
                    check_mutation=state_of(request.config).settings.check_mutation)


@pytest.fixture(scope="session")
def tcg_session_resolve(request: pytest.FixtureRequest) -> Iterator[TcgSessionResolve]:
    """``tcg_resolve`` for ``@given`` tests: session-scoped, so Hypothesis' health check
    for function-scoped fixtures does not fire, yet each call uses the running test's
    executor (marker, else options) and records into its diagram, which shows one
    example (the last run: the minimal failing one when the test fails)."""
    from ._objects import TcgSessionResolve

    state_of(request.config).use_reports()
    resolver = TcgSessionResolve(request.config)
    try:
        yield resolver
    finally:
        resolver.close()


# -- tcg_regression -------------------------------------------------------------------------

@pytest.fixture
def tcg_regression(request: pytest.FixtureRequest) -> TcgRegression:
    """``tcg_regression.check(target)`` records every node's value beside the test
    (``--tcg-snapshot-update`` writes it) and, later, names the first node whose value
    changed and what changed downstream because of it; see ``TcgRegression.check``."""
    from ._regression import TcgRegression

    config = request.config
    item_state(request.node)
    return TcgRegression(request.node, state_of(config).settings.snapshot_update,
                         state_of(config).stats, _test_executor(request))


# -- tcg_snapshot ---------------------------------------------------------------------------

@pytest.fixture
def tcg_snapshot(request: pytest.FixtureRequest) -> TcgSnapshot:
    """``tcg_snapshot()`` compares the test's graph (from ``tcg_graph`` and
    ``tcg_resolve``; or ``tcg_snapshot(graph)``) with its snapshot file in
    ``__tcg_snapshots__/`` next to the test: node names, nesting and data edges, not
    timings. ``--tcg-snapshot-update`` writes the file instead. A second call in the same
    test uses a second file; ``name=`` picks the file's suffix."""
    from ._objects import TcgSnapshot

    config = request.config
    item_state(request.node)
    state = state_of(config)
    return TcgSnapshot(request.node, state.settings.snapshot_update, state.stats)

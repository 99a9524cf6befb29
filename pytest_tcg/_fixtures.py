"""The fixtures: ``tcg_executor``, ``tcg_graph``, ``tcg_resolve`` and ``tcg_snapshot``."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from ._config import EXECUTORS, Settings, test_seed
from ._state import SETTINGS, STATS, ensure_reports, item_state

if TYPE_CHECKING:
    import concurrent.futures

    from ._fixture_objects import RecordingGraph, Resolver, SessionResolver, Snapshot

# The plugin loads this module in every pytest run: what the fixtures hand to a test
# (and tcg_core with it) is imported when a test first asks for one.
__all__ = ["tcg_executor", "tcg_graph", "tcg_resolve", "tcg_session_resolve", "tcg_snapshot",
           "ExecutorChoice",
           "choose_executor", "describe_executor", "default_workers"]

DEFAULT_THREADS = 32  # as tcg_core's executor="threads": threads are for work that waits
DASK_THREADS = 4  # threads of the one in-process Dask worker the plugin starts
MARKER_HELP = ("tcg(executor=None, workers=None): run this test's graphs with this executor "
               "(serial, threads, processes, dask, or an Executor you own) and this many "
               "workers; see the tcg_executor fixture")


# -- tcg_executor ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ExecutorChoice:
    """The executor a test asked for: a name or an object, and a worker count."""

    executor: Any
    workers: int | None
    source: str  # where the choice came from, for messages


def choose_executor(item: pytest.Item, settings: Settings) -> ExecutorChoice:
    """The ``tcg`` marker's choice, else ``--tcg-executor``/``--tcg-workers`` (or their
    ini keys), else threads."""
    options = _marker_options(item)
    executor = options.get("executor", settings.executor) or "threads"
    workers = options.get("workers", settings.workers)
    source = "@pytest.mark.tcg" if options else "--tcg-executor/--tcg-workers"
    return ExecutorChoice(executor, workers, source)


def _marker_options(item: pytest.Item) -> dict[str, Any]:
    marker = item.get_closest_marker("tcg")
    if marker is None:
        return {}
    options = dict(marker.kwargs)
    if len(marker.args) > 1 or (marker.args and "executor" in options):
        pytest.fail("@pytest.mark.tcg takes one executor: @pytest.mark.tcg('threads') or "
                    "@pytest.mark.tcg(executor='threads', workers=4)", pytrace=False)
    if marker.args:
        options["executor"] = marker.args[0]
    unknown = sorted(set(options) - {"executor", "workers"})
    if unknown:
        pytest.fail(f"@pytest.mark.tcg got unknown argument(s) {', '.join(unknown)}; it takes "
                    "executor= and workers=", pytrace=False)
    executor = options.get("executor")
    if isinstance(executor, str) and executor not in EXECUTORS:
        pytest.fail(f"@pytest.mark.tcg(executor={executor!r}): unknown executor; use one of "
                    f"{', '.join(EXECUTORS)} or pass an Executor", pytrace=False)
    workers = options.get("workers")
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool)
                                or workers < 1):
        pytest.fail(f"@pytest.mark.tcg(workers={workers!r}): expected a positive whole number",
                    pytrace=False)
    return options


def default_workers(executor: str) -> int:
    """How many workers the plugin gives an executor when no count is asked for."""
    if executor == "serial":
        return 1
    if executor == "processes":
        return os.cpu_count() or 2
    if executor == "dask":
        return DASK_THREADS
    return DEFAULT_THREADS


def describe_executor(executor: str | None, workers: int | None) -> str:
    """``threads, 32 workers``: what tests get unless their marker says otherwise.

    >>> describe_executor(None, None), describe_executor("serial", None)
    ('threads, 32 workers', 'serial, 1 worker')
    >>> describe_executor("dask", 2)
    'dask, 2 workers (threads of one in-process worker)'
    """
    name = executor or "threads"
    count = 1 if name == "serial" else workers or default_workers(name)
    text = f"{name}, {count} worker{'' if count == 1 else 's'}"
    return text + " (threads of one in-process worker)" if name == "dask" else text


def create_executor(choice: ExecutorChoice) -> tuple[Any, Callable[[], None] | None]:
    """What to pass as ``executor=``, and how to shut it down (``None``: not ours)."""
    name, workers = choice.executor, choice.workers
    if name == "serial":
        return "serial", None
    if name == "threads":
        # The engine's own threads executor, as a plain resolve() uses: tests run what
        # users run (its daemon threads are shared and exit when idle: nothing to close).
        from tcg_core import ThreadsExecutor

        return ThreadsExecutor(max_workers=workers or DEFAULT_THREADS), None
    import concurrent.futures  # only when a test asks for a pool

    if name == "processes":
        # forkserver: forking a process that runs threads is unsafe.
        method = "forkserver" if sys.platform.startswith("linux") else None
        import multiprocessing  # only when a test asks for processes

        pool: concurrent.futures.Executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers or default_workers("processes"),
            mp_context=multiprocessing.get_context(method))
        return pool, _shutdown(pool)
    if name == "dask":
        return _dask_client(workers)
    return name, None  # an executor the user passed in the marker: theirs to close


def _shutdown(pool: concurrent.futures.Executor) -> Callable[[], None]:
    # Queued bodies are cancelled; one still running (a node past its timeout) finishes in
    # the background instead of hanging the teardown.
    return lambda: pool.shutdown(wait=False, cancel_futures=True)


def _dask_client(workers: int | None) -> tuple[Any, Callable[[], None]]:
    try:
        import distributed
    except ImportError:
        pytest.fail("executor='dask' needs the distributed package: "
                    "pip install 'pytest-tcg[dask]'", pytrace=False)
    # ":0": a free port; None would still bind the default 8787 for the scheduler's HTTP
    # routes, and warn when another cluster (another test session) holds it.
    cluster = distributed.LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=1, threads_per_worker=workers or DASK_THREADS, processes=False,
        dashboard_address=":0")
    client = distributed.Client(cluster, set_as_default=False)  # type: ignore[no-untyped-call]

    def close() -> None:
        client.close()  # type: ignore[no-untyped-call]
        cluster.close()

    return client, close


@pytest.fixture
def tcg_executor(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The executor for this test, to pass as ``executor=``.

    Chosen by ``@pytest.mark.tcg(executor=..., workers=...)``, else ``--tcg-executor`` and
    ``--tcg-workers`` (ini: ``tcg_executor``, ``tcg_workers``), else threads. It is the
    string ``"serial"`` for the serial executor and otherwise an executor the plugin
    created (a thread or process pool, or a Dask client), shut down after the test.
    With ``--tcg-shuffle`` it is a ``tcg_core.ShuffledExecutor`` seeded for this test.
    """
    settings = request.config.stash[SETTINGS]
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
def tcg_graph(request: pytest.FixtureRequest) -> Iterator[RecordingGraph]:
    """A recording ``tcg_core.Graph``, active for the test: every future the test creates
    is recorded in it. ``tcg_graph.resolve()`` runs them all with the test's executor;
    the graph is the test's diagram for ``--tcg-graph-out`` and ``tcg_snapshot``."""
    from ._fixture_objects import RecordingGraph

    graph = RecordingGraph(_test_executor(request),
                           check_mutation=request.config.stash[SETTINGS].check_mutation)
    item_state(request.node).add(graph)
    with graph:
        yield graph


# -- tcg_resolve ----------------------------------------------------------------------------

@pytest.fixture
def tcg_resolve(request: pytest.FixtureRequest) -> Resolver:
    """``tcg_resolve(future)`` runs the graph with the test's executor and returns the
    value (``tcg_resolve(graph)``: the list of its futures' values), recording the run
    for the test's diagram. Keyword arguments go to ``tcg_core.resolve``."""
    from ._fixture_objects import Resolver

    item_state(request.node)  # registers the per-test hooks before the body runs
    return Resolver(request.node, _test_executor(request),
                    check_mutation=request.config.stash[SETTINGS].check_mutation)


@pytest.fixture(scope="session")
def tcg_session_resolve(request: pytest.FixtureRequest) -> Iterator[SessionResolver]:
    """``tcg_resolve`` for ``@given`` tests: session-scoped, so Hypothesis' health check
    for function-scoped fixtures does not fire, yet each call uses the running test's
    executor (marker, else options) and records into its diagram, which shows one
    example (the last run: the minimal failing one when the test fails)."""
    from ._fixture_objects import SessionResolver

    ensure_reports(request.config)
    resolver = SessionResolver(request.config)
    try:
        yield resolver
    finally:
        resolver.close()


# -- tcg_snapshot ---------------------------------------------------------------------------

@pytest.fixture
def tcg_snapshot(request: pytest.FixtureRequest) -> Snapshot:
    """``tcg_snapshot()`` compares the test's graph (from ``tcg_graph`` and
    ``tcg_resolve``; or ``tcg_snapshot(graph)``) with its snapshot file in
    ``__tcg_snapshots__/`` next to the test: node names, nesting and data edges, not
    timings. ``--tcg-snapshot-update`` writes the file instead. A second call in the same
    test uses a second file; ``name=`` picks the file's suffix."""
    from ._fixture_objects import Snapshot

    config = request.config
    item_state(request.node)
    return Snapshot(request.node, config.stash[SETTINGS].snapshot_update, config.stash[STATS])

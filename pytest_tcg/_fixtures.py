"""The fixtures: ``tcg_executor``, ``tcg_graph``, ``tcg_resolve`` and ``tcg_snapshot``."""

from __future__ import annotations

import concurrent.futures
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tcg_core import Graph, GraphModel, is_future, resolve

from ._config import EXECUTORS, Settings
from ._graphs import GraphLike, as_model, futures_of
from ._output import name_part, names_stem
from ._snapshot import (
    difference,
    dump,
    load,
    mismatch_message,
    missing_message,
    structure_of,
    write_atomically,
)
from ._state import SETTINGS, STATS, item_state
from ._stats import Stats

__all__ = ["tcg_executor", "tcg_graph", "tcg_resolve", "tcg_snapshot", "RecordingGraph",
           "Resolver", "Snapshot", "ExecutorChoice", "choose_executor"]

DEFAULT_THREADS = 32  # as tcg_core's executor="threads": threads are for work that waits
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


def create_executor(choice: ExecutorChoice) -> tuple[Any, Callable[[], None] | None]:
    """What to pass as ``executor=``, and how to shut it down (``None``: not ours)."""
    name, workers = choice.executor, choice.workers
    if name == "serial":
        return "serial", None
    if name == "threads":
        pool: concurrent.futures.Executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers or DEFAULT_THREADS, thread_name_prefix="tcg-test")
        return pool, _shutdown(pool)
    if name == "processes":
        # forkserver: forking a process that runs threads is unsafe.
        method = "forkserver" if sys.platform.startswith("linux") else None
        import multiprocessing  # only when a test asks for processes

        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers or os.cpu_count() or 2,
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
        n_workers=1, threads_per_worker=workers or 4, processes=False, dashboard_address=":0")
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
    """
    choice = choose_executor(request.node, request.config.stash[SETTINGS])
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


class RecordingGraph(Graph):
    """A recording ``Graph`` whose ``resolve()`` uses the test's executor by default."""

    def __init__(self, executor: Callable[[], Any]) -> None:
        super().__init__()
        self._test_executor = executor

    def resolve(self, executor: Any = None, **options: Any) -> list[Any]:
        return super().resolve(self._test_executor() if executor is None else executor,
                               **options)


@pytest.fixture
def tcg_graph(request: pytest.FixtureRequest) -> Iterator[RecordingGraph]:
    """A recording ``tcg_core.Graph``, active for the test: every future the test creates
    is recorded in it. ``tcg_graph.resolve()`` runs them all with the test's executor;
    the graph is the test's diagram for ``--tcg-graph-out`` and ``tcg_snapshot``."""
    graph = RecordingGraph(_test_executor(request))
    item_state(request.node).add(graph)
    with graph:
        yield graph


# -- tcg_resolve ----------------------------------------------------------------------------

class Resolver:
    """Resolves futures or graphs with the test's executor and keeps them for the test's
    diagram. One future gives its value, one Graph the list of its values, several
    targets a tuple of those."""

    def __init__(self, item: pytest.Item, executor: Callable[[], Any]) -> None:
        self._item = item
        self._executor = executor

    @property
    def executor(self) -> Any:
        """The test's executor (the ``tcg_executor`` fixture)."""
        return self._executor()

    def __call__(self, *targets: Any, **options: Any) -> Any:
        __tracebackhide__ = True
        if not targets:
            raise TypeError("tcg_resolve() needs a future, a Graph or a list of futures")
        if options.get("executor") is None:
            options["executor"] = self.executor
        state = item_state(self._item)
        for target in targets:
            state.add(target)
        everything = [f for target in targets for f in futures_of(target)]
        resolve(*everything, **options)  # one run, so shared nodes run once
        values = [self._value(target, options) for target in targets]
        return values[0] if len(values) == 1 else tuple(values)

    @staticmethod
    def _value(target: Any, options: dict[str, Any]) -> Any:
        if is_future(target):
            return target.resolve(**options)
        if isinstance(target, Graph):
            return [f.resolve(**options) for f in target.futures]
        return [Resolver._value(t, options) for t in target]


@pytest.fixture
def tcg_resolve(request: pytest.FixtureRequest) -> Resolver:
    """``tcg_resolve(future)`` runs the graph with the test's executor and returns the
    value (``tcg_resolve(graph)``: the list of its futures' values), recording the run
    for the test's diagram. Keyword arguments go to ``tcg_core.resolve``."""
    return Resolver(request.node, _test_executor(request))


# -- tcg_snapshot ---------------------------------------------------------------------------

class Snapshot:
    """Compares a graph's structure with the test's snapshot file; see ``tcg_snapshot``."""

    def __init__(self, item: pytest.Item, update: bool, stats: Stats) -> None:
        self._item = item
        self._update = update
        self._stats = stats

    def path(self, name: str | None = None) -> Path:
        """The snapshot file for ``name`` (the test's own file when ``None``)."""
        item = self._item
        test_name = names_stem(item.nodeid.partition("::")[2] or item.name)
        suffix = "" if name is None else "." + _check_name(name)
        folder = Path(item.path).parent / "__tcg_snapshots__" / Path(item.path).stem
        return folder / f"{test_name}{suffix}.json"

    def __call__(self, graph: GraphLike = None, *, name: str | None = None) -> None:
        __tracebackhide__ = True
        state = item_state(self._item)
        if name is None:
            state.snapshot_calls += 1
            if state.snapshot_calls > 1:
                name = str(state.snapshot_calls)
        model = self._model(graph)
        self.check(model, self.path(name))

    def _model(self, graph: GraphLike) -> GraphModel:
        if graph is not None:
            return as_model(graph)
        model = item_state(self._item).model()
        if model is None:
            pytest.fail("tcg_snapshot() found no graph for this test: build it in the "
                        "tcg_graph fixture, resolve it with tcg_resolve, or pass it: "
                        "tcg_snapshot(graph)", pytrace=False)
        return model

    def check(self, model: GraphModel, path: Path) -> None:
        __tracebackhide__ = True
        actual = structure_of(model)
        stored_text = path.read_text(encoding="utf-8") if path.exists() else None
        stored = self._parse(path, stored_text)
        if self._update:
            if stored is None or difference(stored, actual) is not None:
                write_atomically(path, dump(actual))
                self._stats.snapshots_written += 1
            else:
                self._stats.snapshots_passed += 1
            return
        if stored is None:
            self._stats.snapshots_failed += 1
            pytest.fail(missing_message(self._shown(path)), pytrace=False)
        diff = difference(stored, actual)
        if diff is not None:
            self._stats.snapshots_failed += 1
            pytest.fail(mismatch_message(self._shown(path), diff), pytrace=False)
        self._stats.snapshots_passed += 1

    def _parse(self, path: Path, text: str | None) -> Any:
        """The stored structure; a corrupt file fails the test with one line (and is
        simply rewritten under --tcg-snapshot-update)."""
        if text is None:
            return None
        try:
            return load(text)
        except (ValueError, KeyError, TypeError) as exc:
            if self._update:
                return None
            self._stats.snapshots_failed += 1
            pytest.fail(f"graph snapshot {self._shown(path)} is unreadable ({exc}); delete it "
                        "or run pytest with --tcg-snapshot-update to rewrite it", pytrace=False)

    def _shown(self, path: Path) -> str:
        root = self._item.config.rootpath
        try:
            return str(path.relative_to(root))
        except ValueError:
            return str(path)


def _check_name(name: str) -> str:
    text, ok = name_part(name)
    if not ok or "--" in text:
        raise ValueError(f"snapshot name {name!r}: use letters, digits, '_' and '.'")
    return text


@pytest.fixture
def tcg_snapshot(request: pytest.FixtureRequest) -> Snapshot:
    """``tcg_snapshot()`` compares the test's graph (from ``tcg_graph`` and
    ``tcg_resolve``; or ``tcg_snapshot(graph)``) with its snapshot file in
    ``__tcg_snapshots__/`` next to the test: node names, nesting and data edges, not
    timings. ``--tcg-snapshot-update`` writes the file instead. A second call in the same
    test uses a second file; ``name=`` picks the file's suffix."""
    config = request.config
    return Snapshot(request.node, config.stash[SETTINGS].snapshot_update, config.stash[STATS])

"""Which executor a test gets, and making it: the ``tcg`` marker, else ``--tcg-executor``
and ``--tcg-workers`` (or their ini keys), else threads. Used by the ``tcg_executor``
fixture and by the resolvers the other fixtures hand out.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from .._config import EXECUTORS
from .._settings import Settings

if TYPE_CHECKING:
    import concurrent.futures

__all__ = ["DASK_THREADS", "DEFAULT_THREADS", "MARKER_HELP", "ExecutorChoice",
           "choose_executor", "create_executor", "default_workers", "describe_executor"]

# tcg_core.DEFAULT_THREAD_WORKERS, copied: the session header names it before any test
# runs, and loading the plugin imports no engine code (a test keeps the two equal).
DEFAULT_THREADS = 32
DASK_THREADS = 4  # threads of the one in-process Dask worker the plugin starts
MARKER_HELP = ("tcg(executor=None, workers=None): run this test's graphs with this executor "
               "(serial, threads, processes, dask, or an Executor you own) and this many "
               "workers; see the tcg_executor fixture")


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

        return ThreadsExecutor(max_workers=workers or default_workers("threads")), None

    if name == "processes":  # the engine's own worker processes, up for the whole test
        pool = _processes_for_tests()(max_workers=workers or default_workers("processes"))
        return pool.start(), pool.shutdown
    if name == "dask":
        return _dask_client(workers)
    return name, None  # an executor the user passed in the marker: theirs to close


@functools.cache
def _processes_for_tests() -> type[Any]:
    """``tcg_core.ProcessesExecutor`` that still answers, for one release and with a
    ``DeprecationWarning``, what the ``concurrent.futures.ProcessPoolExecutor`` this
    fixture used to be answered (``submit``, ``map``, ``_max_workers``), through a pool
    of its own made on first use."""
    import warnings

    from tcg_core import ProcessesExecutor

    class ProcessesForTests(ProcessesExecutor):
        __slots__ = ("_closed", "_legacy")

        def __init__(self, max_workers: int) -> None:
            super().__init__(max_workers=max_workers)
            self._legacy: concurrent.futures.ProcessPoolExecutor | None = None
            self._closed = False  #: shut down at the test's teardown

        def __getattr__(self, name: str) -> Any:
            if name not in ("submit", "map", "_max_workers"):
                raise AttributeError(name)
            warnings.warn(
                f"tcg_executor.{name}: for executor='processes' the fixture is a "
                "tcg_core.ProcessesExecutor (tcg's own worker processes, which keep values "
                "where they were made), no longer a concurrent.futures.ProcessPoolExecutor; "
                "pass it as executor=, or create a ProcessPoolExecutor of your own for "
                "direct use (this fallback goes in 0.4)", DeprecationWarning, stacklevel=2)
            if name == "_max_workers":
                return self.max_workers
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if self._legacy is None:
                import concurrent.futures
                import multiprocessing

                method = "forkserver" if sys.platform.startswith("linux") else None
                self._legacy = concurrent.futures.ProcessPoolExecutor(
                    max_workers=self.max_workers,
                    mp_context=multiprocessing.get_context(method))
            return getattr(self._legacy, name)

        def shutdown(self) -> None:
            super().shutdown()
            self._closed = True
            if self._legacy is not None:
                self._legacy.shutdown(wait=False, cancel_futures=True)

    return ProcessesForTests


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

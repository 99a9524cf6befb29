"""Which executor a test gets, and making it: the ``tcg`` marker, else ``--tcg-executor``
and ``--tcg-workers`` (or their ini keys), else threads. Used by the ``tcg_executor``
fixture and by the resolvers the other fixtures hand out.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from ._config import EXECUTORS, Settings

if TYPE_CHECKING:
    import concurrent.futures

__all__ = ["DASK_THREADS", "DEFAULT_THREADS", "MARKER_HELP", "ExecutorChoice",
           "choose_executor", "create_executor", "default_workers", "describe_executor"]

DEFAULT_THREADS = 32  # as tcg_core's executor="threads": threads are for work that waits
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

"""Executors: where node bodies run.

Each adapter offers ``submit(spec, args, kwargs, events, key)``: run the body via
``run_body`` somewhere and put ``(key, ok, payload)`` on ``events`` when it ends.
The scheduler never blocks on an adapter; it only waits on its own event queue.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from typing import Any

from .._errors import TcgError, did_you_mean
from ._base import Adapter, SerialAdapter
from ._processes import ProcessesExecutor
from ._shuffled import ShuffledExecutor, shuffled_adapter
from ._threads import DEFAULT_THREAD_WORKERS, ThreadsAdapter, ThreadsExecutor

__all__ = ["DEFAULT_THREAD_WORKERS", "EXECUTOR_NAMES", "Adapter", "ProcessesExecutor",
           "ShuffledExecutor", "ThreadsExecutor", "check_executor", "make_adapter"]

EXECUTOR_NAMES = ("serial", "threads", "processes", "dask")


def default_thread_workers() -> int:
    """Threads are for waiting work (I/O, sleeps, C code), so allow more than cores."""
    return DEFAULT_THREAD_WORKERS


def _is_dask_client(executor: Any) -> bool:
    return type(executor).__module__.startswith("distributed") and hasattr(executor,
                                                                            "get_executor")


def check_executor(where: str, executor: Any) -> None:
    """Refuse what cannot be an ``executor=`` before anything runs (also for a resolve
    nested in a body, which runs inline whatever it was given)."""
    if executor is None or isinstance(executor, (Adapter, ThreadsExecutor, ShuffledExecutor,
                                                 ProcessesExecutor)):
        return
    if isinstance(executor, str):
        if executor in EXECUTOR_NAMES:
            return
    elif _is_dask_client(executor):
        return
    else:
        import concurrent.futures

        if isinstance(executor, concurrent.futures.Executor):
            return
    names = ", ".join(map(repr, EXECUTOR_NAMES))
    hint = did_you_mean(executor, EXECUTOR_NAMES) if isinstance(executor, str) else ""
    raise TcgError(f"{where}: unknown executor {executor!r:.80}{hint}: use one of {names}, "
                   "a tcg_core.ThreadsExecutor, a tcg_core.ProcessesExecutor, a "
                   "tcg_core.ShuffledExecutor, a "
                   "concurrent.futures.Executor, or a distributed.Client")


def make_adapter(executor: Any, max_workers: int | None) -> Adapter:
    """Turn what the user passed as ``executor=`` (checked) into an adapter."""
    if executor is None or executor == "threads":
        return ThreadsAdapter(max_workers or default_thread_workers())
    if isinstance(executor, ThreadsExecutor):
        return ThreadsAdapter(max_workers or executor.max_workers)
    if executor == "serial":
        return SerialAdapter()
    if isinstance(executor, ShuffledExecutor):
        return shuffled_adapter(executor, max_workers)
    from ._pool import PoolAdapter, ProcessAdapter  # multiprocessing only when needed

    if executor == "processes" or isinstance(executor, ProcessesExecutor):
        from ._processes import ProcessesAdapter

        return ProcessesAdapter.configured(
            executor if isinstance(executor, ProcessesExecutor) else None, max_workers)
    if executor == "dask":
        from ._dask import dask_adapter

        return dask_adapter(None, max_workers)
    if isinstance(executor, Adapter):
        return executor
    if _is_dask_client(executor):
        from ._dask import dask_adapter

        return dask_adapter(executor, max_workers)
    import concurrent.futures

    if isinstance(executor, concurrent.futures.ProcessPoolExecutor):
        return ProcessAdapter(executor, owned=False)
    if isinstance(executor, concurrent.futures.Executor):
        return PoolAdapter(executor, owned=False)
    check_executor("resolve()", executor)
    raise TcgError(f"internal error: no adapter for executor {executor!r:.80}")

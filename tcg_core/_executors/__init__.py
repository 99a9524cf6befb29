"""Executors: where node bodies run.

Each adapter offers ``submit(spec, args, kwargs, events, key)``: run the body via
``run_body`` somewhere and put ``(key, ok, payload)`` on ``events`` when it ends.
The scheduler never blocks on an adapter; it only waits on its own event queue.
"""

from __future__ import annotations

import os
from typing import Any

from .._errors import TcgError
from ._base import Adapter, SerialAdapter
from ._threads import ThreadsAdapter

__all__ = ["EXECUTOR_NAMES", "Adapter", "make_adapter"]

EXECUTOR_NAMES = ("serial", "threads", "processes", "dask")


def default_thread_workers() -> int:
    """Threads are for waiting work (I/O, sleeps, C code), so allow more than cores."""
    return 32


def make_adapter(executor: Any, max_workers: int | None) -> Adapter:
    """Turn what the user passed as ``executor=`` into an adapter."""
    if max_workers is not None and (not isinstance(max_workers, int) or max_workers < 1):
        raise ValueError(f"max_workers must be a positive int, got {max_workers!r}")
    if executor is None or executor == "threads":
        return ThreadsAdapter(max_workers or default_thread_workers())
    if executor == "serial":
        return SerialAdapter()
    from ._pool import PoolAdapter, ProcessAdapter  # multiprocessing only when needed

    if executor == "processes":
        return ProcessAdapter.owned(max_workers or os.cpu_count() or 2)
    if executor == "dask":
        from ._dask import dask_adapter

        return dask_adapter(None, max_workers)
    if isinstance(executor, Adapter):
        return executor
    if type(executor).__module__.startswith("distributed") and hasattr(executor, "get_executor"):
        from ._dask import dask_adapter

        return dask_adapter(executor, max_workers)
    import concurrent.futures

    if isinstance(executor, concurrent.futures.ProcessPoolExecutor):
        return ProcessAdapter(executor, owned=False)
    if isinstance(executor, concurrent.futures.Executor):
        return PoolAdapter(executor, owned=False)
    names = ", ".join(map(repr, EXECUTOR_NAMES))
    raise TcgError(f"unknown executor {executor!r}: use one of {names}, "
                   "a concurrent.futures.Executor, or a distributed.Client")

"""Dask: run node bodies on a ``distributed`` cluster (optional extra ``pytest-tcg[dask]``).

Two ways in. A plain resolve hands the graph over (``send``): every node is one Dask
task whose inputs on the cluster are Dask dependencies, sent in batches, so values go
worker to worker and the client hears only of completions (``_remote`` is what the
task runs). A resolve with callbacks, a cache or mutation checks goes node by node
through the client's ``concurrent.futures`` facade (``submit``), as on processes.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import contextlib
import functools
from queue import SimpleQueue
from typing import Any

from .._context import Err
from .._errors import ClusterGone, ResolveCancelled, TcgError
from ._pool import ProcessAdapter
from ._remote import RemoteCall, TaskFailed, bodies_ended, run_task, take

_CLOSED_FIX = ("pass a connected client (or executor='dask' to start a local cluster)")


class DaskAdapter(ProcessAdapter):
    """Bodies run as Dask tasks: whole parts of the graph (``send``), or one by one
    through the client's ``concurrent.futures`` facade (``submit``)."""

    name = "dask"
    #: the scheduler may hand nodes over before their inputs are done (see ``send``)
    hands_over = True

    def __init__(self, client: Any, *, owned: bool, workers: int | None,
                 checked: bool = True) -> None:
        self._client = client
        if checked and getattr(client, "status", "running") != "running":
            raise ResolveCancelled(
                f"the distributed.Client passed to resolve() is {client.status}; "
                f"{_CLOSED_FIX}")
        threads = workers or sum(client.nthreads().values()) or 1
        super().__init__(client.get_executor(pure=False), owned=False, workers=threads)
        self._owns_client = owned
        self.kills_on_cancel = owned
        #: the Dask future of every task sent with ``send`` and not released yet
        self._futures: dict[str, Any] = {}

    @classmethod
    def in_worker(cls) -> DaskAdapter:
        """The adapter of a resolve run by a task on a Dask worker (its children)."""
        import distributed

        # A worker's own client may still be starting ("newly-created"): it serves
        # requests once it is connected, so it is not refused like a user's closed one.
        return cls(distributed.get_client(), owned=False, workers=1, checked=False)

    # -- handing the graph over ----------------------------------------------------------
    def send(self, tasks: list[tuple[RemoteCall, list[str]]], events: SimpleQueue[Any],
             event_keys: list[Any]) -> None:
        """Submit ``(call, dependency keys)`` tasks as one graph; each one's end is put
        on ``events`` as ``(event key, ok, None or the exception)``. A dependency is a
        task of this batch or one sent before."""
        from dask.task_spec import Task, TaskRef

        futures = self._futures
        graph = {call.key: Task(call.key, run_task, call,
                                *[futures.get(k) or TaskRef(k) for k in deps])
                 for call, deps in tasks}
        try:
            sent = self._client.get(_named(graph), list(graph), sync=False)
        except Exception as exc:
            if getattr(self._client, "status", "running") != "running":
                raise ResolveCancelled(f"the distributed.Client is {self._client.status}; "
                                       f"{_CLOSED_FIX}") from exc
            raise
        for (call, _), future, event_key in zip(tasks, sent, event_keys, strict=True):
            futures[call.key] = future
            future.add_done_callback(functools.partial(_tell, events, event_key))

    def gather(self, keys: list[str]) -> list[Any]:
        """The values of tasks sent with ``send``, fetched in one request."""
        return self._client.gather([self._futures[k] for k in keys])  # type: ignore[no-any-return]

    def collect(self, token: str) -> list[tuple[str, tuple[Any, ...]]]:
        """When and where every task of the resolve ``token`` ran, from every worker in
        one request (see ``_remote.take``)."""
        found = self._client.run(take, token, on_error="ignore")
        return [entry for entries in found.values() for entry in entries]

    def bodies_ended(self, keys: list[str]) -> set[str]:
        """Of these tasks (of nodes with ``timeout=``), those whose body has ended and
        whose children are running: asked of every worker in one request."""
        found = self._client.run(bodies_ended, keys, on_error="ignore")
        return {key for keys_found in found.values() if isinstance(keys_found, list)
                for key in keys_found}

    def cancel(self, keys: list[str]) -> None:
        """Stop tasks sent with ``send`` (a stopped resolve)."""
        futures = [self._futures[k] for k in keys if k in self._futures]
        if futures and getattr(self._client, "status", None) == "running":
            self._client.cancel(futures)

    def release(self, keys: list[str]) -> None:
        """Let the cluster forget these tasks' values (nothing here needs them)."""
        futures = self._futures
        for key in keys:
            future = futures.pop(key, None)
            if future is not None:
                future.release()

    def close(self, *, cancel: bool) -> None:
        if self._owns_client:
            cluster = getattr(self._client, "cluster", None)
            self._client.close()
            if cluster is not None:
                _close_worker_clients(cluster)
                cluster.close()


def _named(graph: dict[str, Any]) -> Any:
    """``graph`` as Dask's low-level graph expression, named by its first key.

    Given a dict, ``Client.get`` names the graph by hashing every task, which costs
    more than running a no-op node (about 0.2 ms per task). Our keys are unique
    already, so the expression is made here with a name (``_determ_token``). That is
    Dask's own private constructor: without it, the plain dict goes (slower, same
    result).
    """
    try:
        from dask._expr import LLGExpr

        return LLGExpr(graph, _determ_token=next(iter(graph)))  # type: ignore[no-untyped-call]
    except Exception:  # another Dask version: let Client.get hash the graph
        return graph


def _close_worker_clients(cluster: Any) -> None:
    """Close the clients our own in-process workers made for bodies that created
    children (``distributed.get_client()`` in a task): each runs an event loop thread
    and holds sockets that closing the cluster leaves behind (2 threads and 3 file
    descriptors per resolve). Reached through the worker's ``_client``, which Dask
    documents nowhere: without it, nothing is closed, as before."""
    for worker in list(getattr(cluster, "workers", {}).values()):
        client = getattr(worker, "_client", None)
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()


def _tell(events: SimpleQueue[Any], event_key: Any, future: Any) -> None:
    """A sent task ended: report it (its value stays on the cluster)."""
    try:
        status = future.status
        if status == "finished":
            events.put((event_key, True, None))
            return
        if status == "cancelled":
            client = getattr(future.client, "status", "running")
            if client != "running":  # the whole resolve stops; its nodes stay pending
                events.put((event_key, False, Err(ClusterGone(
                    f"the resolve stopped: the distributed.Client was shut down while it "
                    f"ran (it is {client}); {_CLOSED_FIX}"))))
                return
            events.put((event_key, False, Err(ResolveCancelled(
                "its Dask task was cancelled: it was cancelled on the cluster "
                "(client.cancel, or a scheduler restart)"))))
            return
        error = future.exception()
        trace = future.traceback()
        if trace is not None and error.__traceback__ is None:
            error = error.with_traceback(trace)
    except BaseException as exc:  # the client broke while we asked: say so, never hang
        error = exc
    events.put((event_key, False, received(error)))


def received(error: BaseException) -> Err:
    """A task's exception as the scheduler's outcome: a ``TaskFailed`` unwrapped (its
    traceback kept on the user's exception), a ``KilledWorker`` blamed on its task."""
    if isinstance(error, TaskFailed):
        inner = error.error
        if inner.__traceback__ is None and error.__traceback__ is not None:
            inner = inner.with_traceback(error.__traceback__)
        return Err(inner, error.ran, error.key)
    if type(error).__name__ == "KilledWorker":
        blame = getattr(error, "task", None)
        return Err(error, None, str(blame) if blame is not None else None)
    return Err(error)


def dask_adapter(client: Any, max_workers: int | None) -> DaskAdapter:
    """Use ``client``, else the current default client, else a local cluster of our own."""
    try:
        import distributed
    except ImportError as exc:
        raise TcgError("executor='dask' needs the distributed package: "
                       "pip install 'pytest-tcg[dask]'") from exc
    owned = False
    if client is None:
        try:
            client = distributed.get_client()
        except ValueError:
            cluster = distributed.LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=1, threads_per_worker=max_workers or 8, processes=False,
                dashboard_address="127.0.0.1:0")  # any free port: never collide on 8787
            client = distributed.Client(  # type: ignore[no-untyped-call]
                cluster, set_as_default=False)
            owned = True
    return DaskAdapter(client, owned=owned, workers=max_workers)

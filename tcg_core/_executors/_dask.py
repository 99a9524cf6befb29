"""Dask: run node bodies on a ``distributed`` cluster (optional extra ``pytest-tcg[dask]``)."""

from __future__ import annotations

from typing import Any

from .._errors import ResolveCancelled, TcgError
from ._pool import ProcessAdapter


class DaskAdapter(ProcessAdapter):
    """Bodies run as Dask tasks through the client's ``concurrent.futures`` facade."""

    name = "dask"

    def __init__(self, client: Any, *, owned: bool, workers: int | None) -> None:
        self._client = client
        if getattr(client, "status", "running") != "running":
            raise ResolveCancelled(
                f"the distributed.Client passed to resolve() is {client.status}; pass a "
                "connected client (or executor='dask' to start a local cluster)")
        threads = sum(client.nthreads().values()) or 1
        super().__init__(client.get_executor(pure=False), owned=False,
                         workers=workers or threads)
        self._owns_client = owned
        self.kills_on_cancel = owned

    def close(self, *, cancel: bool) -> None:
        if self._owns_client:
            cluster = getattr(self._client, "cluster", None)
            self._client.close()
            if cluster is not None:
                cluster.close()


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

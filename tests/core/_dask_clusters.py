"""Local Dask clusters on loopback for the Dask tests (``distributed`` is imported when a
cluster is made, so the module imports without the dask extra).

``processes=False`` clusters talk over in-process queues unless told otherwise, and that
transport refuses ``host=``: the thread-worker cluster is asked for ``protocol="tcp"``.
``"127.0.0.1:0"`` as the dashboard address asks for any free loopback port.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any


def loopback_cluster(processes: bool, **extra: Any) -> Any:
    """A ``LocalCluster`` of 2 workers × 2 threads on 127.0.0.1."""
    import distributed

    options: dict[str, Any] = dict(n_workers=2, threads_per_worker=2, processes=processes,
                                   dashboard_address="127.0.0.1:0", host="127.0.0.1",
                                   silence_logs=logging.CRITICAL)
    if not processes:
        options["protocol"] = "tcp"
    options.update(extra)
    return distributed.LocalCluster(**options)


def clients(kind: str) -> Iterator[Any]:
    """A client of a new loopback cluster of thread or process workers, closed after."""
    import distributed

    cluster = loopback_cluster(processes=kind == "process-workers")
    with distributed.Client(cluster, set_as_default=False) as client:
        yield client
    cluster.close()

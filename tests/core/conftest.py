"""Fixtures shared by the engine's tests."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    """A client of a local Dask cluster with one process worker (on loopback), per
    module: values cross a real process boundary there."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                       dashboard_address="127.0.0.1:0", host="127.0.0.1",
                                       silence_logs=logging.CRITICAL)
    with distributed.Client(cluster, set_as_default=False) as client:
        yield client
    cluster.close()


@pytest.fixture
def sigint() -> Iterator[None]:
    """Python's own SIGINT handler (KeyboardInterrupt) for the test, whatever runs pytest."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)

"""Fixtures shared by the engine's and the plugin's tests."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest

# The engine's validate mode (tcg_core._scheduler._transitions): every state change of
# every resolve in the suite, pytester's runs included, is checked against the
# transition table. Set before any test runs; a test that needs it off says so itself.
os.environ.setdefault("TCG_VALIDATE", "1")


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


#: Every executor a behaviour is proven on (see DEVELOPERS: serial, threads, processes, a
#: shuffled order and Dask, an in-process loopback cluster with one process worker).
EXECUTOR_KINDS = ["serial", "threads", "processes", "shuffled", "dask"]


@pytest.fixture(params=EXECUTOR_KINDS)
def every_executor(request: pytest.FixtureRequest) -> Any:
    """The value to pass as ``executor=``, once for each of ``EXECUTOR_KINDS``."""
    if request.param == "shuffled":
        from tcg_core import ShuffledExecutor

        return ShuffledExecutor(seed=7)
    if request.param == "dask":
        return request.getfixturevalue("dask_client")
    return request.param


@pytest.fixture(scope="session", autouse=True)
def no_shared_memory_left_behind() -> Iterator[None]:
    """Every resolve of the session removed its shared-memory directory (the data plane
    of ``executor="processes"``): checked once, when the session's tests are done."""
    import os

    yield
    from tcg_core._executors._shared import run_directories

    left = [name for name, pid in run_directories() if pid == os.getpid()]
    assert not left, f"shared-memory directories left behind by this session: {left}"

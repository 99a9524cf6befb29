"""Module-level nodes passing real data (NumPy arrays, bytearrays), for the data plane's
tests: a worker process finds a node by module and name."""

from __future__ import annotations

import os
import signal
from typing import Any

import numpy as np

from tcg_core import node
from tests.core._nodes_for_processes import note_run


@node
def zeros(n: int) -> Any:
    return np.zeros(n)


@node
def inc(x: Any) -> Any:
    return x + 1.0


@node
def total(x: Any) -> float:
    return float(np.asarray(x).sum())


@node
def where(x: Any) -> tuple[int, float]:
    """The process it ran in, and its input's sum: which worker a consumer went to."""
    return os.getpid(), float(x.sum())


@node(nout=2)
def made_at(n: int, log_dir: str) -> tuple[Any, int]:
    """An array and the process that made (and holds) it; each run noted."""
    note_run(log_dir, "made_at")
    return np.arange(n, dtype=np.float64), os.getpid()


@node(retries=1)
def kill(pid: int) -> str:
    """SIGKILL the process ``pid``; if that is this one, the retry finds it gone."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return "gone already"
    return "killed"


@node
def after(x: Any, *gates: Any) -> float:
    return float(x.sum())


@node
def mutate_first(x: Any) -> float:
    x[0] = -1.0
    return float(x[0])


@node
def first(x: Any, *after: Any) -> float:
    return float(x[0])


@node
def blob(n: int) -> bytearray:
    return bytearray(b"x" * n)


@node
def length(x: Any) -> int:
    return len(x)


class Unpicklable:
    """Holds a lock: it never leaves the process that made it."""

    def __init__(self, n: int) -> None:
        import threading

        self.lock = threading.Lock()
        self.n = n


@node
def unpicklable(n: int) -> Unpicklable:
    return Unpicklable(n)


@node
def n_of(x: Unpicklable) -> int:
    return x.n


@node
def combine(seed: int, size: int, *inputs: Any) -> Any:
    """An array of ``size`` items from ``seed`` and its inputs' sums (the Hypothesis
    property's node: the same on every executor)."""
    base = float(sum(float(np.asarray(i).sum()) for i in inputs)) % 1000.0
    return np.arange(size, dtype=np.float64) * (seed % 7 + 1) + base


@node
def fail_on(x: Any) -> Any:
    raise ValueError(f"bad array of {len(x)} items")


@node(timeout=0.5)
def stuck(x: Any) -> Any:
    import time

    time.sleep(30)
    return x


@node
def sleeps(x: Any, log_dir: str) -> Any:
    """Notes that it started, then sleeps far longer than any test waits."""
    import time

    note_run(log_dir, "sleeps")
    time.sleep(60)
    return x


@node(nout=2)
def step(x: Any) -> tuple[Any, int]:
    """The next array of a chain, and the process that made it."""
    return x + 1.0, os.getpid()


@node(nout=2)
def made_once(n: int, log_dir: str) -> tuple[Any, int]:
    """Like ``made_at``, but its body refuses to run a second time."""
    from tests.core._nodes_for_processes import runs

    if runs(log_dir).get("made_once"):
        raise RuntimeError("made_once ran before: it will not run again")
    note_run(log_dir, "made_once")
    return np.arange(n, dtype=np.float64), os.getpid()

"""The public assertions: each raises ``AssertionError`` with a message that shows what
differs and what the graph actually is, and hides its own frames from pytest's
traceback. Shape, nesting and overlap live in their own modules; the speedup checks are
here, over the measurements of ``_timing``.

The assertions folder: this module is the public face; ``_shape``, ``_nesting``,
``_order``, ``_parallel`` and ``_timing`` (the speedup check) each own one check, all pure:
no pytest in them.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from collections.abc import Callable
from typing import Any

from ._nesting import assert_nested
from ._order import OrderAssertionError, assert_order_independent
from ._parallel import assert_ran_in_parallel
from ._shape import assert_graph_shape
from ._timing import SpeedupReport, measure_speedup, notify, simulated_speedup

__all__ = ["assert_graph_shape", "assert_nested", "assert_ran_in_parallel",
           "assert_parallel_speedup", "assert_simulated_speedup", "SpeedupAssertionError",
           "assert_order_independent", "OrderAssertionError"]


class SpeedupAssertionError(AssertionError):
    """A speedup check failed; ``report`` holds the measurements."""

    def __init__(self, report: SpeedupReport) -> None:
        super().__init__(str(report))
        self.report = report


def assert_parallel_speedup(target: Callable[[], Any], min_speedup: float = 1.5, *,
                            executor: Any = "threads", workers: int | None = None,
                            repeats: int = 3, attempts: int = 3,
                            warmup: bool = True) -> SpeedupReport:
    """Assert that running the pipeline in parallel beats running it serially by at least
    ``min_speedup``; returns the :class:`SpeedupReport`.

    ``target`` is a zero-argument callable that builds the pipeline afresh and returns
    its future(s) (a future, a list of them, or a recording ``Graph``). It is built and
    run ``repeats`` times serially and ``repeats`` times with ``executor``, interleaved
    (S P, P S, ...) in this process after one warm-up run, and the medians are compared.
    The check passes when the median serial time over the median parallel time reaches
    ``min_speedup``, the fastest serial run over the median parallel one does too (so
    serial runs slowed by load cannot pass a serialised pipeline), and the recorded runs
    show nodes really running at once. It fails at once (no retry) when the parallel runs
    never had two nodes in flight, when the DAG itself cannot reach ``min_speedup`` with
    this many workers (simulated from the measured durations), or when the bodies
    overlapped but waited on each other (every parallel run as slow as the fastest
    serial one, its bodies clearly longer than alone: a lock, the GIL). Otherwise a failed
    attempt adds ``repeats`` more interleaved pairs and decides again on the medians of
    all runs so far, up to ``attempts`` times, so a burst of load on a shared machine
    cannot decide alone. Meant for nodes that wait
    (sleep, I/O, C code releasing the GIL); for a verdict without any clock use
    :func:`assert_simulated_speedup`.

    >>> import time
    >>> from tcg_core import node
    >>> @node
    ... def fetch(i):
    ...     time.sleep(0.01)
    ...     return i
    >>> @node
    ... def total(*xs):
    ...     return sum(xs)
    >>> report = assert_parallel_speedup(lambda: total(*[fetch(i) for i in range(4)]),
    ...                                  min_speedup=1.5)
    >>> report.passed, report.ideal_speedup > 2
    (True, True)
    """
    __tracebackhide__ = True
    report = measure_speedup(target, min_speedup=min_speedup, executor=executor,
                             workers=workers, repeats=repeats, attempts=attempts,
                             warmup=warmup)
    notify(report)
    if not report.passed:
        raise SpeedupAssertionError(report)
    return report


def assert_simulated_speedup(target: Any, min_speedup: float, *, workers: int,
                             weight: str = "cost", run: bool | None = None,
                             policy: str = "critical-path") -> SpeedupReport:
    """Assert the speedup the DAG allows on ``workers`` workers, without a clock.

    The graph is replayed by ``tcg_core.simulate`` with each node weighing its ``cost=``
    hint (``weight="cost"``; 1 without a hint), its measured duration
    (``weight="duration"``), or 1 (``"unit"``). Speedup is total work over the simulated
    makespan, so the verdict is the same on any machine. ``target`` is a graph, a future
    or list of futures, or a zero-argument callable that builds them. ``run`` resolves it
    serially first; that is the default for ``weight="duration"``, and needed for nested
    pipelines, whose inner nodes exist only once their parents ran.

    >>> from tcg_core import node
    >>> @node(cost=2)
    ... def step(*xs):
    ...     return 0
    >>> def build():
    ...     a = step()
    ...     return step(step(a), step(a), step(a))
    >>> assert_simulated_speedup(build, 1.6, workers=3).speedup
    1.6666666666666667
    """
    __tracebackhide__ = True
    report = simulated_speedup(target, min_speedup=min_speedup, workers=workers,
                               weight=weight, run=run, policy=policy)
    notify(report)
    if not report.passed:
        raise SpeedupAssertionError(report)
    return report

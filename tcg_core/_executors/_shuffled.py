"""``ShuffledExecutor``: run ready nodes in a seeded random order, to find order bugs.

Serial and threaded runs here pick ready nodes depth-first (or by priority), so a
pipeline whose nodes share mutable state gives the same answer in every test and a
different one under another executor. This executor picks the next ready node at
random from a seeded generator: any valid order can come up (inputs still run before
their consumers, since only the ready queue is reordered), and the same seed gives the
same order again. The position each node started at is recorded on its record
(``NodeRecord.order``), so diagrams and JSON show the order a seed produced.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import random
import time
from collections import deque
from queue import SimpleQueue
from typing import Any

from .._record import NodeRecord, NodeState
from ._base import SerialAdapter
from ._threads import ThreadsAdapter

__all__ = ["JITTER_WORKERS", "ShuffledExecutor", "shuffled_adapter"]

#: Threads a jittered run uses: enough to interleave, few enough for small machines.
JITTER_WORKERS = 4

_READY = NodeState.READY


class ShuffledExecutor:
    """An executor that runs ready nodes in a random but valid order chosen by ``seed``.

    Without ``jitter`` every body runs in the calling thread, as with ``"serial"``;
    with ``jitter`` > 0 bodies run on threads and sleep a random ``0..jitter`` seconds
    before and after, to vary how they interleave. The same seed gives the same order
    (with jitter: the same picks and sleeps; thread timing still varies).

    >>> from tcg_core import ShuffledExecutor, node
    >>> @node
    ... def one():
    ...     return 1
    >>> @node
    ... def add(a, b):
    ...     return a + b
    >>> add(one(), one()).resolve(executor=ShuffledExecutor(seed=3))
    2
    """

    __slots__ = ("jitter", "seed")

    def __init__(self, seed: int = 0, jitter: float = 0.0) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"ShuffledExecutor(): seed must be an int, got "
                            f"{type(seed).__name__} {seed!r:.40}")
        problem = f"ShuffledExecutor(): jitter must be a finite number of seconds >= 0, " \
                  f"got {type(jitter).__name__} {jitter!r:.40}"
        if isinstance(jitter, bool) or not isinstance(jitter, (int, float)):
            raise TypeError(problem)
        if not 0 <= jitter < float("inf"):  # NaN fails this too
            raise ValueError(problem)
        self.seed: int = seed  #: chooses the order; the same seed gives the same order
        self.jitter: float = float(jitter)  #: the longest sleep around a body, in seconds

    def __repr__(self) -> str:
        extra = f", jitter={self.jitter}" if self.jitter else ""
        return f"ShuffledExecutor(seed={self.seed}{extra})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ShuffledExecutor) and (other.seed, other.jitter) == (
            self.seed, self.jitter)

    def __hash__(self) -> int:
        return hash(("ShuffledExecutor", self.seed, self.jitter))


class _Picker:
    """The "which ready node next" policy of a shuffled run: a random one, numbered."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.started = 0

    def __call__(self, ready: deque[NodeRecord]) -> NodeRecord:
        last = len(ready) - 1
        if last:
            i = self.rng.randint(0, last)
            ready[i], ready[last] = ready[last], ready[i]
        rec = ready.pop()
        if rec.state == _READY:  # a node skipped while queued never starts
            self.started += 1
            rec._more().order = self.started
        return rec


class _ShuffledSerial(SerialAdapter):
    name = "shuffled"

    def __init__(self, seed: int) -> None:
        self.pick = _Picker(seed)


class _Jittered:
    """A body with sleeps around it (module level, so a thread pool runs it plainly)."""

    __slots__ = ("after", "before", "func")

    def __init__(self, func: Any, before: float, after: float) -> None:
        self.func, self.before, self.after = func, before, after

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        time.sleep(self.before)
        try:
            return self.func(*args, **kwargs)
        finally:
            time.sleep(self.after)


class _ShuffledThreads(ThreadsAdapter):
    name = "shuffled"

    def __init__(self, seed: int, jitter: float, workers: int) -> None:
        super().__init__(workers)
        self.pick = _Picker(seed)
        self.jitter = jitter

    def submit(self, spec: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None,
               events: SimpleQueue[Any], key: Any) -> None:
        # The sleeps are drawn here, in the resolve's thread: one seed, one sequence.
        rng, jitter = self.pick.rng, self.jitter
        body = _Jittered(spec.body, rng.uniform(0, jitter), rng.uniform(0, jitter))
        self._pool.submit((body, args, kwargs, events, key))


def shuffled_adapter(executor: ShuffledExecutor, max_workers: int | None) -> SerialAdapter | \
        ThreadsAdapter:
    """The adapter of one resolve under ``executor`` (a fresh generator: same seed, same
    order)."""
    if not executor.jitter:
        return _ShuffledSerial(executor.seed)
    return _ShuffledThreads(executor.seed, executor.jitter, max_workers or JITTER_WORKERS)

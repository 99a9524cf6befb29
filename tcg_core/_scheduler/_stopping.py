"""Stopping: Ctrl-C, fail-fast, timeouts, starved pools, and bodies that outlive a resolve.

A resolve that stops leaves nothing stuck for a later one: nodes not started, and
bodies that were interrupted or killed, go back to ``pending``; a parent waiting for
children stays ``waiting``, unowned (the next resolve takes the wait over). A body
still running on a thread cannot be stopped safely, so its node stays ``running``,
owned by the stopped run, and a background thread (``LateOutcomes``) hands its outcome
to the same outcome path as any other, so nothing runs twice and no result is lost.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import heapq
import threading
import time
from collections.abc import Callable
from queue import Empty

from .._errors import NodeTimeoutError, TcgError
from .._record import NodeRecord
from ._sharing import LOCK
from ._state import EXTERNAL, FINISHED, PENDING, READY, RUNNING, Event, RunState

__all__ = ["LateOutcomes", "abandon", "expire_deadlines", "release", "starved", "stuck"]


def release(run: RunState, rec: NodeRecord) -> None:
    """Let go of an unfinished node (the *release* transition): ``ready`` and
    ``running`` go back to ``pending``; ``waiting`` stays, for the next resolve."""
    if rec.state in (READY, RUNNING):
        rec.state = PENDING
    with LOCK:
        rec._run = None
        watchers = run.watchers.pop(rec.id, None)
    rec._consumers, rec._npending = None, 0
    for other in watchers or ():
        other.events.put(((rec, EXTERNAL), True, None))


def abandon(run: RunState, *, bodies_killed: bool) -> list[NodeRecord]:
    """Release everything the run still owns, except bodies still running elsewhere
    (unless they were killed). Returns those: their outcomes are still to come."""
    run.ready.clear()
    run.heap.clear()
    run.todo.clear()
    if not run.unfinished and not run.in_flight:
        run.claimed.clear()  # a clean finish: every claimed node is finished already
        return []
    flying: list[NodeRecord] = []
    for rec in run.claimed:
        if rec._run is not run:
            continue
        if rec in run.in_flight and not bodies_killed:
            rec._consumers = None  # this run's consumers are gone with it
            flying.append(rec)
            continue
        release(run, rec)
    run.claimed.clear()
    if bodies_killed:
        run.in_flight.clear()
    return flying


def expire_deadlines(run: RunState) -> list[tuple[NodeRecord, int, BaseException]]:
    """Bodies past their ``timeout=``: take them out of flight, make up for the worker
    they occupy, and return ``(record, attempt, error)`` for the outcome path."""
    deadlines = run.deadlines
    now = time.perf_counter()
    expired: list[tuple[NodeRecord, int, BaseException]] = []
    while deadlines and deadlines[0][0] <= now:
        _, _, rec, attempt = heapq.heappop(deadlines)
        if run.in_flight.get(rec) != attempt:
            continue  # it finished (or was retried) in time
        del run.in_flight[rec]
        if not (run.watchdog or run.adapter).abandon_worker():
            run.lost_workers += 1
        rec._ran = (rec.start, now, rec.worker)
        expired.append((rec, attempt, NodeTimeoutError(
            f"node {rec.name!r} ran longer than its timeout={rec.spec.timeout}s; its "
            "thread or process was abandoned (it cannot be interrupted safely)")))
    return expired


def starved(run: RunState) -> list[tuple[NodeRecord, BaseException]]:
    """Every worker of the user's executor is stuck in a timed-out body: nothing else
    can run, so what is left fails instead of waiting forever."""
    reason = (f"every worker of the executor ({run.adapter.workers}) is stuck in a node "
              "that timed out; give the executor more workers, or fix the hanging node")
    run.ready.clear()
    run.heap.clear()
    return [(rec, TcgError(f"node {rec.name!r} ({rec.path}) cannot run: {reason}"))
            for rec in run.claimed
            if rec._run is run and rec.state in (PENDING, READY)]


def stuck(run: RunState) -> list[tuple[NodeRecord, BaseException]]:
    """Nothing runs and nothing is awaited, yet nodes are unfinished: fail them rather
    than wait forever (the lifecycle's invariants should make this unreachable)."""
    left = [r for r in run.claimed if r._run is run and r.state not in FINISHED]
    names = ", ".join(f"{r.path} ({r.state})" for r in left[:5]) or "no nodes"
    return [(rec, TcgError(f"resolve() cannot make progress: {len(left)} nodes wait on "
                           f"each other ({names})")) for rec in left]


class LateOutcomes(threading.Thread):
    """Collects the outcomes of bodies still running when their resolve stopped, and
    hands each to ``dispatch`` (the run's one outcome path)."""

    def __init__(self, run: RunState, flying: list[NodeRecord],
                 dispatch: Callable[[Event], None],
                 expire: Callable[[], None]) -> None:
        super().__init__(name="tcg-late-outcomes", daemon=True)
        self._owner = run  #: the stopped run, whose queue the bodies report on
        self._dispatch = dispatch  #: the run's outcome path
        self._expire = expire  #: the run's timeout handling
        self._flying = flying  #: what is still to come

    def run(self) -> None:
        owner = self._owner
        while any(rec in owner.in_flight for rec in self._flying):
            timeout = None
            if owner.deadlines:
                timeout = max(0.0, owner.deadlines[0][0] - time.perf_counter())
            try:
                event = owner.events.get(timeout=timeout)
            except Empty:
                self._expire()
                continue
            if event[0][1] == EXTERNAL:
                continue
            try:
                self._dispatch(event)
            except BaseException:  # this thread must go on for the others
                pass
            self._release_landed()
        self._release_landed()

    def _release_landed(self) -> None:
        """A body whose outcome arrived but whose node is not final (its handling broke
        half-way): release it, so a later resolve runs it instead of waiting forever."""
        owner = self._owner
        for rec in self._flying:
            if rec not in owner.in_flight and rec._run is owner \
                    and rec.state not in FINISHED:
                release(owner, rec)

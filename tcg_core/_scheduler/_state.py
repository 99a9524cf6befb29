"""What one resolve keeps while it runs, and the follow-up actions its parts queue.

Every field of a run is declared here with what it means. The cold parts of the
scheduler (``_sharing``, ``_stopping``, ``_priority``) read and change these fields, and
ask for a node's next transition by queueing an action on ``todo``. Transitions are the
methods of ``_lifecycle.Lifecycle``, plus the two that only stopping needs:
``_stopping.release`` (a stopped run lets go of a node) and ``_sharing._orphan`` (a
forked child takes a node over). So every state change goes through one function per
transition, and no part calls back into the loop recursively.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import heapq
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from queue import SimpleQueue
from typing import Any

from .._context import BodyFrame, worker_name
from .._errors import NodeError
from .._executors import Adapter
from .._options import ResolveOptions
from .._record import NodeRecord
from ._failures import dependency_error
from ._overrides import Overrides, current
from ._transitions import DONE, FINISHED, PENDING, READY, RUNNING, SKIPPED, WAITING, validating

# The state names are re-exported for the parts that already import their run from here.
__all__ = ["CHILD_FAILED", "COMPLETE", "DONE", "EXTERNAL", "FINISHED", "MAYBE_READY", "PENDING",
           "READY", "RUNNING", "SKIP", "SKIPPED", "WAITING", "Event", "RunState", "notify"]


# -- actions on ``todo``: (action, record, detail) -----------------------------------------
#: every input of a pending node may be done: make it ready
MAYBE_READY = 0
#: every child (and returned future) of a waiting parent is done: complete it
COMPLETE = 1
#: an input failed: skip the node; detail is the DependencyError
SKIP = 2
#: a child (or returned future) failed: fail the parent; detail is the DependencyError
CHILD_FAILED = 3

#: the ``attempt`` of an event that is a notice from another resolve, not an outcome
EXTERNAL = -1

#: What arrives on a run's queue: ``((record, attempt), ok, payload)``. A worker reports
#: a body's outcome (``ok``: the ``run_body`` tuple, ``_context.Ok``, or the executor's
#: own success payload; else an ``_context.Err``); another resolve reports that it let
#: go of a record with attempt ``EXTERNAL``.
Event = tuple[tuple[NodeRecord, int], bool, Any]


@dataclass(eq=False)
class RunState:
    """The state of one resolve. One thread (the resolve's caller) owns it; workers
    only put events on ``events``, and other resolves only touch ``watchers``,
    ``events`` and the ownership of records, under ``_sharing.LOCK``."""

    adapter: Adapter  #: where bodies run
    options: ResolveOptions  #: the checked options of this resolve
    nested: bool  #: this resolve was called inside a running node's body
    generation: int  #: the fork generation it was made in (see ``_sharing``)

    #: outcomes from workers and notices from other resolves, one shape (``Event``)
    events: SimpleQueue[Event] = field(default_factory=SimpleQueue)
    #: follow-up actions, worked off by ``Lifecycle.drain`` without recursion
    todo: deque[tuple[int, NodeRecord, Any]] = field(default_factory=deque)
    #: ready nodes, used as a stack (depth-first) while there are no priorities
    ready: deque[NodeRecord] = field(default_factory=deque)
    #: ready nodes by priority once one needs a worker: ``(-rank, seq, record)``
    heap: list[tuple[float, int, NodeRecord]] = field(default_factory=list)
    #: tie-breaker for heaps, in insertion order
    seq: itertools.count[int] = field(default_factory=itertools.count)
    #: whether ready nodes go by priority (set once a node that needs a worker is claimed)
    prioritised: bool = False
    #: longest remaining path per record id, for priorities
    ranks: dict[int, float] = field(default_factory=dict)
    #: running mean of the body durations measured in this resolve, per node function
    #: (``record_duration``): what inlining and priorities plan with. Learned afresh by
    #: each resolve, so that no earlier resolve (another test's) changes how this runs
    durations: dict[Any, float] = field(default_factory=dict)
    #: claimed nodes not finished yet, plus roots another resolve is finishing
    unfinished: int = 0
    #: bodies running on workers: record → the attempt that runs
    in_flight: dict[NodeRecord, int] = field(default_factory=dict)
    #: timeouts of bodies in flight: ``(when, seq, record, attempt)``, a heap
    deadlines: list[tuple[float, int, NodeRecord, int]] = field(default_factory=list)
    #: workers of an executor we cannot grow that are stuck in timed-out bodies
    lost_workers: int = 0
    #: a one-thread pool for timed bodies under the serial executor
    watchdog: Adapter | None = None
    #: threads in this process for test doubles when bodies otherwise run in other
    #: processes (see ``Lifecycle.start``)
    here: Adapter | None = None
    #: the resolve is stopping on an exception (Ctrl-C, a closed Dask client), not ending
    interrupted: bool = False
    #: records another resolve owns that this one waits on: id → consumers here
    external: dict[int, list[NodeRecord]] = field(default_factory=dict)
    #: other resolves waiting on records this one owns: id → those runs
    watchers: dict[int, list[RunState]] = field(default_factory=dict)
    #: ids of roots another resolve owns, counted in ``unfinished``
    root_waits: set[int] = field(default_factory=set)
    #: every record this run claimed, so a stop can release each one
    claimed: list[NodeRecord] = field(default_factory=list)
    #: nesting depth of the parents this run has seen (the max_depth check, linear)
    depths: dict[NodeRecord, int] = field(default_factory=dict)
    #: the errors of failed nodes, in order
    failures: list[NodeError] = field(default_factory=list)
    #: fail-fast tripped: nothing new starts
    stopped: bool = False
    #: the resolve has returned: only late outcomes of bodies in flight are recorded
    closing: bool = False
    #: the node whose body runs in the resolve's own thread right now
    inline_current: NodeRecord | None = None
    #: the frame inline bodies record their children in (replaced once one has children)
    frame: BodyFrame = field(default_factory=BodyFrame)
    #: the callbacks this resolve calls (``_callbacks.Observers``), or None: not observed
    observers: Any = None
    #: the worker label of the resolve's own thread
    label: str = field(default_factory=worker_name)
    #: the test doubles active when the run was created (``override``); None: none
    overrides: Overrides | None = field(default_factory=current)
    #: check every state change against the transition table (``_transitions``)
    validate: bool = field(default_factory=validating)
    #: ``claim`` met a call whose function needs the observing loop (``cache=True``,
    #: ``verbose=True``) while this run is not observed; ``take_hooks`` answers it
    needs_hooks: bool = False
    #: how this run starts observing mid-run, given the records just claimed
    #: (``_resolve``); None: it was chosen knowing that it will not need to
    on_hooks_needed: Callable[[RunState, list[NodeRecord]], None] | None = None

    #: ready nodes are ranked (``_priority``): priorities matter only where bodies
    #: compete for workers, and an adapter with its own ``pick`` (a shuffled run)
    #: chooses without them; set from the adapter
    ordered: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.ordered = (self.adapter.workers > 1 and not self.adapter.inline
                        and self.adapter.pick is None)
        if self.overrides is not None:
            self.adapter.mark_replaced(self.overrides.names)

    def record_duration(self, spec: Any, seconds: float) -> None:
        """Fold a body's measured duration into ``durations``."""
        mean = self.durations.get(spec)
        self.durations[spec] = seconds if mean is None else 0.8 * mean + 0.2 * seconds

    def queue_ready(self, rec: NodeRecord) -> None:
        """Put a ready node in the queue that fits the run's policy."""
        if self.prioritised:
            heapq.heappush(self.heap, (-self.ranks.get(rec.id, 0.0), next(self.seq), rec))
        else:
            self.ready.append(rec)


def notify(run: RunState, rec: NodeRecord, consumers: list[NodeRecord]) -> None:
    """``rec`` finished: count it off its consumers in ``run`` and queue what follows."""
    todo = run.todo
    if rec.state == DONE:
        for consumer in consumers:
            consumer._npending -= 1
            if consumer._npending == 0:
                todo.append((COMPLETE if consumer.state == WAITING else MAYBE_READY,
                             consumer, None))
        return
    for consumer in consumers:
        if consumer.state == WAITING:
            todo.append((CHILD_FAILED, consumer, dependency_error("child", rec)))
        else:
            todo.append((SKIP, consumer, dependency_error("input", rec)))

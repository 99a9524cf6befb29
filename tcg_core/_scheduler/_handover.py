"""Handing the graph over to a Dask cluster: ``HandoverRun``.

On Dask the client is far from the workers: a node sent only once its inputs are back
would cost every edge a round trip. So this run hands a node to the cluster as soon as
each input is done *or itself handed over*, with those inputs as Dask dependencies, in
one graph per batch (``DaskAdapter.send``). Values go worker to worker and stay on the
cluster; the client hears only that a task finished or failed. At the end it fetches,
in one request each, the values someone can still ask for (the roots, futures the
caller still holds) and when and where every body ran.

Two more transitions join the lifecycle (``_lifecycle``)::

    pending ─make_ready_on_cluster─▶ ready   (every input done or handed over)
    running ─skip─▶ skipped                  (handed over, and an input failed)
    running ─resend─▶ ready                  (handed over, an input failed, its retry
                                              succeeded)
    done ─lost─▶ failed                      (its value was lost on the cluster before
                                              it could be fetched)

Every node but one with ``timeout=`` hands its consumers over (the client fails such a
node at its deadline, while its task may still end well). A node with ``timeout=`` is
also sent only once its inputs are done, so its clock starts when it can run. When a
node with ``retries=`` fails, the consumers already handed over fail on the cluster for
it; they wait, and are sent again once a retry succeeds (``resend``), or are skipped.

A body that creates children runs them on the cluster from its worker
(``run_children``: Dask's tasks that launch tasks; the task secedes from the worker's
pool while it waits, so the slot is free for the children).
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import heapq
import uuid
from dataclasses import dataclass, field, replace
from time import perf_counter
from typing import Any

from .._context import Err, Ran
from .._errors import CycleError, RecursionDepthError, TcgError
from .._executors._dask import DaskAdapter
from .._executors._remote import NestedFailure, Remote, RemoteCall
from .._options import ResolveOptions
from .._record import Handle, NodeRecord, NodeState, State
from .._values import scan_futures, substitute
from ._failures import dependency_error, node_error
from ._lifecycle import STOPS
from ._run import Run
from ._sharing import generation
from ._stopping import abandon
from ._transitions import DONE, FAILED, PENDING, READY, RUNNING, SKIPPED, WAITING, check_finished

__all__ = ["HandoverRun", "run_children"]


#: Tasks per graph sent at once: a big graph goes out in pieces the cluster can start on.
BATCH = 5_000
#: Completions between two collections of when and where bodies ran (one request to
#: every worker), so the workers' registries stay small in a long run.
COLLECT_EVERY = 20_000


@dataclass(eq=False)
class HandoverRun(Run):
    """A resolve on a Dask cluster that hands whole parts of the graph over."""

    adapter: DaskAdapter  #: the cluster (narrowed from ``RunState.adapter``)
    #: names this run's tasks and its entries in the workers' registries
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: tasks made but not sent yet: ``(call, dependency keys)``
    batch: list[tuple[RemoteCall, list[str]]] = field(default_factory=list)
    #: the event keys of those tasks
    batch_events: list[tuple[NodeRecord, int]] = field(default_factory=list)
    #: the placeholder standing for each record's value on the cluster (latest attempt)
    remotes: dict[NodeRecord, Remote] = field(default_factory=dict)
    #: the record of every key this run sent
    by_key: dict[str, NodeRecord] = field(default_factory=dict)
    #: nodes whose consumers may be handed over before they are done
    handed: set[NodeRecord] = field(default_factory=set)
    #: pending consumers: their inputs neither done nor handed over
    unsent: dict[NodeRecord, int] = field(default_factory=dict)
    #: remote values: this run's consumers not finished yet (then the value may go)
    readers: dict[NodeRecord, int] = field(default_factory=dict)
    #: how deep this run's nodes are nested (a run of children on a worker: > 0)
    depth: int = 0
    #: ids of the nodes enclosing this run's nodes, outermost first (a run of children
    #: on a worker: its parent's lineage and the parent)
    lineage: tuple[int, ...] = ()
    #: the options a run of children on a worker gets (the client stays here)
    options_for_children: ResolveOptions = field(init=False)
    #: handed-over nodes whose task failed for an input whose own outcome is to come
    deferred: set[NodeRecord] = field(default_factory=set)
    #: tasks finished since when and where they ran was last collected
    uncollected: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.ordered = False  # Dask's own scheduler orders the tasks it holds
        self.options_for_children = replace(self.options, executor=None, callbacks=())

    # -- transitions ---------------------------------------------------------------------
    def start(self, rec: NodeRecord) -> None:
        """ready → running: the node's task joins the next graph sent to the cluster."""
        if rec.state != READY:
            return
        spec = rec.spec if self.overrides is None else self.overrides.spec_for(rec)
        begun = self.begin_attempt(rec)
        if begun is None:
            return
        args, kwargs = begun
        attempt = rec.attempts
        # Unique per task sent (a node sent again gets a new key); Dask's dashboard
        # groups tasks by the part before the first dash: the node's name.
        key = f"{rec.name}-{rec.id}-{next(self.seq)}-{self.token}"
        try:
            call = self.call_of(rec, spec, key, args, kwargs)
        except BaseException as exc:  # it cannot be sent (it does not pickle)
            self.on_outcome(rec, False, Err(exc))
            return
        remote = self.remotes[rec] = Remote(key, f"{rec.name}#{rec.id}")
        handle = rec._future
        if handle is not None:  # what its consumers' arguments receive
            handle._value = remote
        self.by_key[key] = rec
        submitted = perf_counter()
        rec._ran = (submitted, None, None)
        self.in_flight[rec] = attempt
        self.batch.append((call, [slot.key for slot in call.slots]))
        self.batch_events.append((rec, attempt))
        if spec.timeout is not None:
            heapq.heappush(self.deadlines, (submitted + spec.timeout, next(self.seq), rec,
                                            attempt))
        else:
            self.hand_over(rec)
        if len(self.batch) >= BATCH:
            self.flush()

    def call_of(self, rec: NodeRecord, spec: Any, key: str, args: tuple[Any, ...],
                kwargs: dict[str, Any] | None) -> RemoteCall:
        """The task of one attempt of ``rec``: its inputs on the cluster as slots."""
        remotes = self.remotes
        found: dict[Remote, None] = {}
        for source in rec.inputs:
            remote = remotes.get(source)
            if remote is not None:
                found[remote] = None
            elif source.state != DONE:  # its value would be missing: never send that
                raise TcgError(f"internal error: node {rec.name!r} was about to be sent "
                               f"before its input {source.name!r} ({source.state})")
        slots = tuple(found)
        return RemoteCall(key, rec.name, self.adapter.shipped_body(spec, args, kwargs), args,
                          kwargs, slots, self.token, rec.spec.nout, run_children,
                          (self.options_for_children, self.depth,
                           (*self.lineage, rec.id), rec.spec.timeout is not None))

    def expire(self) -> None:
        """As ``Run.expire``, but a ``timeout=`` covers the body only, as on every other
        executor: a body that ended in time and whose children run inside its task (see
        ``run_children``) is not failed at its deadline."""
        now = perf_counter()
        due = {self.remotes[rec].key: rec for when, _, rec, attempt in self.deadlines
               if when <= now and self.in_flight.get(rec) == attempt and rec in self.remotes}
        if due:
            try:
                ended = self.adapter.bodies_ended(list(due))
            except Exception:  # the cluster cannot say: the deadline stands
                ended = set()
            if ended:
                kept = {due[key] for key in ended}
                self.deadlines = [d for d in self.deadlines if d[2] not in kept]
                heapq.heapify(self.deadlines)
                for rec in kept:
                    self.hand_over(rec)
        super().expire()

    def hand_over(self, rec: NodeRecord) -> None:
        """``rec``'s task is final when it ends: its consumers need not wait for it.
        Once per node: a retry's task stands in for the same input."""
        if rec in self.handed:
            return
        self.handed.add(rec)
        for consumer in dict.fromkeys(rec._consumers or ()):
            left = self.unsent.get(consumer)
            if left is None:  # first seen: count what it still waits for (rec is handed)
                left = sum(1 for i in dict.fromkeys(consumer.inputs)
                           if i.state != DONE and i not in self.handed)
            else:
                left -= 1
            self.count_unsent(consumer, left)

    def count_unsent(self, consumer: NodeRecord, left: int) -> None:
        if left > 0:
            self.unsent[consumer] = left
            return
        self.unsent.pop(consumer, None)
        self.make_ready_on_cluster(consumer)

    def make_ready_on_cluster(self, rec: NodeRecord) -> None:
        """pending → ready: every input is done or handed to the cluster."""
        if rec.state == PENDING and rec._run is self and rec.spec.timeout is None:
            rec.state = READY
            self.queue_ready(rec)

    def skip(self, rec: NodeRecord, error: BaseException) -> None:
        """pending or ready → skipped; or running → skipped: it was handed over with an
        input that then failed (its task fails on the cluster without running)."""
        if rec.state == RUNNING and rec._run is self and rec in self.in_flight:
            del self.in_flight[rec]
            self.deferred.discard(rec)
            rec.attempts -= 1  # its body never ran
            rec.error = error
            self.finish(rec, SKIPPED)
            return
        super().skip(rec, error)

    def on_outcome(self, rec: NodeRecord, ok: bool, payload: Any) -> None:
        if ok:  # running → done: the value stays on the cluster
            rec.error = None
            self.finish(rec, DONE)
            self.uncollected += 1
            if self.uncollected >= COLLECT_EVERY:
                self.record_where_bodies_ran()
            return
        if self.caused_upstream(rec, payload):
            # Dask fails every task below a failed one with the same error: that node's
            # own outcome comes too, and skips this one (or sends it again, ``resend``).
            self.in_flight[rec] = rec.attempts
            self.deferred.add(rec)
            return
        if isinstance(payload.error, NestedFailure):
            self.children_failed(rec, payload.error, payload.ran)
            return
        super().on_outcome(rec, False, payload)

    def resend(self, rec: NodeRecord) -> None:
        """running → ready: its task failed for an input that then succeeded after all
        (on a retry); it goes again, with a new key. Its body never ran."""
        self.deferred.discard(rec)
        if rec.state == RUNNING and self.in_flight.pop(rec, None) is not None:
            rec.attempts -= 1
            rec.state = READY
            self.queue_ready(rec)

    def caused_upstream(self, rec: NodeRecord, outcome: Err) -> bool:
        """``exc`` was raised by another task, above ``rec``: an input that is not done
        yet (its outcome, still to come, decides), or failed or skipped already (its
        ``skip`` of ``rec`` is queued). Outcomes of different tasks arrive in any order."""
        blame = outcome.raised_by
        remote = self.remotes.get(rec)
        if blame is None or remote is None or blame == remote.key:
            return False
        return any(i.state != DONE for i in rec.inputs)

    def children_failed(self, rec: NodeRecord, failure: NestedFailure,
                        ran: Ran | None) -> None:
        """running → failed: children it created on the cluster failed there (its body
        ran ``ran``)."""
        try:
            if ran is not None:
                rec._ran = ran
            self.adopt_remote(rec, failure.children)
            culprit = next((c for c in failure.children if c.state == FAILED), None)
            for failed in _original_failures(failure.children):
                self.failures.append(node_error(failed))
            if not self.options.keep_going:
                self.stopped = True
            rec.error = (dependency_error("child", culprit) if culprit is not None
                         else TcgError(str(failure)))
        except BaseException as exc:
            self.internal_failure(rec, "recording its children's failure", exc)
            return
        self.finish(rec, FAILED)

    def fail(self, rec: NodeRecord, exc: BaseException) -> None:
        if rec.state not in NodeState.FINISHED:
            self.fetch_inputs(rec)
        super().fail(rec, exc)

    def fetch_inputs(self, rec: NodeRecord) -> None:
        """The values of a failing node's inputs, fetched (one request) so that its error
        shows the call as it was made, as on threads; left on the cluster if they cannot
        be had."""
        wanted = [(source, self.remotes[source]) for source in dict.fromkeys(rec.inputs)
                  if source.state == DONE and source in self.remotes]
        handles = [(ref(), remote) for source, remote in wanted
                   if (ref := source._value_ref) is not None and ref() is not None]
        if not handles:
            return
        try:
            values = self.adapter.gather([remote.key for _, remote in handles])
        except Exception:
            return
        for (handle, _), value in zip(handles, values, strict=True):
            if handle is not None:
                handle._value = value

    def finish(self, rec: NodeRecord, state: State) -> None:
        consumers = rec._consumers
        if state == DONE and rec.id in self.watchers and rec in self.remotes:
            self.fetch_now(rec)  # another resolve reads the value as soon as it hears
        super().finish(rec, state)
        if state == DONE and consumers and rec not in self.handed:
            for consumer in dict.fromkeys(consumers):
                left = self.unsent.get(consumer)
                if left is not None:
                    self.count_unsent(consumer, left - 1)
        if rec in self.remotes and state == DONE:
            self.readers[rec] = len(set(consumers or ()))
        if self.deferred and state == DONE:
            for consumer in dict.fromkeys(consumers or ()):
                if consumer in self.deferred:
                    self.resend(consumer)
        self.release_inputs(rec)

    def release_inputs(self, rec: NodeRecord) -> None:
        """Let the cluster drop values nothing here needs any more: their consumers in
        this run are finished, and no future of the caller's stands for them."""
        done = [rec] if self.readers.get(rec) == 0 else []
        for source in dict.fromkeys(rec.inputs):
            left = self.readers.get(source)
            if left is not None:
                self.readers[source] = left - 1
                if left == 1:
                    done.append(source)
        gone = []
        for source in done:
            ref = source._value_ref
            if ref is None or ref() is None:
                del self.readers[source]
                gone.append(self.remotes.pop(source).key)
        if gone:
            self.adapter.release(gone)

    # -- the loop ------------------------------------------------------------------------
    def has_capacity(self) -> bool:
        return not self.stopped  # the cluster queues what it cannot start yet

    def wait_for_events(self) -> None:
        self.flush()
        super().wait_for_events()

    def flush(self) -> None:
        """Send the tasks made since the last flush, as one graph."""
        if not self.batch:
            return
        batch, events = self.batch, self.batch_events
        self.batch, self.batch_events = [], []
        try:
            self.adapter.send(batch, self.events, events)
        except BaseException as exc:
            if isinstance(exc, STOPS):
                raise
            for rec, attempt in events:
                if self.in_flight.get(rec) == attempt:
                    del self.in_flight[rec]
                    self.on_outcome(rec, False, Err(exc))
            self.drain()

    def shut_down(self, *, cancel: bool) -> None:
        """Fetch what the caller can still ask for, record when and where bodies ran,
        stop what is still running on the cluster, and close."""
        self.batch.clear()
        self.batch_events.clear()
        try:
            if self.in_flight:
                self.adapter.cancel([self.remotes[r].key for r in self.in_flight
                                     if r in self.remotes])
            self.fetch_values()
            self.record_where_bodies_ran()
        finally:
            self.adapter.release([r.key for r in self.remotes.values()])
            self.remotes.clear()
            abandon(self, bodies_killed=True)
            self.in_flight.clear()
            self.closing = True
            self.adapter.close(cancel=cancel)
        if self.validate:
            check_finished(self, self.claimed, self.in_flight)

    def fetch_values(self) -> None:
        """Every value computed here that a live future of the caller's stands for."""
        wanted: list[tuple[Handle, str]] = []
        for rec, remote in self.remotes.items():
            ref = rec._value_ref
            handle = ref() if ref is not None else None
            if rec.state == DONE and handle is not None:
                wanted.append((handle, remote.key))
        if not wanted:
            return
        try:
            values = self.adapter.gather([key for _, key in wanted])
        except BaseException as exc:
            if isinstance(exc, STOPS):
                raise
            for handle, _ in wanted:
                self.lost(handle._record, exc)
            return
        for (handle, _), value in zip(wanted, values, strict=True):
            handle._value = value

    def fetch_now(self, rec: NodeRecord) -> None:
        """The value of ``rec``, fetched at once (before its final state is written)."""
        (value,) = self.adapter.gather([self.remotes[rec].key])
        handle = rec._future
        if handle is not None:
            handle._value = value

    def lost(self, rec: NodeRecord, exc: BaseException) -> None:
        """The cluster computed the value but lost it before it could be fetched (a
        worker died, the client closed): ``lose`` it, saying so."""
        how = ("the resolve stopped (the client closed, or Ctrl-C) before it was fetched"
               if self.interrupted else f"{type(exc).__name__}: {exc}")
        error = TcgError(f"node {rec.name!r} ({rec.path}) ran on the Dask cluster, but its "
                         f"value could not be fetched: {how}; build the graph again to "
                         "compute it")
        error.__cause__ = exc
        self.lose(rec, error)

    def record_where_bodies_ran(self) -> None:
        """Start, end and worker of every task, and the children bodies created."""
        self.uncollected = 0
        try:
            entries = self.adapter.collect(self.token)
        except Exception:  # the timings are lost with the cluster; the values are not
            return
        by_key = self.by_key
        for key, (start, end, worker, kids) in entries:
            rec = by_key.pop(key, None)
            if rec is None:
                continue
            rec._ran = (start, end, worker)
            self.record_duration(rec.spec, end - start)
            if kids:
                self.adopt_remote(rec, kids)

    def adopt_remote(self, rec: NodeRecord, kids: list[NodeRecord]) -> None:
        """Children a body created and ran on the cluster become ``rec``'s, as nesting
        on the client would have made them."""
        rec.children = kids
        for kid in kids:
            kid.parent = rec


def _original_failures(records: list[NodeRecord]) -> list[NodeRecord]:
    """The failed records under ``records`` whose own body failed (not a child's)."""
    found: list[NodeRecord] = []
    todo = list(records)
    while todo:
        rec = todo.pop()
        kids = rec.children or []
        failed_kids = [k for k in kids if k.state == FAILED]
        if rec.state == FAILED and not failed_kids:
            found.append(rec)
        todo.extend(kids)
    return found


def run_children(call: RemoteCall, value: Any, children: list[Handle]) -> tuple[Any, list[Any]]:
    """On a worker: run the children a body created (and the futures it returned) on
    the cluster, then return the body's final value and the children's records.

    The task secedes from the worker's thread pool while its children run, so it holds
    no slot the children need (Dask's tasks that launch tasks)."""
    import distributed

    options, depth, lineage, _ = call.context
    if depth + 1 >= options.max_depth:
        raise RecursionDepthError(
            f"nodes nested {depth + 2} deep (… › {call.name} › "
            f"{children[0]._record.name if children else '…'}), over "
            f"max_depth={options.max_depth}: does the recursion have a base case? Raise "
            "the limit with resolve(max_depth=...)")
    returned: list[Handle] = []
    scan_futures(value, returned)
    kids = [f._record for f in children]
    returned_records = {h._record for h in returned}
    for target in returned_records:
        # Only an unfinished node that has started can enclose this one (a cluster of
        # threads shares the client's records; in worker processes none can be).
        if target.id in lineage and target.state in (RUNNING, WAITING):
            raise CycleError(
                f"node {call.name!r} returns the future of {target.name!r}, which is "
                "itself or encloses it, so it would wait on itself forever")
    for kid in kids:
        if kid not in returned_records:
            kid.returned = False
    waits = list(dict.fromkeys([*kids, *returned_records]))
    run = HandoverRun(DaskAdapter.in_worker(), options, False, generation())
    run.depth = depth + 1
    run.lineage = lineage
    distributed.secede()  # type: ignore[no-untyped-call]
    try:
        run.run_to_end(waits)
    finally:
        distributed.rejoin()  # type: ignore[no-untyped-call]
    if run.failures:
        raise NestedFailure(str(run.failures[0]), kids)
    return substitute(value), kids

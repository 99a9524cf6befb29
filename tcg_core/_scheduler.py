"""resolve(): one event loop that runs a graph as early as its inputs allow.

Policy
------
* A node is *ready* the moment its last input is done; it is started at once if a
  worker is free. Nothing waits for a level or a batch to finish.
* When more nodes are ready than workers are free, the one with the longest remaining
  path to the end of the graph goes first (critical-path-first list scheduling). A
  node's weight is its ``cost=`` hint, else the mean duration measured in earlier runs
  of the same function, else 1. Without priorities (the serial executor, or a run
  where every node is tiny) the node made ready last runs first: depth-first, so a
  branch finishes before the next starts and its intermediate values are released
  early, and the order is reproducible.
* A node whose body creates other nodes (its *children*) hands them to this loop and
  returns; its worker is free again. The node completes when every child is done
  (returned or not), and its value is the returned structure with every future in it
  replaced by its value.
* Nodes whose measured mean duration is tiny run in the loop's own thread instead of
  being handed to a worker: a thread hand-off would cost more than the work.
* Fail fast by default: after the first failure nothing new starts and ``resolve``
  raises at once. With ``keep_going=True`` every node that does not depend on a failure
  still runs, and one error lists every failure.

State
-----
Per node, in the record's private slots: ``_npending`` (inputs or children not yet
done), ``_consumers`` (nodes of this run waiting on it), ``_run`` (the run that owns
it). Per run, in ``_Run``: the ready queue, the events queue workers report on, the
count of unfinished nodes and bodies in flight, timeout deadlines, and the failures.
The loop waits on its queue with a timeout, so Ctrl-C and deadlines get through.
"""

from __future__ import annotations

import gc
import heapq
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from time import perf_counter
from typing import Any
from weakref import ref as _weakref

from ._context import FRAME, BodyFrame, inside_body, worker_name
from ._errors import (
    CycleError,
    DependencyError,
    NodeError,
    NodeFailures,
    NodeTimeoutError,
    RecursionDepthError,
    ResolveCancelled,
    SerializationError,
    TcgError,
)
from ._executors import Adapter, make_adapter
from ._executors._base import describe_pool_failure
from ._executors._threads import ThreadsAdapter
from ._graph import NodeRecord, NodeState, describe_chain
from ._node import Future, require_futures, scan_futures, substitute

__all__ = ["DEFAULT_MAX_DEPTH", "resolve", "resolve_futures"]

DEFAULT_MAX_DEPTH = 200
#: Bodies measured faster than this run in the scheduler's thread (seconds).
INLINE_BELOW = 30e-6
_WAIT_SLICE = 0.2  # how long one wait may block before checking Ctrl-C and deadlines

PENDING, RUNNING, DONE = NodeState.PENDING, NodeState.RUNNING, NodeState.DONE
FAILED, SKIPPED = NodeState.FAILED, NodeState.SKIPPED
_FINISHED = frozenset(NodeState.FINISHED)
_NEEDS_SCAN = frozenset({list, tuple, dict, set, frozenset})

# Some interpreters freeze objects of their own at startup (CPython 3.12: a few hundred
# tuples); more than this means the application called gc.freeze().
_FROZEN_AT_IMPORT = gc.get_freeze_count()

# Claiming nodes and finishing them happen under one lock, so two resolves that share
# nodes agree on who runs each one and who waits.
_LOCK = threading.Lock()


@dataclass(eq=False)
class _Run:
    adapter: Adapter
    keep_going: bool
    max_depth: int
    inline_tiny: bool
    nested: bool  # this resolve() was called inside a running node's body
    events: SimpleQueue[Any] = field(default_factory=SimpleQueue)
    ready: Any = None
    unfinished: int = 0
    in_flight: int = 0
    external: dict[int, list[NodeRecord]] = field(default_factory=dict)
    watchers: dict[int, list[_Run]] = field(default_factory=dict)
    deadlines: list[tuple[float, int, NodeRecord, int]] = field(default_factory=list)
    inline_current: NodeRecord | None = None
    lost_workers: int = 0
    watchdog: Adapter | None = None
    root_waits: set[int] = field(default_factory=set)
    claimed: list[NodeRecord] = field(default_factory=list)
    ranks: dict[int, float] = field(default_factory=dict)
    failures: list[NodeError] = field(default_factory=list)
    stopped: bool = False
    todo: deque[tuple[str, NodeRecord]] = field(default_factory=deque)
    seq: Any = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.label = worker_name()
        self.frame = BodyFrame()
        self.ordered = self.adapter.workers > 1 and not self.adapter.inline
        self.prioritised = False  # set once a node that needs a worker is claimed
        self.ready = deque()
        self.heap: list[tuple[float, int, NodeRecord]] = []

    # -- claiming the part of the graph this run must execute ----------------------------
    def claim(self, roots: list[NodeRecord]) -> list[NodeRecord]:
        """Take every unfinished, unowned node reachable from ``roots`` through inputs,
        and count what each waits on.

        One pass, one visit per record and edge (on a large random graph each visit is
        a cache miss), with the per-edge work written inline: this loop runs once per
        node of every graph. An input passed twice is counted twice and notifies twice,
        which balances without de-duplicating each node's inputs.
        """
        new: list[NodeRecord] = []
        parents: list[NodeRecord] = []
        todo = self.todo
        with _LOCK:
            stack = [rec for rec in roots if rec._run is None and rec.state not in _FINISHED]
            for rec in stack:
                rec._run, rec._consumers = self, None
            stack = list(dict.fromkeys(stack))  # a root asked for twice is claimed once
            while stack:
                rec = stack.pop()
                new.append(rec)
                if rec.state == RUNNING:
                    # A parent an earlier resolve left waiting for its children: this
                    # run takes over the wait instead of running it again.
                    parents.append(rec)
                    for dep in _waits_of(rec):
                        if dep._run is None and dep.state not in _FINISHED:
                            dep._run, dep._consumers = self, None
                            stack.append(dep)
                    continue
                pending = 0
                inputs = rec._inputs
                if inputs is None:  # NodeRecord.inputs, written out
                    args = rec._args
                    if args.__class__ is Future:
                        inputs = rec._inputs = (args._record,)
                    elif args.__class__ is tuple:
                        inputs = rec._inputs = tuple([f._record for f in args])
                    else:
                        inputs = rec.inputs
                for inp in inputs:
                    owner = inp._run  # before the state: see finish()
                    state = inp.state
                    if state == DONE:
                        continue
                    if state in _FINISHED:
                        todo.append(("skip", rec))
                        rec.error = _dependency_error("input", inp)
                        continue
                    pending += 1
                    if owner is None:  # first seen: claim it, with this as its consumer
                        inp._run, inp._consumers = self, [rec]
                        stack.append(inp)
                    elif owner is self:
                        consumers = inp._consumers
                        if consumers is None:
                            inp._consumers = [rec]
                        else:
                            consumers.append(rec)
                    else:
                        self._wait_on(inp, rec)
                rec._npending = pending
                if pending == 0 and rec.state == PENDING:
                    todo.append(("ready", rec))
            self.unfinished += len(new)
            self.claimed.extend(new)
            for rec in parents:
                self._count_waits(rec)
        return new

    def _count_waits(self, rec: NodeRecord) -> None:
        """Set how many children and returned futures a parent waits on (under _LOCK)."""
        pending = 0
        for dep in _waits_of(rec):
            if dep.state == DONE:
                continue
            if dep.state in _FINISHED:
                rec.error = _dependency_error("child", dep)
                rec._npending = 0
                self.todo.append(("child_failed", rec))
                return
            pending += 1
            self._wait_on(dep, rec)
        rec._npending = pending
        if pending == 0:
            self.todo.append(("complete", rec))

    def _wait_on(self, producer: NodeRecord, consumer: NodeRecord | None) -> None:
        """Make ``consumer`` (``None``: the caller of resolve) wait for ``producer``."""
        owner = producer._run
        if owner is self and consumer is not None:
            if producer._consumers is None:
                producer._consumers = [consumer]
            else:
                producer._consumers.append(consumer)
            return
        if owner is not None and self.nested:
            who = f"node {consumer.name!r}" if consumer is not None else "resolve() in a node body"
            raise TcgError(
                f"{who} needs {producer.name!r} ({producer.path}), which another resolve() is "
                "still running; a node body cannot wait for it (that could deadlock the "
                "workers). Return the future from the body instead: the node's value becomes "
                "its value")
        if owner is self:
            raise TcgError(f"internal error: {producer!r} has no run to wait on")
        waiting = self.external.setdefault(producer.id, [])
        if consumer is not None:
            waiting.append(consumer)
        if owner is not None:
            owner.watchers.setdefault(producer.id, []).append(self)
        if owner is None or producer._run is not owner:
            # The owner let go of it (finished or released) meanwhile, maybe before
            # seeing this watcher: tell ourselves. on_external ignores a second notice.
            self.events.put(("external", producer))

    # -- priorities ----------------------------------------------------------------------
    def rank(self, records: list[NodeRecord]) -> None:
        """Longest remaining path for each new record (consumers first).

        Skipped while every node is measured tiny: those run inline the moment they are
        ready, so their order cannot delay anything and ranking would cost more.
        """
        if not self.ordered:
            return
        if not self.prioritised:
            if all(self.is_tiny(rec.spec) for rec in records):
                return
            self.prioritised = True
        ranks = self.ranks
        for rec in _consumers_first(records):
            below = 0.0
            for consumer in rec._consumers or ():
                rank = ranks.get(consumer.id, 0.0)
                if rank > below:
                    below = rank
            ranks[rec.id] = _weight(rec) + below

    def is_tiny(self, spec: Any) -> bool:
        """Run in the scheduler's thread: measured faster than a hand-off to a worker."""
        return (self.inline_tiny and spec.timeout is None and not self.adapter.isolated
                and spec.mean_duration is not None and spec.mean_duration < INLINE_BELOW)

    def push_ready(self, rec: NodeRecord) -> None:
        if self.prioritised:
            heapq.heappush(self.heap, (-self.ranks.get(rec.id, 0.0), next(self.seq), rec))
        else:
            self.ready.append(rec)

    def pop_ready(self) -> NodeRecord:
        if self.heap:
            return heapq.heappop(self.heap)[2]
        return self.ready.pop()  # type: ignore[no-any-return]

    def has_ready(self) -> bool:
        return bool(self.ready or self.heap)

    # -- starting bodies -----------------------------------------------------------------
    def start(self, rec: NodeRecord) -> None:
        if rec.state != PENDING:
            return
        spec = rec.spec
        if spec.timeout is None and (self.adapter.inline or self.is_tiny(spec)):
            self.run_inline(rec, spec)
            return
        rec.state = RUNNING
        rec.attempts += 1
        args, kwargs = _arguments(rec)
        adapter = self.adapter
        if adapter.inline:
            # Serial, but a timeout must be enforceable: run this body on a watchdog
            # thread and wait for it (nothing else starts meanwhile).
            if self.watchdog is None:
                self.watchdog = ThreadsAdapter(1)
            adapter = self.watchdog
        key = (rec, rec.attempts)
        submitted = time.perf_counter()
        rec._ran = (submitted, None, None)
        try:
            adapter.submit(spec, args, kwargs, self.events, key)
        except TcgError as exc:
            self.on_outcome(key, False, exc, counted=False)
            return
        self.in_flight += 1
        if spec.timeout is not None:
            heapq.heappush(self.deadlines, (submitted + spec.timeout, next(self.seq), rec,
                                            rec.attempts))

    def run_inline(self, rec: NodeRecord, spec: Any) -> None:
        """Run a body in this thread. The common case (one future argument, a plain
        value, no children) is written out here: it is the per-node hot path of serial
        and tiny nodes."""
        rec.state = RUNNING
        rec.attempts += 1
        args = rec._args
        kwargs = rec._kwargs
        if args.__class__ is Future:  # a lone future argument
            args = (args._value,)
        else:
            args, kwargs = _arguments(rec)
        self.inline_current = rec
        frame = self.frame  # current for the whole loop, reused until a body has children
        failure: Exception | None = None
        start = perf_counter()
        try:
            value = spec.func(*args, **kwargs) if kwargs else spec.func(*args)
        except Exception as exc:
            failure = exc
        end = perf_counter()
        self.inline_current = None
        children = frame.futures
        if children:
            self.frame = BodyFrame()
            FRAME.set(self.frame)  # loop() restores the caller's frame when it returns
        rec._ran = (start, end, self.label)
        if failure is not None:
            self.on_body_error(rec, failure)
            return
        mean = spec.mean_duration
        spec.mean_duration = end - start if mean is None else 0.8 * mean + 0.2 * (end - start)
        rec.error = None
        if children or value.__class__ in _NEEDS_SCAN or isinstance(value, Future):
            self.after_body(rec, value, children)
        elif spec.nout is not None:
            self.complete(rec, value)
        else:
            rec._handle._value = value
            self.finish(rec, DONE)

    # -- outcomes ------------------------------------------------------------------------
    def on_outcome(self, key: tuple[NodeRecord, int], ok: bool, payload: Any, *,
                   counted: bool = True) -> None:
        rec, attempt = key
        if rec._run is not self or rec.state != RUNNING or rec.attempts != attempt \
                or rec.end is not None:
            return  # a late answer from a body that timed out or was abandoned
        if counted:
            self.in_flight -= 1
        if ok:
            value, children, start, end, worker = payload
            rec._ran = (start, end, worker)
            rec.error = None
            rec.spec.record_duration(end - start)
            self.after_body(rec, value, children)
        else:
            ran = getattr(payload, "__tcg_ran__", None)
            if ran is not None:
                rec._ran = ran
            else:
                rec.end = time.perf_counter()
            self.on_body_error(rec, payload)

    def on_body_error(self, rec: NodeRecord, exc: BaseException) -> None:
        retryable = not isinstance(exc, (SerializationError, ResolveCancelled))
        if retryable and rec.attempts <= rec.spec.retries and not self.stopped:
            rec.state, rec.end, rec.error = PENDING, None, exc
            self.push_ready(rec)
            return
        self.fail(rec, exc)

    def after_body(self, rec: NodeRecord, value: Any, children: list[Future[Any]]) -> None:
        returned: list[Future[Any]] = []
        scan_futures(value, returned)
        if not children and not returned:
            self.complete(rec, value)
            return
        try:
            waits = self.adopt(rec, children, returned)
            rec._result = value
            new = self.claim(waits)
            with _LOCK:
                self._count_waits(rec)
        except TcgError as exc:
            self.fail(rec, exc)
            return
        self.rank(new)

    def adopt(self, rec: NodeRecord, children: list[Future[Any]],
              returned: list[Future[Any]]) -> list[NodeRecord]:
        """Make ``children`` the nested nodes of ``rec``; return what ``rec`` waits on."""
        child_records = [f._record for f in children]
        if child_records:
            lineage = rec.lineage()
            if len(lineage) >= self.max_depth:
                raise RecursionDepthError(
                    f"nodes nested {len(lineage) + 1} deep ({describe_chain(lineage)} › "
                    f"{child_records[0].name}), over max_depth={self.max_depth}: does the "
                    "recursion have a base case? Raise the limit with resolve(max_depth=...)")
            rec.children = child_records
            returned_ids = {f._record.id for f in returned}
            for child in child_records:
                child.parent = rec
                child.returned = child.id in returned_ids
        waits = dict.fromkeys(child_records)
        ancestors = {r.id for r in rec.lineage()}
        for fut in returned:
            if fut._record.id in ancestors:
                raise CycleError(
                    f"node {rec.name!r} ({rec.path}) returns the future of {fut._record.name!r}, "
                    "which is itself or encloses it, so it would wait on itself forever")
            waits[fut._record] = None
        return list(waits)

    def complete(self, rec: NodeRecord, value: Any) -> None:
        nout = rec.spec.nout
        if nout is not None:
            try:
                size = len(value)
            except TypeError:
                size = -1
            if size != nout:
                self.fail(rec, TypeError(
                    f"@node(nout={nout}) function {rec.name!r} returned "
                    f"{type(value).__name__} {value!r:.40}, not a sequence of {nout} values"))
                return
        handle = rec._handle
        if handle is not None:
            handle._value = value
        self.finish(rec, DONE)

    def finish(self, rec: NodeRecord, state: str) -> None:
        # No lock (it cost a fifth of a serial node): the state is written before the
        # owner is cleared, and whoever reads them reads the owner first, then the
        # state. A run that registers as a watcher checks the owner again afterwards,
        # so a watcher added after this pop still hears of the finish (_wait_on).
        rec.state = state
        rec._run = None
        watchers = self.watchers.pop(rec.id, None) if self.watchers else None
        handle = rec._handle
        # Keep only a weak reference: the value lives as long as the user's future.
        rec._handle = _weakref(handle) if handle is not None and state == DONE else None
        if rec._nest is not None:
            rec._nest.result = None
        rec._args = rec._kwargs = None
        self.unfinished -= 1
        consumers, rec._consumers = rec._consumers, None
        if consumers:
            if state == DONE and not self.prioritised:
                ready = self.ready
                for consumer in consumers:  # notify()'s common case, inlined
                    consumer._npending -= 1
                    if consumer._npending == 0:
                        if consumer.state == PENDING:
                            ready.append(consumer)
                        elif consumer.state == RUNNING:
                            self.todo.append(("complete", consumer))
            else:
                self.notify(rec, consumers)
        if watchers:
            for run in watchers:
                run.events.put(("external", rec))

    def notify(self, rec: NodeRecord, consumers: list[NodeRecord]) -> None:
        todo = self.todo
        if rec.state == DONE:
            for consumer in consumers:
                consumer._npending -= 1
                if consumer._npending == 0:
                    if consumer.state == PENDING:
                        self.push_ready(consumer)
                    elif consumer.state == RUNNING:
                        todo.append(("complete", consumer))
            return
        for consumer in consumers:
            if consumer.state == PENDING:
                consumer.error = _dependency_error("input", rec)
                todo.append(("skip", consumer))
            elif consumer.state == RUNNING:
                consumer.error = _dependency_error("child", rec)
                todo.append(("child_failed", consumer))

    def fail(self, rec: NodeRecord, exc: BaseException) -> None:
        rec.error = exc
        self.failures.append(node_error(rec))
        if not self.keep_going:
            self.stopped = True
        self.finish(rec, FAILED)

    def drain(self) -> None:
        """Work through completions and failure propagation without recursion."""
        todo = self.todo
        while todo:
            action, rec = todo.popleft()
            if action == "ready":
                if rec.state == PENDING and rec._npending == 0:
                    self.push_ready(rec)
            elif action == "complete":
                if rec.state == RUNNING:
                    self.complete(rec, substitute(rec._result))
            elif rec.state in (PENDING, RUNNING) and rec._run is self:
                self.finish(rec, SKIPPED if action == "skip" else FAILED)

    def on_external(self, rec: NodeRecord) -> None:
        """Another resolve finished ``rec``, or gave it up unfinished (then we run it)."""
        consumers = self.external.pop(rec.id, None)
        if consumers is None:
            return
        if rec.state in _FINISHED:
            if rec.id in self.root_waits:
                self.root_waits.discard(rec.id)
                self.unfinished -= 1
            if consumers:
                self.notify(rec, consumers)
            return
        new = self.claim([rec])
        with _LOCK:
            if rec._run is self and rec.id in self.root_waits:
                self.root_waits.discard(rec.id)
                self.unfinished -= 1
            elif rec.id in self.root_waits:
                self._wait_on(rec, None)
            for consumer in consumers:
                self._wait_on(rec, consumer)
        self.rank(new)

    def wait_for_roots(self, records: list[NodeRecord]) -> None:
        """Roots another resolve owns: wait for it to finish them."""
        with _LOCK:
            for rec in records:
                if rec._run is not None and rec._run is not self and rec.id not in self.root_waits:
                    self.root_waits.add(rec.id)
                    self.unfinished += 1
                    self._wait_on(rec, None)

    # -- the loop ------------------------------------------------------------------------
    def loop(self) -> None:
        """Run until every claimed node is finished, or the run stops."""
        # Bodies run inline see this run's frame: setting it once for the loop instead
        # of around every body saves two context-variable calls per node.
        token = FRAME.set(self.frame)
        try:
            self.run_until_done()
        finally:
            FRAME.reset(token)

    def run_until_done(self) -> None:
        adapter = self.adapter
        self.drain()
        if adapter.inline:
            ready, todo, start, run_inline = self.ready, self.todo, self.start, self.run_inline
            while ready and not self.stopped and not self.in_flight:
                rec = ready.pop()
                spec = rec.spec
                if spec.timeout is None and rec.state == PENDING:  # start()'s serial case
                    run_inline(rec, spec)
                else:
                    start(rec)
                if todo:
                    self.drain()
        while self.unfinished and not self.stopped:
            while self.has_ready() and self.has_capacity():
                self.start(self.pop_ready())
                self.drain()
                if self.stopped:
                    return
            if not self.unfinished or self.stopped:
                return
            if self.has_ready() and self.has_capacity():
                continue
            if self.lost_workers and self.lost_workers >= self.adapter.workers:
                self.starve()
                continue
            if not self.in_flight and not self.external:
                raise TcgError(f"resolve() cannot make progress: {self.unfinished} nodes wait "
                               f"on each other ({self.stuck()})")
            self.wait_for_events()

    def has_capacity(self) -> bool:
        if self.adapter.inline:
            return not self.in_flight  # serial: a watchdog body runs alone
        return self.in_flight < self.adapter.workers - self.lost_workers

    def starve(self) -> None:
        """Every worker of the user's executor is stuck in a timed-out body: nothing
        else can run, so fail what is left instead of waiting forever."""
        reason = (f"every worker of the executor ({self.adapter.workers}) is stuck in a node "
                  "that timed out; give the executor more workers, or fix the hanging node")
        for rec in list(self.claimed):
            if rec._run is self and rec.state in (PENDING, RUNNING) and rec.end is None:
                if rec.state == RUNNING:
                    self.in_flight -= 1
                    rec.end = time.perf_counter()
                self.fail(rec, TcgError(f"node {rec.name!r} ({rec.path}) cannot run: {reason}"))
        self.ready.clear()
        self.heap.clear()
        self.drain()

    def wait_for_events(self) -> None:
        timeout = _WAIT_SLICE
        if self.deadlines:
            timeout = max(0.0, min(timeout, self.deadlines[0][0] - time.perf_counter()))
        events = self.events
        try:
            event = events.get(timeout=timeout)
        except Empty:
            event = None
        while event is not None:
            self.dispatch(event)
            try:
                event = events.get_nowait()
            except Empty:
                event = None
        self.drain()
        self.expire_deadlines()

    def dispatch(self, event: Any) -> None:
        if event[0] == "external":
            self.on_external(event[1])
            return
        key, ok, payload = event
        if not ok:
            payload = _explain_pool_failure(key[0], payload)
        self.on_outcome(key, ok, payload)

    def expire_deadlines(self) -> None:
        deadlines = self.deadlines
        now = time.perf_counter()
        while deadlines and deadlines[0][0] <= now:
            _, _, rec, attempt = heapq.heappop(deadlines)
            if rec._run is self and rec.state == RUNNING and rec.attempts == attempt \
                    and rec.end is None:
                self.in_flight -= 1
                if not (self.watchdog or self.adapter).abandon_worker():
                    self.lost_workers += 1
                rec.end = now
                self.on_body_error(rec, NodeTimeoutError(
                    f"node {rec.name!r} ran longer than its timeout={rec.spec.timeout}s; its "
                    "thread or process was abandoned (it cannot be interrupted safely)"))
        self.drain()

    def stuck(self) -> str:
        waiting = [r for r in self.claimed if r._run is self][:5]
        return ", ".join(f"{r.path} ({r.state})" for r in waiting) or "no nodes"

    def abandon(self, bodies_killed: bool) -> None:
        """Stop, leaving nothing stuck for a later resolve.

        Nodes not started, and bodies that were interrupted or killed, go back to
        pending; a parent waiting for children is released mid-wait (a later resolve
        takes the wait over). Bodies still running elsewhere keep their node: a
        background thread records their outcome when it arrives, so nothing runs twice
        and no result is lost.
        """
        self.ready.clear()
        self.heap.clear()
        self.todo.clear()
        if not self.unfinished and not self.lost_workers:
            self.claimed.clear()  # a clean finish: every claimed node is finished already
            return
        flying: list[NodeRecord] = []
        for rec in self.claimed:
            if rec._run is not self:
                continue
            running_body = rec.state == RUNNING and rec.end is None
            if running_body and not bodies_killed and rec is not self.inline_current:
                rec._consumers = None
                flying.append(rec)
                continue
            if running_body:
                rec.state = PENDING
            self.release(rec)
        self.claimed.clear()
        if flying:
            _Finisher(self, flying).start()

    def shut_down(self, *, cancel: bool) -> None:
        """Release what is left and close what this run created."""
        self.abandon(bodies_killed=cancel and self.adapter.kills_on_cancel)
        self.adapter.close(cancel=cancel)
        if self.watchdog is not None:
            self.watchdog.close(cancel=cancel)

    def release(self, rec: NodeRecord) -> None:
        with _LOCK:
            rec._run = None
            watchers = self.watchers.pop(rec.id, None)
        rec._consumers, rec._npending = None, 0
        for run in watchers or ():
            run.events.put(("external", rec))


class _Finisher(threading.Thread):
    """Collects the outcomes of bodies still running when their resolve stopped."""

    def __init__(self, run: _Run, flying: list[NodeRecord]) -> None:
        super().__init__(name="tcg-finisher", daemon=True)
        self.run_ = run
        self.flying = {rec.id: rec for rec in flying}

    def run(self) -> None:
        owner = self.run_
        while self.flying:
            timeout = None
            if owner.deadlines:
                timeout = max(0.0, owner.deadlines[0][0] - time.perf_counter())
            try:
                event = owner.events.get(timeout=timeout)
            except Empty:
                self.expire()
                continue
            if event[0] != "external":
                self.record(*event)

    def record(self, key: tuple[NodeRecord, int], ok: bool, payload: Any) -> None:
        rec, attempt = key
        if self.flying.pop(rec.id, None) is None or rec.attempts != attempt:
            return
        owner = self.run_
        if not ok:
            rec.end = time.perf_counter()
            rec.error = payload
            owner.finish(rec, FAILED)
            return
        value, children, *ran = payload
        rec._ran = tuple(ran)
        returned: list[Future[Any]] = []
        scan_futures(value, returned)
        if not children and not returned:
            owner.complete(rec, value)
            return
        try:
            owner.adopt(rec, children, returned)
        except TcgError as exc:
            rec.error = exc
            owner.finish(rec, FAILED)
            return
        rec._result = value
        owner.release(rec)  # a parent mid-wait: the next resolve that needs it continues

    def expire(self) -> None:
        owner = self.run_
        now = time.perf_counter()
        while owner.deadlines and owner.deadlines[0][0] <= now:
            _, _, rec, attempt = heapq.heappop(owner.deadlines)
            if self.flying.pop(rec.id, None) is not None and rec.attempts == attempt:
                rec.end = now
                rec.error = NodeTimeoutError(
                    f"node {rec.name!r} ran longer than its timeout={rec.spec.timeout}s")
                owner.finish(rec, FAILED)


def _arguments(rec: NodeRecord) -> tuple[tuple[Any, ...], dict[str, Any] | None]:
    """A claimed node's call arguments, every future replaced by its value. They stay
    on the record until it completes: a retry, or a later resolve after this one is
    interrupted, needs them again."""
    args, kwargs = rec._args, rec._kwargs
    if args is None:
        args = ()
    elif args.__class__ is not tuple:  # a lone future argument
        return (args._value,), kwargs
    if not rec._inputs:  # claimed, so made already
        return args, kwargs
    args = tuple([a._value if a.__class__ is Future else substitute(a) for a in args])
    return args, substitute(kwargs) if kwargs else kwargs


def _waits_of(rec: NodeRecord) -> list[NodeRecord]:
    """What a parent waits on: its children and whatever futures its body returned."""
    returned: list[Future[Any]] = []
    scan_futures(rec._result, returned)
    return list(dict.fromkeys([*(rec.children or ()), *(f._record for f in returned)]))


def _weight(rec: NodeRecord) -> float:
    spec = rec.spec
    if spec.cost is not None:
        return float(spec.cost)
    if spec.mean_duration is not None:
        return float(spec.mean_duration)
    return 1.0


def _consumers_first(records: list[NodeRecord]) -> list[NodeRecord]:
    """``records`` ordered so that every node comes after the nodes that consume it, for
    computing remaining-path lengths. Records are keyed by identity: this runs once per
    node of a graph whose nodes are not all measured tiny."""
    indegree = dict.fromkeys(records, 0)
    for rec in records:
        consumers = rec._consumers
        if consumers:
            indegree[rec] = sum(1 for c in consumers if c in indegree)
    order = [rec for rec, count in indegree.items() if count == 0]
    for rec in order:  # grows while it is walked
        children = rec.children
        for inp in (rec.inputs if children is None else (*rec.inputs, *children)):
            count = indegree.get(inp)
            if count is not None:
                indegree[inp] = count - 1
                if count == 1:
                    order.append(inp)
    return order if len(order) == len(indegree) else records


def _dependency_error(role: str, dep: NodeRecord) -> DependencyError:
    """Why a node could not complete: ``dep`` (an input or child) failed. The failure it
    stems from is chained as ``__cause__``, so the original exception is never lost."""
    err = DependencyError(f"{role} {dep.name!r} ({dep.path}) {dep.state}")
    if dep.error is not None:
        err.__cause__ = node_error(dep)
    return err


def node_error(rec: NodeRecord) -> NodeError:
    """The user-facing error for a failed or skipped node, cause chained."""
    cause = rec.error
    if rec.state == SKIPPED or isinstance(cause, DependencyError):
        message = f"node {rec.name!r} ({rec.path}) did not complete: {cause}"
    else:
        message = (f"node {rec.name!r} failed ({rec.path}): "
                   f"{type(cause).__name__}: {cause}")
    if rec.attempts > 1:
        message += f" (after {rec.attempts} attempts)"
    err = NodeError(message, node=rec, path=rec.path)
    err.__cause__ = cause
    return err


def _explain_pool_failure(rec: NodeRecord, exc: BaseException) -> BaseException:
    described = describe_pool_failure(exc)
    if described is None:
        return exc
    kind, reason = described
    wrapped = kind(f"node {rec.name!r} ({rec.path}): {reason}")
    wrapped.__cause__ = exc
    return wrapped


def resolve_futures(futures: list[Future[Any]], *, executor: Any = None,
                    max_workers: int | None = None, keep_going: bool = False,
                    max_depth: int = DEFAULT_MAX_DEPTH, inline_tiny: bool = True) -> list[Any]:
    """Resolve ``futures`` in one run and return their values in order."""
    records = [f._record for f in futures]
    if all(r.state == DONE for r in records):
        return [f._get() for f in futures]
    nested = inside_body()
    # A body that resolves inside its worker runs the inner graph right there: it
    # cannot take a second worker from a pool it is itself occupying.
    adapter = make_adapter("serial" if nested else executor, max_workers)
    run = _Run(adapter, keep_going=keep_going, max_depth=max_depth,
               inline_tiny=inline_tiny, nested=nested)
    frozen = False
    try:
        # A big graph would make every full collection rescan it; what exists now
        # mostly stays alive while we run anyway, so let the GC skip it until we
        # return. Not when the application froze objects since tcg_core was imported
        # (a server that freezes before forking): unfreezing would undo that.
        frozen = (not nested and gc.isenabled()
                  and gc.get_freeze_count() <= _FROZEN_AT_IMPORT)
        if frozen:
            gc.freeze()
        run.rank(run.claim(records))
        run.wait_for_roots(records)
        run.loop()
    except BaseException:
        run.shut_down(cancel=True)
        raise
    finally:
        if frozen:
            gc.unfreeze()
    run.shut_down(cancel=bool(run.failures))
    if run.failures:
        if keep_going:
            raise NodeFailures(run.failures)
        raise run.failures[0]
    return [_value_of(f) for f in futures]


def _value_of(future: Future[Any]) -> Any:
    rec = future._record
    if rec.state != DONE:
        raise node_error(rec) if rec.error is not None else TcgError(
            f"node {rec.name!r} ({rec.path}) is {rec.state}")
    return future._get()


def resolve(*futures: Any, executor: Any = None, max_workers: int | None = None,
            keep_going: bool = False, max_depth: int = DEFAULT_MAX_DEPTH,
            inline_tiny: bool = True) -> tuple[Any, ...]:
    """Resolve several futures in one run; returns their values as a tuple.

    ``executor`` is ``"threads"`` (default), ``"serial"``, ``"processes"``, ``"dask"``,
    any ``concurrent.futures.Executor`` or a ``distributed.Client``. ``max_workers``
    caps how many bodies run at once; ``keep_going`` finishes every branch a failure
    does not touch; ``max_depth`` bounds nesting (runaway recursion); ``inline_tiny``
    lets nodes measured to take microseconds run without a thread hand-off.

    >>> from tcg_core import node, resolve
    >>> @node
    ... def square(x):
    ...     return x * x
    >>> resolve(square(2), square(3), executor="serial")
    (4, 9)
    """
    checked = require_futures(futures, "resolve()")
    return tuple(resolve_futures(checked, executor=executor, max_workers=max_workers,
                                 keep_going=keep_going, max_depth=max_depth,
                                 inline_tiny=inline_tiny))

"""A node's lifecycle in one resolve: its states, and one method per transition.

Lifecycle
---------
Each arrow is one method of ``Lifecycle`` (``release`` is in ``_stopping``)::

    pending ─make_ready─▶ ready ─start─▶ running
    running ─body_returned─▶ done                      (no children: complete)
    running ─body_returned─▶ waiting ─complete─▶ done  (children or returned futures)
    running ─body_raised─▶ ready                       (retry: retries= left)
    running ─body_raised─▶ failed                      (fail)
    running ─interrupt─▶ pending                       (KeyboardInterrupt, SystemExit)
    waiting ─child_failed─▶ failed
    pending, ready ─skip─▶ skipped                     (an input failed)
    pending, ready ─fail_the_rest─▶ failed             (no worker left; nothing can run)
    done ─lose─▶ failed                                (its only copy was lost unfetched)
    unfinished ─release─▶ pending (waiting stays waiting; the resolve stopped)

A resolve that hands the graph to Dask (``_handover.HandoverRun``) adds three, and its
``running`` means "handed to the cluster"::

    pending ─make_ready_on_cluster─▶ ready   (every input done or handed over)
    running ─skip─▶ skipped                  (handed over; then an input failed)
    running ─resend─▶ ready                  (handed over; an input's retry succeeded)

The same arrows are the table ``_transitions.ARROWS``; in the validate mode (on in
tcg's own tests) every state change is checked against it.

Invariants
----------
* A finished node (done, failed, skipped) has no owner and never changes again, but
  for ``lose``: a value that existed only in a worker that died is not a value.
* A ready or running node has an owner. A running node's body is either running in
  the resolve's own thread (``inline_current``) or on a worker (``in_flight``).
* Every end of a body, wherever it ran (inline, on a worker, past its timeout, after
  the resolve stopped), goes through one outcome path: ``body_returned`` or
  ``body_raised``. So retries, messages and timeouts follow one set of rules.
* Whatever tcg's own code raises while it handles a node (substituting arguments,
  unpacking or substituting returned values, describing an error) fails that node with
  an error naming it (``internal_failure``); a node is never left half-way.
* ``KeyboardInterrupt`` and ``SystemExit`` raised by a body stop the resolve as Ctrl-C
  does, on every executor: the node goes back to pending, the exception propagates
  unchanged, and it is never retried. Any other exception fails the node.

"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import heapq
from time import perf_counter
from types import CoroutineType
from typing import Any
from weakref import ref as _weakref

from .._context import FRAME, BodyFrame, Err, await_returned
from .._errors import ClusterGone, TcgError
from .._executors._base import Adapter
from .._executors._threads import ThreadsAdapter
from .._record import Handle, NodeRecord, State
from .._values import PLAIN, arguments, nout_problem, scan_futures, substitute
from ._failures import (
    describe_call,
    explain_pool_failure,
    internal_error,
    node_error,
    not_retried,
)
from ._nesting import adopt
from ._priority import is_tiny, measured, rank
from ._sharing import (
    FREE_THREADED,
    LOCK,
    claim,
    count_waits,
    let_go,
)
from ._state import COMPLETE, EXTERNAL, FINISHED, MAYBE_READY, SKIP, RunState, notify
from ._stopping import release
from ._transitions import DONE, FAILED, PENDING, READY, RUNNING, SKIPPED, WAITING

__all__ = ["STOPS", "Lifecycle"]


#: Exceptions that stop a resolve instead of failing a node.
STOPS = (KeyboardInterrupt, SystemExit, ClusterGone)


class Lifecycle(RunState):
    """A run's transitions: every change of a node's state is one of these methods
    (the loop that calls them is ``Run``)."""

    def make_ready(self, rec: NodeRecord) -> None:
        """pending → ready: every input is done."""
        if rec.state == PENDING and rec._npending == 0 and rec._run is self:
            rec.state = READY
            self.queue_ready(rec)

    def start(self, rec: NodeRecord) -> None:
        """ready → running: run the body inline, or hand it to a worker."""
        if rec.state != READY:
            return  # skipped (or released) while it was queued
        spec = rec.spec if self.overrides is None else self.overrides.spec_for(rec)
        if spec.timeout is None and (self.adapter.inline or is_tiny(self, spec)):
            self.run_inline(rec, spec)
            return
        begun = self.begin_attempt(rec)
        if begun is None:
            return
        args, kwargs = begun
        adapter = self.adapter
        if adapter.inline:
            # Serial, but a timeout must be enforceable: run this body on a watchdog
            # thread and wait for it (nothing else starts meanwhile).
            if self.watchdog is None:
                self.watchdog = ThreadsAdapter(1)
            adapter = self.watchdog
        elif adapter.isolated and getattr(spec, "_tcg_replaced", False):
            adapter = self.adapter_here()
        attempt = rec.attempts
        submitted = perf_counter()
        rec._ran = (submitted, None, None)
        self.in_flight[rec] = attempt
        try:
            adapter.submit(spec, args, kwargs, self.events, (rec, attempt))
        except BaseException as exc:
            del self.in_flight[rec]
            self.on_outcome(rec, False, Err(exc))
            return
        if spec.timeout is not None:
            heapq.heappush(self.deadlines, (submitted + spec.timeout, next(self.seq), rec,
                                            attempt))

    def adapter_here(self) -> Adapter:
        """Threads in this process for test doubles under an executor whose bodies run
        in other processes. A double keeps state (a ``Mock``'s ``side_effect`` sequence,
        its call records, a counter in a closure): shipped, each task would get a fresh
        copy of it, so ``[10, 20, 30]`` would answer 10, 10, 10. Run here, it answers
        as on threads, and the test's own object records the calls."""
        if self.here is None:
            self.here = ThreadsAdapter(self.adapter.workers)
        return self.here

    def begin_attempt(self, rec: NodeRecord
                      ) -> tuple[tuple[Any, ...], dict[str, Any] | None] | None:
        """ready → running for a body that goes to a worker: its arguments, or ``None``
        when substituting them failed (the node is failed then)."""
        rec.state = RUNNING
        rec.attempts += 1
        try:
            return arguments(rec)
        except BaseException as exc:
            self.internal_failure(rec, "substituting its arguments", exc)
            return None

    def run_inline(self, rec: NodeRecord, spec: Any) -> None:
        """ready → running → (done, waiting, failed...) in this thread.

        The per-node hot path of serial and tiny nodes: the common case (one future
        argument, a plain value, no children) is written out here instead of going
        through ``arguments``, ``record_duration`` and ``body_returned``; the test
        ``test_the_inline_fast_path_and_the_outcome_path_agree`` keeps the copies equal.
        """
        rec.state = RUNNING
        rec.attempts += 1
        args: Any = rec._args  # one of the call's shapes (NodeRecord._args), by class
        kwargs = None
        if args.__class__ is not tuple:  # a lone plain future
            args = (args._value,)
        else:
            try:
                args, kwargs = arguments(rec)
            except BaseException as exc:
                self.internal_failure(rec, "substituting its arguments", exc)
                return
        frame = self.frame  # current for the whole loop, replaced once a body has children
        self.inline_current = rec
        start = perf_counter()
        try:
            value = spec.body(*args, **kwargs) if kwargs else spec.body(*args)
            if value.__class__ is CoroutineType:  # run_body's check, written out
                value = await_returned(value)
        except BaseException as exc:
            end = perf_counter()
            self.inline_current = None
            if frame.futures:
                self.fresh_frame()
            rec._ran = (start, end, self.label)
            self.on_raised(rec, exc)
            return
        end = perf_counter()
        self.inline_current = None
        try:
            children = frame.futures
            if children:
                self.fresh_frame()
            rec._ran = (start, end, self.label)
            durations = self.durations  # record_duration, written out
            try:
                durations[spec] = 0.8 * durations[spec] + 0.2 * (end - start)
            except KeyError:  # its first body in this resolve
                durations[spec] = end - start
            # Any value but a plain scalar may hold futures somewhere (see _values).
            if children or spec.nout is not None or value.__class__ not in PLAIN:
                self.body_returned(rec, value, children)
            else:  # body_returned's common case, written out
                rec.error = None
                handle = rec._future
                if handle is not None:
                    handle._value = value
                self.finish(rec, DONE)
        except BaseException as exc:
            self.internal_failure(rec, "handling what its body returned", exc)

    def fresh_frame(self) -> None:
        """The last inline body created children in the loop's frame: give the next
        body a new one (the loop restores the caller's frame when it returns)."""
        self.frame = BodyFrame()
        FRAME.set(self.frame)

    def on_outcome(self, rec: NodeRecord, ok: bool, payload: Any) -> None:
        """The end of a body that ran on a worker (or could not be sent to one):
        ``payload`` is an ``Ok`` (the executor's own success payload on Dask and kept
        processes) when ``ok``, else an ``Err``."""
        try:
            if ok:
                value, children, start, end, worker = payload
                rec._ran = (start, end, worker)
                self.record_duration(rec.spec, end - start)
                measured(self, rec.spec)
                self.body_returned(rec, value, children)
                return
            ran = payload.ran
            rec._ran = ran if ran is not None else (rec.start, perf_counter(), rec.worker)
            error = explain_pool_failure(rec, payload.error)
        except BaseException as exc:
            self.internal_failure(rec, "recording its outcome", exc)
            return
        self.on_raised(rec, error)

    def on_raised(self, rec: NodeRecord, exc: BaseException) -> None:
        try:
            self.body_raised(rec, exc)
        except BaseException as err:
            self.internal_failure(rec, "handling the exception its body raised", err)

    def body_returned(self, rec: NodeRecord, value: Any, children: list[Any]) -> None:
        """running → done, or → waiting when the body created children or returned
        futures."""
        rec.error = None
        returned: list[Handle] = []
        scan_futures(value, returned)
        if not children and not returned:
            self.complete(rec, value)
            return
        try:
            waits = adopt(self, rec, children, returned)
        except TcgError as exc:
            self.fail(rec, exc)
            return
        rec._more().result = value
        rec.state = WAITING
        if self.closing:  # a late body: the next resolve that needs it takes the wait over
            release(self, rec)
            return
        try:
            new = claim(self, waits)
            with LOCK:
                count_waits(self, rec)
        except TcgError as exc:
            self.fail(rec, exc)
            return
        if self.needs_hooks:
            self.take_hooks(new)
        rank(self, new)

    def take_hooks(self, records: list[NodeRecord]) -> None:
        """A call whose function needs the observing loop (``cache=True``,
        ``verbose=True``) is among ``records``, just claimed: the run observes from here
        on (``on_hooks_needed``). A plain resolve pays for the hooks only when its own
        graph needs them."""
        self.needs_hooks = False
        if self.on_hooks_needed is not None:
            self.on_hooks_needed(self, records)

    def body_raised(self, rec: NodeRecord, exc: BaseException) -> None:
        """running → ready (a retry), → failed, or → pending (the resolve stops)."""
        if isinstance(exc, STOPS):
            self.interrupt(rec, exc)
            return
        if (rec.attempts <= rec.spec.retries and not self.stopped and not self.closing
                and not not_retried(exc)):
            self.retry(rec, exc)
            return
        self.fail(rec, exc)

    def retry(self, rec: NodeRecord, exc: BaseException) -> None:
        """running → ready: keep this attempt's error and queue the node again."""
        extra = rec._more()
        if extra.attempt_errors is None:
            extra.attempt_errors = []
        extra.attempt_errors.append(exc)
        rec.state = READY
        self.queue_ready(rec)

    def interrupt(self, rec: NodeRecord, exc: BaseException) -> None:
        """running → pending, and the resolve stops with ``exc`` (Ctrl-C, sys.exit)."""
        if rec.state in (RUNNING, READY):
            rec.state = PENDING
        if self.closing:  # a late body: there is no caller left to stop
            release(self, rec)
            return
        raise exc

    def complete(self, rec: NodeRecord, value: Any) -> None:
        """running or waiting → done, with ``value`` (checked against ``nout=``)."""
        nout = rec.spec.nout
        if nout is not None:  # tested here first: complete() is on every node's path
            problem = nout_problem(rec.name, nout, value)
            if problem is not None:
                self.fail(rec, problem)
                return
        handle = rec._future
        if handle is not None:
            handle._value = value
        self.finish(rec, DONE)

    def complete_waiting(self, rec: NodeRecord) -> None:
        """waiting → done: every child and returned future is done."""
        if rec.state != WAITING or rec._run is not self:
            return
        try:
            value = substitute(rec._more().result)
            self.complete(rec, value)
        except BaseException as exc:
            self.internal_failure(rec, "substituting the values of the futures its body "
                                       "returned", exc)

    def fail(self, rec: NodeRecord, exc: BaseException) -> None:
        """→ failed, and the failure is reported (fail-fast stops the run)."""
        if rec.state in FINISHED:
            return
        rec.error = exc
        self.failures.append(node_error(rec))
        if not self.options.keep_going:
            self.stopped = True
        self.finish(rec, FAILED)

    def lose(self, rec: NodeRecord, error: TcgError) -> None:
        """done → failed: the only copy of the value (on a Dask worker, or in one of tcg's
        worker processes) was lost before it could be fetched, and could not be made
        again. The one change of a finished node: a done node must never hand out a
        placeholder for its value, and it cannot go back to pending, since its arguments
        (and its inputs' values) are gone."""
        assert rec.state == DONE, f"lose() of a node that is {rec.state}"
        rec.state = FAILED
        rec.error = error
        self.failures.append(node_error(rec))

    def child_failed(self, rec: NodeRecord, error: BaseException) -> None:
        """waiting → failed: a child failed (the child's failure is the one reported)."""
        if rec.state == WAITING and rec._run is self:
            rec.error = error
            self.finish(rec, FAILED)

    def skip(self, rec: NodeRecord, error: BaseException) -> None:
        """pending or ready → skipped: an input failed."""
        if rec.state in (PENDING, READY) and rec._run is self:
            rec.error = error
            self.finish(rec, SKIPPED)

    def internal_failure(self, rec: NodeRecord, doing: str, exc: BaseException) -> None:
        """tcg's own handling of ``rec`` raised: fail the node with an error naming it,
        instead of leaving it half-way (Ctrl-C and sys.exit still stop the resolve)."""
        if isinstance(exc, STOPS):
            self.interrupt(rec, exc)
            return
        error = internal_error(rec, doing, exc)
        if rec.state in FINISHED:  # it broke after the node was final: still report it
            err = node_error(rec)
            err.__cause__ = error
            self.failures.append(err)
            self.stopped = self.stopped or not self.options.keep_going
            return
        self.fail(rec, error)

    def finish(self, rec: NodeRecord, state: State) -> None:
        """The tail every final transition shares: write the state, let go of the node,
        keep the value only as long as the user's future lives, tell who waits."""
        if state != DONE and rec._args is not None:
            # Described before its arguments go: a failure below it, reported later,
            # names this call as the one it was inside (``_enclosing_calls``).
            described = rec._more()
            if described.call is None:
                described.call = describe_call(rec)
        if FREE_THREADED:
            watchers = let_go(self, rec, state)
        else:  # let_go's lock-free case, written out: it is on every node's path
            rec.state = state
            rec._run = None
            watchers = self.watchers.pop(rec.id, None) if self.watchers else None
        handle = rec._future
        rec._future = None
        if handle is not None and state == DONE:
            rec._value_ref = _weakref(handle)
        extra = rec._extra
        if extra is not None:
            extra.result = None
        if rec._inputs is None:  # the graph keeps its edges once the arguments are gone
            rec._inputs = rec.inputs
        rec._args = rec._kwargs = None
        self.unfinished -= 1
        consumers, rec._consumers = rec._consumers, None
        if consumers:
            if state == DONE and not self.prioritised:
                ready, todo = self.ready, self.todo
                for consumer in consumers:  # notify()'s common case, written out
                    consumer._npending -= 1
                    if consumer._npending == 0:
                        if consumer.state == PENDING:
                            consumer.state = READY
                            ready.append(consumer)
                        elif consumer.state == WAITING:
                            todo.append((COMPLETE, consumer, None))
            else:
                notify(self, rec, consumers)
        if watchers:
            for run in watchers:
                run.events.put(((rec, EXTERNAL), True, None))

    def drain(self) -> None:
        """Work through the queued follow-up actions without recursion."""
        todo = self.todo
        while todo:
            action, rec, detail = todo.popleft()
            if action == MAYBE_READY:
                self.make_ready(rec)
            elif action == COMPLETE:
                self.complete_waiting(rec)
            elif action == SKIP:
                self.skip(rec, detail)
            else:
                self.child_failed(rec, detail)

"""The loop that drives a resolve: start ready nodes while workers are free, wait for
events otherwise, and hand every event to the lifecycle's transitions (``_lifecycle``).

The policy (which ready node goes next, and why) is in the package docstring. The loop
waits on its event queue with a timeout, so Ctrl-C and deadlines get through.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import heapq
from queue import Empty
from time import perf_counter

from .._context import FRAME
from .._record import NodeRecord
from ._lifecycle import Lifecycle
from ._priority import rank
from ._sharing import (
    claim,
    on_external,
    wait_for_roots,
)
from ._state import EXTERNAL, Event
from ._stopping import LateOutcomes, abandon, expire_deadlines, starved, stuck
from ._transitions import READY, check_finished

__all__ = ["Run"]


#: How long one wait may block before checking Ctrl-C and deadlines (seconds).
WAIT_SLICE = 0.2


class Run(Lifecycle):
    """One resolve: its loop (the transitions are in ``Lifecycle``, the state in
    ``RunState``)."""

    # -- entry ---------------------------------------------------------------------------
    def execute(self, roots: list[NodeRecord]) -> None:
        """Run until every node ``roots`` need is finished, or the run stops."""
        # Bodies run inline see this run's frame: setting it once for the loop instead
        # of around every body saves two context-variable calls per node.
        token = FRAME.set(self.frame)
        try:
            claimed = claim(self, roots)
            if self.needs_hooks:
                self.take_hooks(claimed)
            rank(self, claimed)
            wait_for_roots(self, roots)
            self.loop()
        finally:
            FRAME.reset(token)

    def run_to_end(self, roots: list[NodeRecord]) -> None:
        """``execute``, then ``shut_down``: cancelling what is left when it raised or a
        node failed."""
        try:
            self.execute(roots)
        except BaseException:
            self.interrupted = True
            self.shut_down(cancel=True)
            raise
        self.shut_down(cancel=bool(self.failures))

    def shut_down(self, *, cancel: bool) -> None:
        """Release what is left, close what this run created, and hand bodies still
        running to a background thread that records their outcomes."""
        flying = abandon(self, bodies_killed=cancel and self.adapter.kills_on_cancel)
        self.closing = True
        self.adapter.close(cancel=cancel)
        if self.watchdog is not None:
            self.watchdog.close(cancel=cancel)
        if self.here is not None:
            self.here.close(cancel=cancel)
        if flying:
            LateOutcomes(self, flying, self.dispatch_late, self.expire).start()
        elif self.validate:
            check_finished(self, self.claimed, self.in_flight)

    # -- events --------------------------------------------------------------------------
    def dispatch(self, event: Event) -> None:
        """One event from the queue: a body's outcome, or a notice from another run."""
        (rec, attempt), ok, payload = event
        if attempt == EXTERNAL:
            claimed = on_external(self, rec)
            if self.needs_hooks:
                self.take_hooks(claimed)
            rank(self, claimed)
            return
        if self.in_flight.get(rec) != attempt:
            return  # a late answer from a body that timed out
        del self.in_flight[rec]
        self.on_outcome(rec, ok, payload)

    def receive(self, event: Event) -> None:
        """``dispatch``, safe: if handling an outcome raises, the node it was for fails
        instead of waiting for an answer that was already received."""
        try:
            self.dispatch(event)
        except BaseException as exc:
            (rec, attempt), _, _ = event
            if attempt == EXTERNAL or self.in_flight.get(rec) != attempt:
                raise  # nothing of this run is left waiting on it
            del self.in_flight[rec]
            self.internal_failure(rec, "receiving its outcome", exc)

    def dispatch_late(self, event: Event) -> None:
        """An outcome that arrives after the resolve returned (``LateOutcomes``)."""
        self.receive(event)
        self.drain()

    def expire(self) -> None:
        """Fail (or retry) the bodies past their timeout."""
        for rec, _, error in expire_deadlines(self):
            self.on_raised(rec, error)
        self.drain()

    # -- the loop ------------------------------------------------------------------------
    def loop(self) -> None:
        """Start ready nodes while workers are free; wait for events otherwise."""
        self.drain()
        if self.adapter.inline:
            self.serial_loop()
        while self.unfinished and not self.stopped:
            while (self.ready or self.heap) and self.has_capacity():
                self.start(self.pop_ready())
                self.drain()
                if self.stopped:
                    return
            if not self.unfinished or self.stopped:
                return
            if (self.ready or self.heap) and self.has_capacity():
                continue
            if self.lost_workers and self.lost_workers >= self.adapter.workers:
                self.fail_the_rest(starved(self))
                continue
            if not self.in_flight and not self.external:
                self.fail_the_rest(stuck(self))
                continue
            self.wait_for_events()

    def serial_loop(self) -> None:
        """The serial executor's loop: every body inline, depth-first."""
        ready, todo, start, run_inline = self.ready, self.todo, self.start, self.run_inline
        pick = self.adapter.pick
        # A bound pop costs what ready.pop() did: the default order stays as fast.
        pop = ready.pop if pick is None else lambda: pick(ready)
        overrides = self.overrides
        while ready and not self.stopped and not self.in_flight:
            rec = pop()
            spec = rec.spec if overrides is None else overrides.spec_for(rec)
            if spec.timeout is None and rec.state == READY:  # start()'s serial case
                run_inline(rec, spec)
            else:
                start(rec)
            if todo:
                self.drain()

    def pop_ready(self) -> NodeRecord:
        if self.heap:
            return heapq.heappop(self.heap)[2]
        pick = self.adapter.pick
        return self.ready.pop() if pick is None else pick(self.ready)

    def has_capacity(self) -> bool:
        if self.adapter.inline:
            return not self.in_flight  # serial: a watchdog body runs alone
        adapter = self.adapter
        in_flight = self.in_flight
        if not in_flight:  # the tiny-node path: no body on a worker, skip the async count
            return self.lost_workers < adapter.workers
        return len(in_flight) - adapter.detached < adapter.workers - self.lost_workers

    def wait_for_events(self) -> None:
        timeout = WAIT_SLICE
        if self.deadlines:
            timeout = max(0.0, min(timeout, self.deadlines[0][0] - perf_counter()))
        events = self.events
        try:
            event: Event | None = events.get(timeout=timeout)
        except Empty:
            event = None
        while event is not None:
            self.receive(event)
            try:
                event = events.get_nowait()
            except Empty:
                event = None
        self.drain()
        self.expire()

    def fail_the_rest(self, doomed: list[tuple[NodeRecord, BaseException]]) -> None:
        """Fail what cannot run any more (see ``starved`` and ``stuck``)."""
        for rec, error in doomed:
            self.in_flight.pop(rec, None)
            self.fail(rec, error)
        # Whatever the count says, nothing of ours is left to wait for: never spin.
        self.unfinished = min(self.unfinished, len(self.root_waits))
        self.drain()

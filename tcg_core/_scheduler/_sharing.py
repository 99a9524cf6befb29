"""Resolves that share nodes: who runs each node, who waits, and why it holds.

Two resolves (in two threads, or one nested in a body) may reach the same unfinished
node. Exactly one of them *owns* it (``record._run``) and runs it; the other registers
as a *watcher* and is sent a notice (an ``EXTERNAL`` event) when the owner finishes it
or lets it go unfinished, then claims it itself.

The protocol
------------
* Claiming, registering a watcher and releasing a node happen under ``LOCK``.
* Finishing a node takes no lock where the GIL orders memory (it is on every node's
  path): the owner writes the final state first, then clears ``_run``, then pops the
  watchers. A claimer reads ``_run`` first, then the state; so it either sees the owner
  (and registers), or sees no owner and a final state. A watcher that registered after
  the owner popped the watchers would never be told: so after registering it reads
  ``_run`` again and, if the owner let go meanwhile, sends the notice to itself (a
  second notice is ignored).
* Without a GIL (free-threaded CPython) those plain writes are not ordered for other
  threads, so finishing takes ``LOCK`` too (``FREE_THREADED``).
* A process forked while a resolve runs inherits records owned by runs whose threads
  did not survive the fork. Each run carries the fork *generation* it was made in; a
  record owned by a run of an older generation is an orphan, and the next resolve in
  the child takes it over (a body that was running goes back to pending).
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import os
import sys
import threading
from typing import Any

from .._callbacks import hooked_functions_alive
from .._errors import TcgError
from .._record import NodeRecord, Owner, State
from .._values import scan_futures
from ._failures import dependency_error
from ._state import (
    CHILD_FAILED,
    COMPLETE,
    DONE,
    EXTERNAL,
    FINISHED,
    MAYBE_READY,
    PENDING,
    READY,
    RUNNING,
    SKIP,
    WAITING,
    RunState,
    notify,
)
from ._transitions import watch

__all__ = ["FREE_THREADED", "LOCK", "claim", "count_waits", "generation", "let_go",
           "on_external", "wait_for_roots"]

#: Guards ownership of records and the watcher lists of every run in this process.
LOCK = threading.Lock()

#: True on a free-threaded interpreter running without the GIL.
FREE_THREADED = bool(getattr(sys, "_is_gil_enabled", lambda: True)() is False)

_generation = 0


def generation() -> int:
    """How many times this process's ancestry forked since tcg_core was imported."""
    return _generation


def _after_fork_in_child() -> None:
    global _generation
    _generation += 1
    # The lock may have been held by a thread that does not exist in the child.
    LOCK._at_fork_reinit()  # type: ignore[attr-defined]  # noqa: SLF001  (stdlib's only way)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def let_go(run: RunState, rec: NodeRecord, state: State) -> list[RunState] | None:
    """Finish ``rec`` as far as other resolves can see: the final state, then no owner,
    then the watchers to tell (returned). Lock-free where the GIL orders the writes."""
    if FREE_THREADED:
        with LOCK:
            rec.state = state
            rec._run = None
            return run.watchers.pop(rec.id, None)
    rec.state = state
    rec._run = None
    return run.watchers.pop(rec.id, None) if run.watchers else None


def _orphan(rec: NodeRecord) -> None:
    """Take a record away from a run that did not survive a fork (under LOCK)."""
    rec._run = None
    if rec.state in (RUNNING, READY):
        rec.state = PENDING  # its body never finishes in this process


def _live_owner(rec: NodeRecord) -> Owner | None:
    owner = rec._run
    if owner is not None and owner.generation != _generation:
        _orphan(rec)
        return None
    return owner


def claim(run: RunState, roots: list[NodeRecord]) -> list[NodeRecord]:
    """Take every unfinished, unowned node reachable from ``roots`` through inputs,
    and count what each waits on. Returns the records claimed.

    One pass, one visit per record and edge (on a large random graph each visit is a
    cache miss), with the per-edge work written inline: this loop runs once per node of
    every graph. An input passed twice is counted twice and notifies twice, which
    balances without de-duplicating each node's inputs. Each record is added to
    ``run.claimed`` the moment it is claimed, so that if anything raises half-way, the
    stop that follows releases every one of them.
    """
    todo = run.todo
    claimed = run.claimed
    first = len(claimed)
    gen = _generation
    # Whether a call may need the observing loop is asked of each record only while a
    # node function that needs it exists at all: a plain process pays nothing per node.
    check = run.observers is None and hooked_functions_alive()
    with LOCK:
        try:
            parents, hooks = _claim_reachable(run, roots, todo, claimed, gen, check)
        finally:  # counted even when something raised half-way: the stop releases them
            run.unfinished += len(claimed) - first
        for rec in parents:
            count_waits(run, rec)
    if hooks:
        run.needs_hooks = True
    if run.validate:
        watch(claimed[first:])
    if run.observers is not None:  # outside the lock: callbacks may take their time
        run.observers.added(claimed[first:])
    return claimed[first:]


def _claim_reachable(run: RunState, roots: list[NodeRecord], todo: Any,
                     claimed: list[NodeRecord], gen: int,
                     check: bool) -> tuple[list[NodeRecord], bool]:
    """``claim``'s walk (under LOCK); returns the waiting parents it took over, and
    (when ``check``) whether a claimed call's function needs the observing loop."""
    hooks = False
    stack = []
    for rec in dict.fromkeys(roots):  # a root asked for twice is claimed once
        if rec.state not in FINISHED and _live_owner(rec) is None:
            rec._run, rec._consumers = run, None
            claimed.append(rec)
            stack.append(rec)
    parents: list[NodeRecord] = []
    while stack:
        rec = stack.pop()
        if check and rec.spec._hooks:
            hooks = True
        if rec.state == WAITING:
            # A parent an earlier resolve left waiting for its children: this run
            # takes the wait over instead of running the body again.
            parents.append(rec)
            for dep in waits_of(rec):
                if dep.state not in FINISHED and _live_owner(dep) is None:
                    dep._run, dep._consumers = run, None
                    claimed.append(dep)
                    stack.append(dep)
            continue
        if rec.state != PENDING:  # not reachable by the protocol; never run twice
            raise TcgError(f"internal error: claimed {rec!r} in state {rec.state}")
        pending = 0
        inputs = rec._inputs
        if inputs is None:  # NodeRecord.inputs for a call of plain futures, written out
            args: Any = rec._args
            inputs = rec._inputs = (tuple([f._record for f in args]) if args.__class__ is tuple
                                    else (args._record,))
        for inp in inputs:
            owner = inp._run  # before the state: see the protocol above
            state = inp.state
            if state == DONE:
                continue
            if state in FINISHED:
                todo.append((SKIP, rec, dependency_error("input", inp)))
                continue
            pending += 1
            if owner is None:  # first seen: claim it, with this as its consumer
                inp._run, inp._consumers = run, [rec]
                claimed.append(inp)
                stack.append(inp)
            elif owner is run:
                consumers = inp._consumers
                if consumers is None:
                    inp._consumers = [rec]
                else:
                    consumers.append(rec)
            elif owner.generation != gen:  # forked away from its owner
                _orphan(inp)
                inp._run, inp._consumers = run, [rec]
                claimed.append(inp)
                stack.append(inp)
            else:
                _wait_on(run, inp, rec)
        rec._npending = pending
        if pending == 0:
            todo.append((MAYBE_READY, rec, None))
    return parents, hooks


def waits_of(rec: NodeRecord) -> list[NodeRecord]:
    """What a parent waits on: its children and whatever futures its body returned."""
    returned: list = []  # type: ignore[type-arg]
    extra = rec._extra
    if extra is not None:
        scan_futures(extra.result, returned)
    return list(dict.fromkeys([*(rec.children or ()), *(f._record for f in returned)]))


def count_waits(run: RunState, rec: NodeRecord) -> None:
    """Set how many children and returned futures a waiting parent waits on (under
    LOCK), and queue its completion when that is none."""
    pending = 0
    for dep in waits_of(rec):
        if dep.state == DONE:
            continue
        if dep.state in FINISHED:
            rec._npending = 0
            run.todo.append((CHILD_FAILED, rec, dependency_error("child", dep)))
            return
        pending += 1
        _depend(run, dep, rec)
    rec._npending = pending
    if pending == 0:
        run.todo.append((COMPLETE, rec, None))


def _depend(run: RunState, producer: NodeRecord, consumer: NodeRecord) -> None:
    """Make ``consumer`` wait for ``producer``: as its consumer when this run owns it,
    else as a watcher of the run that does (under LOCK). ``claim``'s walk writes the
    first case out: it runs once per edge of every graph."""
    if producer._run is run:
        if producer._consumers is None:
            producer._consumers = [consumer]
        else:
            producer._consumers.append(consumer)
    else:
        _wait_on(run, producer, consumer)


def _wait_on(run: RunState, producer: NodeRecord, consumer: NodeRecord | None) -> None:
    """Make ``consumer`` (``None``: the caller of resolve) wait for ``producer``, which
    another resolve owns (under LOCK)."""
    owner = producer._run
    if owner is not None and run.nested:
        who = f"node {consumer.name!r}" if consumer is not None else "resolve() in a node body"
        raise TcgError(
            f"{who} needs {producer.name!r} ({producer.path}), which another resolve() is "
            "still running; a node body cannot wait for it (that could deadlock the "
            "workers). Return the future from the body instead: the node's value becomes "
            "its value")
    waiting = run.external.setdefault(producer.id, [])
    if consumer is not None:
        waiting.append(consumer)
    if owner is not None:
        owner.watchers.setdefault(producer.id, []).append(run)
    if owner is None or producer._run is not owner:
        # The owner let go of it (finished or released) meanwhile, maybe before
        # seeing this watcher: tell ourselves. on_external ignores a second notice.
        run.events.put(((producer, EXTERNAL), True, None))


def wait_for_roots(run: RunState, records: list[NodeRecord]) -> None:
    """Roots another resolve owns: wait for it to finish them."""
    with LOCK:
        for rec in records:
            owner = _live_owner(rec)
            if owner is not None and owner is not run and rec.id not in run.root_waits:
                run.root_waits.add(rec.id)
                run.unfinished += 1
                _wait_on(run, rec, None)


def on_external(run: RunState, rec: NodeRecord) -> list[NodeRecord]:
    """Another resolve finished ``rec``, or let it go unfinished (then this run claims
    it). Returns what this run newly claimed."""
    consumers = run.external.pop(rec.id, None)
    if consumers is None:
        return []  # a second notice
    if rec.state in FINISHED:
        if rec.id in run.root_waits:
            run.root_waits.discard(rec.id)
            run.unfinished -= 1
        if consumers:
            notify(run, rec, consumers)
        return []
    new = claim(run, [rec])
    with LOCK:
        if rec._run is run and rec.id in run.root_waits:
            run.root_waits.discard(rec.id)
            run.unfinished -= 1
        elif rec.id in run.root_waits:
            _wait_on(run, rec, None)
        for consumer in consumers:
            _depend(run, rec, consumer)
    return new

"""The worker processes of ``executor="processes"``, as the resolve sees them.

``WorkerPool`` starts the processes (``_worker``), sends each task to a free worker,
preferring the one that already holds most of the task's input bytes (as Dask's
``decide_worker`` does), and relays requests for held values between workers: the
holder writes a value to shared memory once, every process that needs it maps it.
One reader thread receives everything the workers send, and notices a worker dying.

When a worker dies, the task it ran fails, and the values it held are lost; a value
that is needed again is recomputed once, by running the body that made it again
(its arguments were kept), else whoever needs it gets a ``ValueLost`` naming it.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import atexit
import itertools
import os
import pickle
import threading
import weakref
from collections.abc import Callable
from multiprocessing.connection import wait
from queue import Empty, SimpleQueue
from typing import Any

from .._context import Packed, Raised
from ._base import WorkerDied
from ._held import Held, ValueId, ValueLost, collecting
from ._shared import Packet, Space, pack, unpack
from ._slots import RunShare, Slot, Task, death_text
from ._worker import worker_main

__all__ = ["Task", "WorkerPool"]

#: How long a blocking wait lasts before it looks at Ctrl-C again (seconds).
_SLICE = 0.2


#: Pools not closed yet: stopped at interpreter exit (before multiprocessing waits for
#: its children, which would wait for a body that may never end).
_OPEN: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


def _close_open_pools() -> None:
    for pool in list(_OPEN):
        pool.close(cancel=True)


atexit.register(_close_open_pools)


class WorkerPool:
    """``workers`` processes from ``context``, sharing the values they hold."""

    def __init__(self, workers: int, context: Any, share_above: int,
                 startup_failure: Callable[[], str | None]) -> None:
        self.context = context  #: how processes start (forkserver, spawn)
        self.pid = os.getpid()  #: the process that started it (a forked child does not own it)
        self.share_above = share_above  #: buffers from this size go through shared memory
        self.startup_failure = startup_failure  #: why workers die on start, if known
        self.space = Space.create()  #: the run's shared files
        self.size = workers  #: the workers it keeps alive (one stuck past a timeout aside)
        self.lock = threading.RLock()  #: guards everything below
        self.slots: list[Slot] = []  #: every worker started, dead ones included
        self.queue: list[Task] = []  #: tasks waiting for a free worker
        self.tids = itertools.count(1)  #: task numbers
        self.rids = itertools.count(1)  #: export request numbers
        self.holders: dict[ValueId, set[Slot]] = {}  #: live workers holding each value
        self.sizes: dict[ValueId, int] = {}  #: each held value's size
        self.recipes: dict[ValueId, tuple[Packet, int | None]] = {}  #: how it was made
        self.redone: set[ValueId] = set()  #: values recomputed once already
        self.lost: dict[ValueId, str] = {}  #: values lost for good, and why
        self.unsendable: dict[ValueId, str] = {}  #: values that do not pickle, and why
        self.exports: dict[ValueId, Packet] = {}  #: held values in shared memory
        self.exporting: dict[ValueId, int] = {}  #: export requests on their way
        self.requests: dict[int, tuple[ValueId, Slot]] = {}  #: request → value, holder
        self.waiters: dict[ValueId, list[Slot | SimpleQueue[Any]]] = {}  #: who waits
        #: what moved: bytes written to shared memory, values exported by their holder
        #: for another process, values fetched into the resolve's process
        self.traffic = {"shared": 0, "exported": 0, "fetched": 0}
        self.closing = False  #: no new work: stop the workers once they are idle
        self.ever_ready = False  #: a worker started: the main module imports fine
        self.wake_r, self.wake_w = context.Pipe(duplex=False)  #: interrupts the reader
        try:
            for _ in range(workers):
                self.start_worker()
        except BaseException:  # e.g. a script without a main guard, run by a worker
            for slot in self.slots:
                slot.process.terminate()
            self.space.remove()
            raise
        self.reader = threading.Thread(target=self.read, name="tcg-workers", daemon=True)
        self.reader.start()
        _OPEN.add(self)

    # -- processes -----------------------------------------------------------------------
    def start_worker(self) -> None:
        tasks_here, tasks_there = self.context.Pipe()
        control_here, control_there = self.context.Pipe()
        index = len(self.slots)
        process = self.context.Process(
            target=worker_main, name=f"tcg-worker-{index}",
            args=(index, tasks_there, control_there, self.space.path, self.share_above,
                  os.getpid()))
        process.start()
        tasks_there.close()
        control_there.close()
        self.slots.append(Slot(index, process, tasks_here, control_here))

    def grow(self) -> None:
        """One more worker, for one stuck in a body past its timeout."""
        with self.lock:
            if not self.closing:
                self.start_worker()
        self.wake()

    def wake(self) -> None:
        try:
            self.wake_w.send_bytes(b"!")
        except (OSError, ValueError):
            pass

    # -- tasks ---------------------------------------------------------------------------
    def open_run(self) -> RunShare:
        """A new resolve's share of the pool."""
        return RunShare()

    def close_run(self, run: RunShare, *, cancel: bool) -> None:
        """A resolve on a pool that stays up ended: drop its queued tasks, stop the
        workers still running its bodies (cancelled, or stuck past a timeout; new ones
        take their places), and let the workers drop its values and argument files."""
        with self.lock:
            run.closed = True
            self.queue = [t for t in self.queue if t.run is not run]
            for slot in self.slots:  # cancelled, or stuck past a timeout: nobody waits
                if slot.alive and slot.task is not None and slot.task.run is run:
                    slot.process.terminate()
        self.release(list(run.vids))
        for _, (name, _, _) in run.memo.values():
            self.space.delete(name)
        run.memo.clear()

    def pack_call(self, run: RunShare, call: tuple[Any, ...]) -> tuple[Packet, list[Held]]:
        """The call pickled (big argument buffers into shared memory, once per object
        and resolve), and the held values among its arguments."""
        with collecting() as found:
            packet = pack(call, self.space, self.share_above, run.memo)
        self.traffic["shared"] += packet.new
        return packet, found

    def submit(self, run: RunShare, packet: Packet, helds: list[Held], keep: bool,
               nout: int | None, label: str, done: Callable[[bool, Any], None]) -> None:
        task = Task(run, next(self.tids), packet, helds, keep, nout, label, done)
        with self.lock:
            self.queue.append(task)
            self.dispatch()
        self.wake()

    def dispatch(self) -> None:
        """Give queued tasks to free workers, each to the one holding most of its input
        bytes."""
        free = [s for s in self.slots if s.alive and s.ready and s.task is None]
        while self.queue and free:
            task = self.queue[0]
            slot = max(free, key=lambda s: self.bytes_held(task, s))
            free.remove(slot)
            self.queue.pop(0)
            slot.task, task.slot = task, slot
            if not slot.send(("run", task.tid, task.packet, task.keep, task.nout)):
                slot.task = None
                self.queue.insert(0, task)  # its death is seen by the reader next

    def bytes_held(self, task: Task, slot: Slot) -> int:
        return sum(h.nbytes for h in task.helds if slot in self.holders.get(h.vid, ()))

    # -- the reader thread ---------------------------------------------------------------
    def read(self) -> None:
        while True:
            with self.lock:
                live = [s for s in self.slots if s.alive]
                if self.closing and not live:
                    break
                waitables: dict[Any, tuple[str, Slot | None]] = {self.wake_r: ("wake", None)}
                for slot in live:
                    waitables[slot.tasks] = ("tasks", slot)
                    waitables[slot.control] = ("control", slot)
                    waitables[slot.process.sentinel] = ("death", slot)
            for ready in wait(list(waitables)):
                kind, sender = waitables[ready]
                if kind == "wake":
                    try:
                        self.wake_r.recv_bytes()
                    except (OSError, EOFError):
                        return
                    continue
                assert sender is not None
                self.receive(kind, sender)
        self.finish_closing()

    def receive(self, kind: str, slot: Slot) -> None:
        if not slot.alive:
            return
        if kind == "death":
            self.on_death(slot)
            return
        conn = slot.tasks if kind == "tasks" else slot.control
        try:
            message = conn.recv()
        except (EOFError, OSError):
            self.on_death(slot)
            return
        with self.lock:
            getattr(self, f"on_{message[0]}")(slot, *message[1:])

    def on_ready(self, slot: Slot, pid: int) -> None:
        slot.ready = True
        self.ever_ready = True
        if self.closing:
            slot.send(("stop",))
        self.dispatch()

    def on_started(self, slot: Slot, tid: int) -> None:
        if slot.task is not None and slot.task.tid == tid:
            slot.task.started = True

    def on_done(self, slot: Slot, tid: int, reply: tuple[Any, ...]) -> None:
        task = slot.task
        slot.task = None
        if self.closing:
            slot.send(("stop",))
        else:
            self.dispatch()
        if task is None or task.tid != tid:
            return
        try:
            outcome = self.outcome(task, slot, reply)
        except Exception as exc:
            task.done(False, exc)
            return
        task.done(True, outcome)

    def outcome(self, task: Task, slot: Slot, reply: tuple[Any, ...]) -> Any:
        """A worker's reply as the resolve receives it: a value packed, or kept there."""
        if reply[0] == "value":
            packet = reply[1]
            self.traffic["shared"] += packet.new
            outcome = unpack(packet, self.space.path)
            for name in packet.files:  # mapped: its memory lives while the value does
                self.space.delete(name)
            return outcome
        _, kept, (start, end, label) = reply
        if task.nout is not None and isinstance(kept, tuple) and kept \
                and isinstance(kept[0], tuple):
            value: Any = tuple(self.received(task, slot, item) for item in kept)
        else:
            value = self.received(task, slot, kept)
        return Packed((value, [], start, end, label))

    def received(self, task: Task, slot: Slot, kept: tuple[Any, ...]) -> Any:
        if kept[0] == "small":
            return pickle.loads(kept[1])
        _, vid, nbytes = kept
        if task.run.closed:  # a late body of a resolve that ended: nobody can use it
            slot.ask(("release", [vid]))
        task.run.vids.add(vid)
        self.holders[vid] = {slot}
        self.sizes[vid] = nbytes
        self.recipes[vid] = (task.packet, task.nout)
        return Held(vid, nbytes, f"{task.label}")

    def on_holds(self, slot: Slot, vids: list[ValueId]) -> None:
        for vid in vids:
            self.holders.setdefault(vid, set()).add(slot)
            self.lost.pop(vid, None)

    def on_need(self, slot: Slot, vid: ValueId) -> None:
        """A body in ``slot`` needs a value held elsewhere."""
        packet = self.exports.get(vid)
        if packet is not None:
            slot.send(("have", vid, packet))
            return
        if self.request_export(vid, slot):
            return
        if vid in self.recipes and vid not in self.redone:
            self.redone.add(vid)
            slot.send(("redo", vid, self.recipes[vid]))
            return
        slot.send(("lost", vid, self.lost_text(vid)))

    def request_export(self, vid: ValueId, waiter: Slot | SimpleQueue[Any]) -> bool:
        """Ask a live holder of ``vid`` to write it to shared memory; ``waiter`` hears
        when it is there. ``False``: no live worker holds it."""
        holders = [s for s in self.holders.get(vid, ()) if s.alive]
        if not holders:
            return False
        self.waiters.setdefault(vid, []).append(waiter)
        if vid in self.exporting:
            return True
        holder = min(holders, key=lambda s: s.task is not None)
        rid = next(self.rids)
        self.exporting[vid] = rid
        self.requests[rid] = (vid, holder)
        if not holder.ask(("export", rid, vid)):
            del self.exporting[vid], self.requests[rid]
            self.waiters[vid].remove(waiter)
            holder.alive = False
            return self.request_export(vid, waiter)
        return True

    def on_exported(self, slot: Slot, rid: int, vid: ValueId, packet: Packet | None,
                    why: str) -> None:
        self.requests.pop(rid, None)
        self.exporting.pop(vid, None)
        if packet is not None:
            self.exports[vid] = packet
            self.traffic["exported"] += 1
            self.traffic["shared"] += packet.new
        else:
            self.unsendable[vid] = why
        for waiter in self.waiters.pop(vid, []):
            self.answer(waiter, vid, packet)

    def answer(self, waiter: Slot | SimpleQueue[Any], vid: ValueId,
               packet: Packet | None) -> None:
        if isinstance(waiter, Slot):
            if packet is not None:
                waiter.send(("have", vid, packet))
            elif vid in self.unsendable:
                waiter.send(("lost", vid, self.unsendable[vid]))
            else:
                self.on_need(waiter, vid)
            return
        waiter.put(packet if packet is not None else self.missing(vid))

    def missing(self, vid: ValueId) -> Exception:
        """Why the value of ``vid`` cannot be had."""
        why = self.unsendable.get(vid)
        if why is not None:
            from .._errors import SerializationError

            return SerializationError(why)
        return ValueLost(self.lost_text(vid))

    def lost_text(self, vid: ValueId) -> str:
        why = self.lost.get(vid, "the worker process holding it died")
        redone = " (it was recomputed once already)" if vid in self.redone else ""
        return f"a node's value was lost: {why}{redone}"

    def on_death(self, slot: Slot) -> None:
        with self.lock:
            if not slot.alive:
                return
            slot.alive = False
            slot.process.join(timeout=1)
            how = death_text(slot.process)
            for vid, holders in self.holders.items():
                if slot in holders:
                    holders.discard(slot)
                    if not holders:
                        self.lost[vid] = (f"the worker process holding it "
                                          f"(pid {slot.process.pid}) died ({how})")
            for rid, (vid, holder) in list(self.requests.items()):
                if holder is slot:  # ask another holder, or recompute, or give up
                    del self.requests[rid]
                    self.exporting.pop(vid, None)
                    for waiter in self.waiters.pop(vid, []):
                        self.answer(waiter, vid, None)
            task, slot.task = slot.task, None
            if task is not None and not task.started and not self.closing:
                self.queue.insert(0, task)  # sent to a worker already dead: it never ran
                task = None
            started = slot.ready
            live = sum(1 for s in self.slots if s.alive)
            if started and not self.closing and live < self.size:
                self.start_worker()
            elif not self.ever_ready and not any(s.alive for s in self.slots):
                self.fail_queue(how)
            self.dispatch()
        for conn in (slot.tasks, slot.control):
            conn.close()
        if task is not None and self.closing:
            task.done(False, WorkerDied(
                "its worker processes were stopped while the body ran (the "
                "ProcessesExecutor was shut down, or the resolve stopped)"))
        elif task is not None:
            task.done(False, WorkerDied(
                f"the worker process running it died (pid {slot.process.pid}, {how}) "
                "while the body ran; the values it held are recomputed where needed"))

    def fail_queue(self, how: str) -> None:
        reason = self.startup_failure() or (
            f"every worker process died while starting ({how}), before running any node")
        queued, self.queue = self.queue, []
        for task in queued:
            task.done(False, WorkerDied(reason))

    # -- values for the resolve ----------------------------------------------------------
    def fetch(self, held: Held) -> Any:
        """The value ``held`` stands for, in this process (a copy-on-write mapping of
        its buffers); recomputed by a worker once if its holder died."""
        vid = held.vid
        answer: SimpleQueue[Any] = SimpleQueue()
        with self.lock:
            packet = self.exports.get(vid)
            waiting = packet is not None or self.request_export(vid, answer)
            redo = not waiting and vid in self.recipes and vid not in self.redone
            if redo:
                self.redone.add(vid)
            elif not waiting:
                raise self.missing(vid)
        self.traffic["fetched"] += 1
        if redo:
            return self.recompute(held)
        if packet is None:
            packet = self.wait(answer)
        return unpack(packet, self.space.path)

    def wait(self, answer: SimpleQueue[Any]) -> Any:
        while True:
            try:
                got = answer.get(timeout=_SLICE)
            except Empty:
                continue
            if isinstance(got, BaseException):
                raise got
            return got

    def recompute(self, held: Held) -> Any:
        """Run the body that made ``held`` again on a worker, for this process."""
        packet, nout = self.recipes[held.vid]
        answer: SimpleQueue[Any] = SimpleQueue()
        task = Task(RunShare(), next(self.tids), packet, [], False, nout, held.label,
                    lambda ok, payload: answer.put((ok, payload)))
        with self.lock:
            self.queue.append(task)
            self.dispatch()
        self.wake()
        ok, payload = self.wait(answer)
        if not ok or not isinstance(payload, Packed):
            error = payload.received().error if isinstance(payload, Raised) else payload
            raise ValueLost(f"node {held.label}: its value was lost with the worker "
                            f"process holding it, and recomputing it failed: "
                            f"{type(error).__name__}: {error}") from error
        result = payload.payload[0]
        return result if held.vid[1] < 0 else result[held.vid[1]]

    def release(self, vids: list[ValueId]) -> None:
        """Values nothing needs any more: every worker holding one drops it."""
        with self.lock:
            by_slot: dict[Slot, list[ValueId]] = {}
            for vid in vids:
                for slot in self.holders.pop(vid, ()):
                    by_slot.setdefault(slot, []).append(vid)
                tables: list[dict[ValueId, Any]] = [self.exports, self.recipes, self.sizes,
                                                     self.lost, self.unsendable]
                for table in tables:
                    table.pop(vid, None)
                self.redone.discard(vid)
            for slot, dropped in by_slot.items():
                if slot.alive:
                    slot.ask(("release", dropped))

    # -- closing -------------------------------------------------------------------------
    def close(self, *, cancel: bool) -> None:
        """Stop the workers: at once (``cancel``), or each once its body ends. The run's
        shared files go with the last worker."""
        _OPEN.discard(self)
        with self.lock:
            self.closing = True
            queued, self.queue = self.queue, []
            for slot in self.slots:
                if not slot.alive:
                    continue
                if cancel:
                    slot.process.terminate()
                elif slot.task is None:
                    slot.send(("stop",))
            running = any(s.alive and s.task is not None for s in self.slots)
        for task in queued:
            task.done(False, WorkerDied("the resolve closed before it could run"))
        self.wake()
        if cancel or not running:  # else the reader closes once the last body ends
            self.reader.join(timeout=10)
            self.space.remove()

    def finish_closing(self) -> None:
        for slot in self.slots:
            slot.process.join(timeout=5)
            if slot.process.is_alive():
                slot.process.kill()
        self.space.remove()
        for conn in (self.wake_r, self.wake_w):
            conn.close()

"""One worker process of ``executor="processes"``: runs bodies and keeps their values.

Two pipes join it to the resolve. On ``tasks`` the main thread receives the bodies to
run and answers each; on ``control`` a service thread answers requests for the values
this worker holds (``export``, ``release``) even while a body runs. A value it keeps is
exported (written to shared memory) at most once, when another process first needs it.

Messages (tuples, first item the kind)::

    resolve → worker, tasks:    run(tid, packet, keep, nout) | have(vid, packet)
                                | redo(vid, recipe) | lost(vid, why) | stop()
    worker → resolve, tasks:    ready(pid) | started(tid) | done(tid, reply) | need(vid)
                                | holds(vids)
    resolve → worker, control:  export(rid, vid) | release(vids)
    worker → resolve, control:  exported(rid, vid, packet | None, why)
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import io
import os
import pickle
import threading
from multiprocessing.connection import Connection
from typing import Any

from .._context import Err, Packed, Raised, portable, run_body, user_traceback
from .._values import scan_futures
from ._held import ValueId, ValueLost, held_in
from ._shared import Packet, Space, pack, unpack

__all__ = ["SMALL", "worker_main"]

#: A value that pickles to fewer bytes goes straight back to the resolve instead of
#: staying in the worker: fetching it later would cost more than sending it now.
SMALL = 64 * 1024


class _TooBig(Exception):
    pass


class _Bounded(io.RawIOBase):
    """A sink for a pickle stream that gives up past ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.limit = limit

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.size += len(data)
        if self.size > self.limit:
            raise _TooBig
        self.parts.append(bytes(data))
        return len(data)


def small_pickle(value: Any) -> bytes | None:
    """``value`` pickled if that takes fewer than ``SMALL`` bytes, buffers included; else
    ``None``, found without copying a big buffer or finishing a big stream."""
    sink = _Bounded(SMALL)
    buffers = 0

    def count(buffer: pickle.PickleBuffer) -> bool:
        nonlocal buffers
        buffers += memoryview(buffer).nbytes
        if buffers + sink.size > SMALL:
            raise _TooBig
        return True  # in the stream: it is small

    try:
        pickle.Pickler(sink, protocol=5, buffer_callback=count).dump(value)
    except _TooBig:
        return None
    except Exception:
        return None  # it does not pickle: it stays here, and fails only if it must move
    return b"".join(sink.parts)


class Worker:
    """The state of one worker process."""

    def __init__(self, index: int, tasks: Connection, control: Connection, space: Space,
                 share_above: int, parent: int) -> None:
        self.index = index  #: its number in the pool
        self.tasks = tasks  #: the main thread's pipe
        self.control = control  #: the service thread's pipe
        self.space = space  #: where exported values go
        self.share_above = share_above  #: buffers from this size go through shared memory
        self.parent = parent  #: the resolve's process id
        self.store: dict[ValueId, Any] = {}  #: values held here
        self.exported: dict[ValueId, Packet] = {}  #: held values written to shared memory
        self.lock = threading.Lock()  #: guards ``store``/``exported`` and sends on tasks
        self.label = f"process-{os.getpid()}"  #: where bodies ran, in timings

    # -- the main thread: bodies ---------------------------------------------------------
    def serve_tasks(self) -> None:
        self.send(("ready", os.getpid()))
        while True:
            try:
                message = self.tasks.recv()
            except (EOFError, OSError):
                return
            if message[0] == "stop":
                return
            _, tid, packet, keep, nout = message
            self.send(("started", tid))  # if this process dies now, the body had begun
            self.send(("done", tid, self.run(tid, packet, keep, nout)))

    def send(self, message: tuple[Any, ...]) -> None:
        with self.lock:
            self.tasks.send(message)

    def run(self, tid: int, packet: Packet, keep: bool, nout: int | None) -> tuple[Any, ...]:
        """Run one task: the reply to send back."""
        try:
            func, args, kwargs = unpack(packet, self.space.path)
        except BaseException as exc:
            return ("value", self.pack(Raised(portable(exc), user_traceback(exc))))
        outcome = run_body(func, args, kwargs)
        if isinstance(outcome, Err):  # sys.exit and Ctrl-C in a body stop the resolve
            error, ran, _ = outcome
            return ("value", self.pack(Raised(portable(error), user_traceback(error), ran)))
        value, children, start, end, _ = outcome
        payload = (value, children, start, end, self.label)
        if keep and not children and not _has_futures(value):
            held = self.keep(tid, value, nout)
            if held is not None:
                return ("held", held, (start, end, self.label))
        return ("value", self.pack(Packed(payload)))

    def pack(self, outcome: Any) -> Packet:
        try:
            return pack(outcome, self.space, self.share_above)
        except Exception as exc:
            if isinstance(outcome, Raised):
                raise
            from .._errors import SerializationError

            error = SerializationError(
                f"the value it returned cannot be pickled to cross to the resolve's process "
                f"({type(exc).__name__}: {exc}); return plain data (or values that "
                "pickle), or use executor='threads'")
            return pack(Raised(error, ""), self.space, self.share_above)

    def keep(self, tid: int, value: Any, nout: int | None) -> Any:
        """Keep ``value`` here: what the resolve gets in its place (``None``: it is small,
        send it). A ``nout=`` value is kept item by item, so each can move alone."""
        if nout is not None:
            try:
                items = list(value)
            except Exception:
                return None
            if len(items) != nout:
                return None  # the resolve reports the wrong count
            return tuple(self.keep_one((tid, i), item) for i, item in enumerate(items))
        return self.keep_one((tid, -1), value)

    def keep_one(self, vid: ValueId, value: Any) -> Any:
        small = small_pickle(value)
        if small is not None:
            return ("small", small)
        with self.lock:
            self.store[vid] = value
        return ("kept", vid, _size_of(value))

    # -- values from elsewhere -----------------------------------------------------------
    def lookup(self, vid: ValueId, label: str) -> Any:
        """The value of ``vid`` for a body here: held here, or mapped from shared memory
        once (then held here too), or recomputed here once if its worker died."""
        with self.lock:
            if vid in self.store:
                return self.store[vid]
        self.send(("need", vid))
        reply = self.tasks.recv()
        kind = reply[0]
        if kind == "have":
            value = unpack(reply[2], self.space.path)
        elif kind == "redo":
            value = self.redo(vid, reply[2], label)
        elif kind == "lost":
            raise ValueLost(reply[2])
        else:  # stop: the resolve is closing
            raise SystemExit(0)
        with self.lock:
            self.store[vid] = value
        self.send(("holds", [vid]))
        return value

    def redo(self, vid: ValueId, recipe: tuple[Packet, int | None], label: str) -> Any:
        """Run the body that made ``vid`` again (its worker died holding it)."""
        packet, _ = recipe  # (a nout= value's items are stored one by one below)
        try:
            func, args, kwargs = unpack(packet, self.space.path)
            outcome = run_body(func, args, kwargs)
            if isinstance(outcome, Err):
                raise outcome.error
            value, children, *_ = outcome
        except ValueLost:
            raise
        except Exception as exc:
            raise ValueLost(f"the value of node {label} was lost with the worker process "
                            f"holding it, and recomputing it raised {type(exc).__name__}: "
                            f"{exc}") from exc
        if children or _has_futures(value):
            raise ValueLost(f"the value of node {label} was lost with the worker process "
                            "holding it, and its body, run again, called nodes, so it was "
                            "not recomputed")
        if vid[1] < 0:
            return value
        items = list(value)
        with self.lock:
            for i, item in enumerate(items):
                if i != vid[1]:
                    self.store[(vid[0], i)] = item
        self.send(("holds", [(vid[0], i) for i in range(len(items)) if i != vid[1]]))
        return items[vid[1]]

    # -- the service thread: requests for held values ------------------------------------
    def serve_control(self) -> None:
        while True:
            try:
                message = self.control.recv()
            except (EOFError, OSError):
                self.abandoned()
                return
            if message[0] == "export":
                self.control.send(self.export(message[1], message[2]))
            elif message[0] == "release":
                self.release(message[1])

    def export(self, rid: int, vid: ValueId) -> tuple[Any, ...]:
        with self.lock:
            packet = self.exported.get(vid)
            if packet is not None:
                return ("exported", rid, vid, packet, "")
            if vid not in self.store:
                return ("exported", rid, vid, None, "it was released")
            value = self.store[vid]
        try:
            packet = pack(value, self.space, self.share_above)
        except Exception as exc:
            return ("exported", rid, vid, None,
                    f"the value it returned cannot be pickled to cross to another process "
                    f"({type(exc).__name__}: {exc}); return plain data (or values that "
                    "pickle), or use executor='threads'")
        with self.lock:
            self.exported[vid] = packet
        return ("exported", rid, vid, packet, "")

    def release(self, vids: list[ValueId]) -> None:
        with self.lock:
            for vid in vids:
                self.store.pop(vid, None)
                packet = self.exported.pop(vid, None)
                if packet is not None:
                    for name in packet.files:
                        self.space.delete(name)

    def abandoned(self) -> None:
        """The resolve's pipe closed: if its process is gone, nobody else will remove the
        run's shared files."""
        try:
            os.kill(self.parent, 0)
        except OSError:
            self.space.remove()
        os._exit(0)


def _has_futures(value: Any) -> bool:
    found: list[Any] = []
    scan_futures(value, found)
    return bool(found)


def _size_of(value: Any) -> int:
    """A value's size in bytes, as well as can be told without pickling it."""
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    try:
        import sys

        return sys.getsizeof(value)
    except Exception:
        return 0


def worker_main(index: int, tasks: Connection, control: Connection, space_path: str,
                share_above: int, parent: int) -> None:
    """The entry point of a worker process."""
    import signal

    # Ctrl-C reaches every process of the terminal: the resolve decides what stops (it
    # ends the workers it no longer needs), so a worker does not die of it on its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    worker = Worker(index, tasks, control, Space.join(space_path), share_above, parent)
    held_in(worker.lookup)
    threading.Thread(target=worker.serve_control, name="tcg-values", daemon=True).start()
    worker.serve_tasks()

"""What the worker pool keeps of each worker, task and resolve (``_workers``)."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from ._held import Held, ValueId
from ._shared import Memo, Packet

__all__ = ["RunShare", "Slot", "Task", "death_text"]


class RunShare:
    """One resolve's part of a pool that several resolves may use in turn (a started
    ``ProcessesExecutor``): what it must clean up when it ends."""

    def __init__(self) -> None:
        self.memo: Memo = {}  #: its argument buffers written to shared memory already
        self.vids: set[ValueId] = set()  #: the values its tasks left in workers
        self.closed = False  #: the resolve ended: what its late tasks keep is dropped


class Task:
    """One body to run: the pickled call and where its outcome goes."""

    __slots__ = ("done", "helds", "keep", "label", "nout", "packet", "run", "slot",
                 "started", "tid")

    def __init__(self, run: RunShare, tid: int, packet: Packet, helds: list[Held],
                 keep: bool, nout: int | None, label: str,
                 done: Callable[[bool, Any], None]) -> None:
        self.run = run  #: the resolve it belongs to
        self.tid = tid  #: its number in the pool (held values are named after it)
        self.packet = packet  #: the pickled ``(function, args, kwargs)``
        self.helds = helds  #: the held values among its arguments
        self.keep = keep  #: its value stays in the worker
        self.nout = nout  #: its node's ``nout=``: a kept value is kept item by item
        self.label = label  #: the node's name, for what it returns
        self.done = done  #: called once with ``(ok, payload)`` from the reader thread
        self.slot: Slot | None = None  #: the worker running it
        self.started = False  #: its worker began it (a worker dead before did not)


class Slot:
    """One worker process."""

    def __init__(self, index: int, process: Any, tasks: Connection,
                 control: Connection) -> None:
        self.index = index  #: its number, for messages
        self.process = process  #: the ``multiprocessing`` process
        self.tasks = tasks  #: bodies go out, outcomes and requests come back
        self.control = control  #: requests for its held values, answered meanwhile
        self.ready = False  #: it started (imported the main module) and waits for work
        self.task: Task | None = None  #: the body it runs
        self.alive = True  #: not seen dead yet
        self.send_lock = threading.Lock()  #: one message at a time on ``tasks``

    def send(self, message: tuple[Any, ...]) -> bool:
        try:
            with self.send_lock:
                self.tasks.send(message)
            return True
        except (OSError, ValueError):
            return False

    def ask(self, message: tuple[Any, ...]) -> bool:
        try:
            self.control.send(message)
            return True
        except (OSError, ValueError):
            return False


def death_text(process: Any) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"

"""``executor="processes"``: tcg's own worker processes, with values kept where made.

``ProcessesExecutor`` is the configurable spelling (worker count, the shared-memory
threshold); ``ProcessesAdapter`` runs bodies on a ``WorkerPool`` (``_workers``). In a
plain resolve (``_scheduler._kept``) each value stays in the worker that made it and
the resolve holds a ``Held``; elsewhere (callbacks, the cache, mutation checks, test
doubles need every value here) values come back, their big buffers through shared
memory.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import os
import sys
from queue import SimpleQueue
from typing import Any

from .._context import Err, MarkedBody, Packed, Raised
from .._errors import TcgError
from ._base import Adapter
from ._held import Held, ValueId

__all__ = ["SHARE_ABOVE", "ProcessesAdapter", "ProcessesExecutor"]

#: Buffers (and pickle streams) from this size on cross through shared memory; below
#: it, a pipe is as fast (``python -m benchmarks --only data`` measures both sides).
SHARE_ABOVE = 256 * 1024

# A forked child inherits the parent's forkserver bookkeeping but is not the forkserver's
# parent, so multiprocessing cannot start workers through it there: use spawn instead.
_forked_child = False


def _note_fork() -> None:
    global _forked_child
    _forked_child = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_note_fork)


def start_method() -> Any:
    """How worker processes start: forkserver on Linux (forking a process that runs
    threads is unsafe; it is the default from Python 3.14 on), spawn in a forked child,
    the platform's default elsewhere."""
    import multiprocessing

    method = "forkserver" if sys.platform.startswith("linux") else None
    if method and _forked_child:
        method = "spawn"
    return multiprocessing.get_context(method)


class ProcessesExecutor:
    """``executor="processes"`` with settings: ``max_workers`` processes (default: one
    per core) and ``share_above``, the size in bytes from which a buffer (a NumPy
    array's data, a bytearray, pandas' columns) crosses between processes through shared
    memory instead of a pipe.

    Used as a context manager (or after ``start()``), its worker processes stay up for
    every resolve given it, until ``shutdown()``: resolves then skip starting processes
    and importing modules in them. Otherwise each resolve starts and stops its own, as
    ``executor="processes"`` does. Values never outlive the resolve that made them
    either way.

    >>> from tcg_core import ProcessesExecutor
    >>> ProcessesExecutor(max_workers=2, share_above=1 << 16).share_above
    65536
    """

    __slots__ = ("_pool", "max_workers", "share_above")

    def __init__(self, max_workers: int | None = None, *,
                 share_above: int = SHARE_ABOVE) -> None:
        if max_workers is not None and (not isinstance(max_workers, int)
                                        or isinstance(max_workers, bool) or max_workers < 1):
            raise TcgError(f"ProcessesExecutor(max_workers={max_workers!r}): give a "
                           "positive int, or None for one worker per core")
        if not isinstance(share_above, int) or isinstance(share_above, bool) \
                or share_above < 1:
            raise TcgError(f"ProcessesExecutor(share_above={share_above!r}): give a "
                           "positive number of bytes")
        self.max_workers: int | None = max_workers  #: worker processes; None: one per core
        self.share_above: int = share_above  #: bytes from which a buffer goes by shared memory
        self._pool: Any = None  #: the running ``WorkerPool`` between start and shutdown

    def __repr__(self) -> str:
        state = "started" if self._pool is not None else "not started"
        return (f"ProcessesExecutor(max_workers={self.max_workers!r}, "
                f"share_above={self.share_above!r}) <{state}>")

    def start(self) -> ProcessesExecutor:
        """Start the worker processes now, for every resolve until ``shutdown()``.

        >>> from tcg_core import ProcessesExecutor, node
        >>> pool = ProcessesExecutor(max_workers=1).start()
        >>> node(abs)(-3).resolve(executor=pool), node(abs)(-4).resolve(executor=pool)
        (3, 4)
        >>> pool.shutdown()
        """
        if self._pool is None:
            from ._shipping import startup_problem
            from ._workers import WorkerPool

            self._pool = WorkerPool(self.max_workers or os.cpu_count() or 2, start_method(),
                                    self.share_above, startup_problem)
        return self

    def shutdown(self) -> None:
        """Stop the worker processes (a later resolve starts its own again); a body
        still running fails, saying so.

        >>> from tcg_core import ProcessesExecutor
        >>> pool = ProcessesExecutor(max_workers=1).start()
        >>> pool.shutdown()
        >>> pool
        ProcessesExecutor(max_workers=1, share_above=262144) <not started>
        """
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close(cancel=True)

    def __enter__(self) -> ProcessesExecutor:
        """``start()``: the workers stay up for the ``with`` block.

        >>> from tcg_core import ProcessesExecutor, node
        >>> with ProcessesExecutor(max_workers=1) as pool:
        ...     node(abs)(-5).resolve(executor=pool)
        5
        """
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """``shutdown()``, however the block ends."""
        self.shutdown()


def _deliver(events: SimpleQueue[Any], key: Any, ok: bool, outcome: Any) -> None:
    """A task's end as the scheduler's event."""
    if ok and isinstance(outcome, Packed):
        events.put((key, True, outcome.payload))
    elif ok and isinstance(outcome, Raised):
        events.put((key, False, outcome.received()))
    else:
        events.put((key, False, Err(outcome)))


class ProcessesAdapter(Adapter):
    """Bodies on tcg's worker processes; values kept there when the run asks."""

    name = "processes"
    isolated = True
    kills_on_cancel = True
    keeps_values = True

    def __init__(self, pool: Any, workers: int, *, owned: bool) -> None:
        self.workers = workers
        #: this resolve keeps values in the workers (``KeptRun`` sets it)
        self.keep = False
        #: names of the nodes the resolve replaces by test doubles (``mark_replaced``)
        self.replaced: frozenset[str] = frozenset()
        #: each node function as it travels, checked once per resolve
        self._checked: dict[int, Any] = {}
        self.pool = pool  #: the worker processes (``_workers.WorkerPool``)
        self.owned = owned  #: this resolve started the pool, and stops it
        self.run = pool.open_run()  #: this resolve's share of the pool

    @classmethod
    def configured(cls, executor: ProcessesExecutor | None,
                   max_workers: int | None) -> ProcessesAdapter:
        """The adapter of one resolve: on the executor's running pool, or its own."""
        if executor is not None and executor._pool is not None \
                and executor._pool.pid == os.getpid():  # in a forked child: not its own
            pool = executor._pool
            if max_workers is not None and max_workers > pool.size:
                raise TcgError(
                    f"resolve(max_workers={max_workers}) on a started ProcessesExecutor "
                    f"with {pool.size} worker processes: it cannot run more at once; give "
                    f"max_workers <= {pool.size}, or start it with more")
            return cls(pool, max_workers or pool.size, owned=False)
        from ._shipping import startup_problem
        from ._workers import WorkerPool

        workers = max_workers or (executor.max_workers if executor else None) \
            or os.cpu_count() or 2
        share_above = executor.share_above if executor else SHARE_ABOVE
        return cls(WorkerPool(workers, start_method(), share_above, startup_problem),
                   workers, owned=True)

    def _callable(self, spec: Any) -> Any:
        # The NodeFunction itself travels (by name or by value); run_body unwraps it in
        # the worker. Checked once per node function and resolve.
        shipped = self._checked.get(id(spec))
        if shipped is None:
            from ._shipping import shippable

            shipped = shippable(spec)
            if self.replaced:
                shipped = MarkedBody(shipped, self.replaced)
            self._checked[id(spec)] = shipped
        return shipped

    def submit(self, spec: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None,
               events: SimpleQueue[Any], key: Any) -> None:
        packet, helds = self.pool.pack_call(self.run, (self._callable(spec), args, kwargs))
        self.pool.submit(self.run, packet, helds, self.keep, spec.nout, spec.name,
                         lambda ok, outcome: _deliver(events, key, ok, outcome))

    def fetch(self, held: Held) -> Any:
        """The value ``held`` stands for, here."""
        return self.pool.fetch(held)

    def release(self, vids: list[ValueId]) -> None:
        """Values no consumer and no future of the caller's needs any more."""
        self.pool.release(vids)

    def mark_replaced(self, names: frozenset[str]) -> None:
        self.replaced = names

    def abandon_worker(self) -> bool:
        self.pool.grow()  # a timed-out body keeps its process; a new one takes its place
        return True

    def close(self, *, cancel: bool) -> None:
        if self.owned:
            self.pool.close(cancel=cancel)
        else:  # a started ProcessesExecutor: only this resolve's work and values go
            self.pool.close_run(self.run, cancel=cancel)

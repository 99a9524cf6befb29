"""The adapter interface every executor implements."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import concurrent.futures as cf
import pickle
from queue import SimpleQueue
from typing import Any

from .._errors import SerializationError, TcgError


class Adapter:
    """Runs node bodies somewhere and reports each outcome on the scheduler's queue.

    ``workers`` is how many bodies may run at once; ``inline`` adapters run bodies in
    the scheduler's own thread; ``isolated`` adapters run them in another process
    (so nodes must pickle, and tiny nodes must not be run inline instead);
    ``kills_on_cancel`` adapters stop running bodies when closed with ``cancel=True``.
    """

    workers: int = 1
    inline: bool = False
    isolated: bool = False
    #: closing with cancel=True stops bodies that are still running (their processes)
    kills_on_cancel: bool = False
    #: runs a node's task once its inputs' tasks are handed to it, before they are done
    #: (``DaskAdapter.send``): the scheduler hands whole parts of the graph over
    hands_over: bool = False
    #: can keep each value in the worker that made it (``_scheduler._kept``)
    keeps_values: bool = False
    name: str = "adapter"
    #: which ready node runs next: called with the ready deque, returns the one popped;
    #: ``None`` for the scheduler's own policy (see ``_scheduler``), the fast path
    pick: Any = None

    @property
    def detached(self) -> int:
        """Bodies in flight that hold no worker (coroutines awaiting on an event loop):
        the scheduler does not count them against ``workers``."""
        return 0

    def submit(self, spec: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None,
               events: SimpleQueue[Any], key: Any) -> None:
        raise NotImplementedError

    def mark_replaced(self, names: frozenset[str]) -> None:
        """The resolve has test doubles for these node names: an adapter that sends
        bodies to other processes marks them (``MarkedBody``), so that a resolve inside
        a body there refuses those nodes. Adapters in this process need nothing."""

    def abandon_worker(self) -> bool:
        """A body timed out and still occupies its worker: make up for the lost slot.

        Returns ``False`` when the slot cannot be replaced (a pool we do not own).
        """
        return False

    def close(self, *, cancel: bool) -> None:
        """Release what this adapter created (never an executor the user passed)."""


class WorkerDied(Exception):
    """The worker process running a body died (killed, crashed, ``os._exit``), or
    every worker died while starting; the message says which."""


class SerialAdapter(Adapter):
    """Runs every body in the calling thread, one at a time, in a deterministic order."""

    workers = 1
    inline = True
    name = "serial"


def _pickle_problem(exc: BaseException) -> bool:
    if isinstance(exc, pickle.PicklingError):
        return True
    if not isinstance(exc, (TypeError, AttributeError)):
        return False
    try:
        text = str(exc).lower()
    except BaseException:  # a user's exception that cannot describe itself
        return False
    return "pickle" in text or "local object" in text


def _text_of(error: BaseException | None) -> str:
    try:
        return "" if error is None else str(error)
    except Exception:
        return ""


def describe_pool_failure(exc: BaseException) -> tuple[type[TcgError], str] | None:
    """The error type and user-facing reason for a process-pool failure, or ``None`` for
    an ordinary exception raised by the node's body."""
    if isinstance(exc, WorkerDied):
        return TcgError, _text_of(exc)
    if isinstance(exc, cf.BrokenExecutor):
        return TcgError, ("the worker process running it died (killed, crashed or called "
                          "os._exit); the process pool is unusable after that")
    if _pickle_problem(exc):
        # Raised in the worker sending the value back (concurrent.futures chains the
        # worker's traceback text): the body ran. Else the arguments failed on the way.
        remote = "_sendback_result" in _text_of(exc.__cause__)
        what = "the value it returned" if remote else "its arguments"
        try:
            detail = f"{type(exc).__name__}: {exc}"
        except Exception:
            detail = type(exc).__name__
        return SerializationError, (
            f"{what} cannot be pickled to cross to {'this' if remote else 'a worker'} "
            f"process ({detail}); {'return' if remote else 'pass'} plain data (or "
            "values that pickle), or use executor='threads'")
    return None

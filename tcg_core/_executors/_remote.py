"""What a Dask worker runs for a node handed to the cluster with its graph.

A node handed over is one Dask task. Its inputs that are computed on the cluster are
Dask dependencies: the task receives their values from Dask (worker to worker), and
its own value stays on the worker for the tasks that need it. The client learns only
that a task finished or failed; when and where each body ran is kept in this process
(``_REGISTRY``, under the resolve's token) until the resolve collects it in one
request for every worker.

A task never returns a half-done value: a body that created children runs them on
the cluster before its task ends (``RemoteCall.nest``, given by the scheduler, which
this layer sits below), so a consumer already handed to Dask always receives a final
value.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import threading
import time
from collections.abc import Callable
from typing import Any

from .._context import Err, Ran, portable, run_body
from .._record import Handle
from .._values import PLAIN, nout_problem, scan_futures, substitute

__all__ = ["NestedFailure", "Remote", "RemoteCall", "TaskFailed", "run_task", "take"]


class Remote(Handle):
    """Stands for the value of a node computed on the cluster, in the arguments sent to
    its consumers; the worker fills ``_value`` in from the task's dependency."""

    __slots__ = ("key", "label")

    def __init__(self, key: str, label: str) -> None:
        self.key = key  #: the Dask key of the task computing the value
        self.label = label  #: the node computing it, as errors show it (``name#id``)
        self._value = None

    def __repr__(self) -> str:  # how a call shows this input in an error on the client
        return f"<{self.label} on the cluster>"

    def __getitem__(self, index: Any) -> RemoteItem:
        # An item future (``nout=``) of a node whose value is on the cluster.
        return RemoteItem(self, index)

    def __getstate__(self) -> tuple[str, str, Any]:
        return (self.key, self.label, self._value)

    def __setstate__(self, state: tuple[str, str, Any]) -> None:
        self.key, self.label, self._value = state


class RemoteItem(Handle):
    """``Remote(...)[index]``: one item of a value computed on the cluster."""

    __slots__ = ("base", "index")

    def __init__(self, base: Remote, index: Any) -> None:
        self.base = base  #: the value indexed
        self.index = index  #: the index

    def _get(self) -> Any:
        return self.base._get()[self.index]

    def __getstate__(self) -> tuple[Remote, Any]:
        return (self.base, self.index)

    def __setstate__(self, state: tuple[Remote, Any]) -> None:
        self.base, self.index = state


class RemoteCall:
    """One node call as its Dask task carries it (pickled once, with its arguments)."""

    __slots__ = ("args", "context", "func", "key", "kwargs", "name", "nest", "nout", "slots",
                 "token")

    def __init__(self, key: str, name: str, func: Any, args: tuple[Any, ...],
                 kwargs: dict[str, Any] | None, slots: tuple[Remote, ...], token: str,
                 nout: int | None, nest: Callable[..., Any] | None, context: Any) -> None:
        self.key = key  #: this task's Dask key
        self.name = name  #: the node's name, for messages
        self.func = func  #: what runs: the node function (or its replacement), shippable
        self.args = args  #: positional arguments, ``Remote`` where an input is on the cluster
        self.kwargs = kwargs  #: keyword arguments, likewise
        self.slots = slots  #: the ``Remote`` placeholders, in the order of the task's inputs
        self.token = token  #: the resolve whose registry entry gets this task's record
        self.nout = nout  #: the node's ``nout=``, checked here (the client never sees the value)
        #: ``nest(call, value, children) -> (value, child records)``: run the children a
        #: body created on the cluster and return its final value
        self.nest = nest
        #: what the worker needs of the resolve: ``(options, depth, the enclosing node
        #: ids, whether the node has a timeout=)``
        self.context = context

    def __dask_tokenize__(self) -> str:
        # Dask names a graph by hashing its tasks; the key is unique already, and
        # hashing the call (its function, its arguments) would cost a pickle per task.
        return self.key

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(self.__slots__, state, strict=True):
            setattr(self, name, value)


class NestedFailure(Exception):
    """A body's children failed on the cluster: ``children`` are their records (failed
    ones hold their errors), for the client to put in its graph."""

    def __init__(self, message: str, children: list[Any]) -> None:
        super().__init__(message)
        self.children = children

    def __reduce__(self) -> tuple[Any, ...]:
        return (NestedFailure, (str(self), self.children), self.__dict__)


class TaskFailed(Exception):
    """What a node's Dask task raises: the exception (made portable), the task's key,
    and when and where the body ran. Dask hands it on to every task below that one; the
    client unwraps it into an ``Err`` (``_dask``), so nothing is written on the user's
    exception.

    >>> TaskFailed(ValueError("bad"), "inc-1", None).key
    'inc-1'
    """

    def __init__(self, error: BaseException, key: str, ran: Ran | None) -> None:
        super().__init__(error, key, ran)

    @property
    def error(self) -> BaseException:
        """The exception the node's task raised."""
        error: BaseException = self.args[0]
        return error

    @property
    def key(self) -> str:
        """The key of the task that raised it."""
        return str(self.args[1])

    @property
    def ran(self) -> Ran | None:
        """When and where the body ran, if it started."""
        ran: Ran | None = self.args[2]
        return ran

    def outcome(self) -> Err:
        """As the scheduler receives it."""
        return Err(self.error, self.ran, self.key)

    def __str__(self) -> str:
        return f"{type(self.error).__name__}: {self.error} (task {self.key})"


# -- the registry of what ran here, until the resolve collects it ------------------------
_REGISTRY: dict[str, tuple[float, list[tuple[str, tuple[Any, ...]]]]] = {}
_REGISTRY_LOCK = threading.Lock()
#: An entry nobody collected this long after it was made is dropped: a task that ended
#: after its resolve had returned (past its timeout, or cancelled too late).
STALE_AFTER = 3600.0


def _register(token: str, key: str, meta: tuple[Any, ...]) -> None:
    with _REGISTRY_LOCK:
        entry = _REGISTRY.get(token)
        if entry is None:
            now = time.monotonic()
            for old in [t for t, (made, _) in _REGISTRY.items() if now - made > STALE_AFTER]:
                del _REGISTRY[old]
            entry = _REGISTRY[token] = (now, [])
        entry[1].append((key, meta))


_BODIES_ENDED: dict[str, float] = {}  # task key → when its body ended (timed nodes)


def _note_body_ended(key: str) -> None:
    with _REGISTRY_LOCK:
        now = time.monotonic()
        if len(_BODIES_ENDED) > 1000:  # never asked for: their resolves are gone
            for old in [k for k, made in _BODIES_ENDED.items() if now - made > STALE_AFTER]:
                del _BODIES_ENDED[old]
        _BODIES_ENDED[key] = now


def bodies_ended(keys: list[str]) -> list[str]:
    """Of these task keys, those whose body ended in this process and whose children
    run now (removed from the registry)."""
    with _REGISTRY_LOCK:
        return [key for key in keys if _BODIES_ENDED.pop(key, None) is not None]


def take(token: str) -> list[tuple[str, tuple[Any, ...]]]:
    """What ran in this process for the resolve ``token`` since the last call (removed):
    ``(key, (start, end, worker, child records or None))`` per task."""
    with _REGISTRY_LOCK:
        entry = _REGISTRY.pop(token, None)
    return entry[1] if entry is not None else []


def _blamed(exc: BaseException, call: RemoteCall, ran: Ran | None) -> BaseException:
    """What this task raises for ``exc``: a ``TaskFailed`` naming it (Dask hands the
    same exception to every task downstream, which the client must tell apart: those
    are skipped)."""
    if not isinstance(exc, Exception):
        return exc  # Ctrl-C, sys.exit: stop the resolve as they are
    # Raised with the body's traceback: the client puts it back on the body's exception.
    return TaskFailed(portable(exc), call.key, ran).with_traceback(exc.__traceback__)


def run_task(call: RemoteCall, *values: Any) -> Any:
    """The Dask task of one node: fill its inputs in, run its body (and the children
    it creates), record when and where, and return its value."""
    # In an in-process cluster the placeholders may be the client's own objects, shared
    # by the consumers of one input: each writes the same value for the same key.
    for slot, value in zip(call.slots, values, strict=True):
        slot._value = value
    try:
        args = substitute(call.args)
        kwargs = substitute(call.kwargs) if call.kwargs else call.kwargs
    except BaseException as exc:
        raise _blamed(exc, call, None) from None
    outcome = run_body(call.func, args, kwargs)
    if isinstance(outcome, Err):
        raise _blamed(outcome.error, call, outcome.ran) from None
    value, children, start, end, worker = outcome
    try:
        kids = None
        returned: list[Handle] = []
        if children or value.__class__ not in PLAIN:
            scan_futures(value, returned)
        if children or returned:
            if call.context is not None and call.context[3]:
                # Its body ended: a timeout= covers the body, not the children that
                # now run (the client asks, at the deadline, ``bodies_ended``).
                _note_body_ended(call.key)
            if call.nest is None:
                raise RuntimeError("internal error: a task with children and no way to "
                                   "run them")
            value, kids = call.nest(call, value, children)
        problem = nout_problem(call.name, call.nout, value)
        if problem is not None:
            raise problem
    except BaseException as exc:
        raise _blamed(exc, call, (start, end, worker)) from None
    _register(call.token, call.key, (start, end, worker, kids))
    return value

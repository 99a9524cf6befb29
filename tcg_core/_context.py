"""Which frame a new future belongs to, and how a node's body is run.

A *frame* is either the body of a running node (new futures become its children) or
a recording ``Graph`` (new futures are recorded in it). One ``ContextVar`` holds the
innermost frame, so a body running inside a ``with Graph():`` block shadows it.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import contextvars
import os
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar, Token
from types import CoroutineType
from typing import Any, NamedTuple

__all__ = ["FRAME", "BodyFrame", "Err", "Frame", "Ok", "Ran", "RecordingFrame",
           "current_frame", "enter", "inside_body", "leave", "run_body", "run_coroutine"]

#: When and where a body ran: ``(start, end, worker)``, ``time.perf_counter()`` times.
Ran = tuple[float, float, str]
#: A body that returned: ``(value, children, start, end, worker)``. A plain tuple, not
#: a NamedTuple like ``Err``: one is made per node on threads, where a NamedTuple costs
#: about 190 ns more (6 % of that executor's per-node cost, measured).
Ok = tuple[Any, list[Any], float, float, str]


class Err(NamedTuple):
    """A body that raised, or a task that could not run, as the scheduler receives it.
    The exception travels untouched: what tcg knows of it travels beside it, never as
    an attribute set on the user's object.

    >>> Err(ValueError("bad"), (0.0, 1.0, "MainThread")).ran
    (0.0, 1.0, 'MainThread')
    """

    #: the exception (the body's own, or tcg's: a worker died, the pool is shut down)
    error: BaseException
    #: when and where the body ran; ``None``: it never started
    ran: Ran | None = None
    #: on Dask, the key of the task whose body raised it: Dask hands one exception to
    #: every task below that one, which the resolve must tell apart (they are skipped)
    raised_by: str | None = None


class Frame:
    """Collects the futures created while it is the innermost frame."""

    __slots__ = ("futures", "pure")

    def __init__(self) -> None:
        self.futures: list[Any] = []
        #: the calls of ``@node(pure=True)`` functions made in this frame, made on first use
        self.pure: dict[Any, Any] | None = None


class BodyFrame(Frame):
    """The frame of a running node body; its futures become the node's children."""

    __slots__ = ()


_frame: ContextVar[Frame | None] = ContextVar("tcg_frame", default=None)
FRAME = _frame  # the scheduler's inline hot path sets it directly
current_frame = _frame.get


class RecordingFrame(Frame):
    """The frame of a ``with Graph()`` block; ``graph`` is that Graph."""

    __slots__ = ("graph",)

    def __init__(self, graph: Any) -> None:
        super().__init__()
        self.graph = graph  #: the Graph whose futures these are


# The frames entered with ``enter`` in this thread (or task), innermost last, each with
# the token that undoes it: one object may be entered in several threads at once, and
# each thread must undo its own entry.
_entered: ContextVar[tuple[tuple[Frame, Any], ...]] = ContextVar("tcg_entered", default=())


def enter(frame: Frame) -> None:
    """Make ``frame`` the innermost one in this thread (or task)."""
    token = _frame.set(frame)
    _entered.set((*_entered.get(), (frame, token)))


def leave(frame: Frame) -> None:
    """Undo this thread's latest ``enter(frame)``."""
    stack = _entered.get()
    for index in range(len(stack) - 1, -1, -1):
        if stack[index][0] is frame:
            token = stack[index][1]
            try:
                _frame.reset(token)
            except ValueError:  # entered in the context this one was copied from (a task)
                _frame.set(None if token.old_value is Token.MISSING else token.old_value)
            _entered.set(stack[:index] + stack[index + 1:])
            return
    raise RuntimeError("this Graph was not entered in this thread (or task): leave a "
                       "'with Graph()' block where it was entered")


def inside_body() -> bool:
    """True while a node's body runs in this thread (or task)."""
    return isinstance(_frame.get(), BodyFrame)


_names = threading.local()


def _forget_names() -> None:
    global _names
    _names = threading.local()  # a forked child has another pid


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_names)


def worker_name() -> str:
    """A short label of the thread or process running the current body (cached per
    thread: it is asked once per node)."""
    try:
        return _names.label  # type: ignore[no-any-return]
    except AttributeError:
        _names.label = f"{os.getpid()}:{threading.current_thread().name}"
        return _names.label  # type: ignore[no-any-return]


def _run_in_new_loop(awaitable: Awaitable[Any]) -> Any:
    import asyncio  # only for async bodies: `import tcg_core` stays cheap

    async def main() -> Any:
        return await awaitable

    return asyncio.run(main())


def await_returned(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """A coroutine a sync body returned (an ``async def`` behind a sync decorator, an
    ``AsyncMock``), run to completion: its value is what the body meant to return.

    >>> async def twice(x):
    ...     return 2 * x
    >>> await_returned(twice(21))
    42
    """
    return run_coroutine(_given, coroutine)


def _given(value: Any) -> Any:
    return value


def run_coroutine(func: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
    """Call the async ``func`` and run it to completion in this thread: how the serial
    executor and process or Dask workers run an ``async def`` body."""
    import asyncio

    awaitable = func(*args, **kwargs)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_in_new_loop(awaitable)
    # A loop already runs here (a resolve nested in an async body): asyncio cannot nest
    # loops in one thread, so this coroutine gets a thread of its own, with this context
    # (the body's frame) so its futures still become the right node's children.
    context = contextvars.copy_context()
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append((True, context.run(_run_in_new_loop, awaitable)))
        except BaseException as exc:
            outcome.append((False, exc))

    thread = threading.Thread(target=target, name="tcg-nested-async", daemon=True)
    thread.start()
    thread.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def run_body(func: Callable[..., Any], args: tuple[Any, ...],
             kwargs: dict[str, Any] | None) -> Ok | Err:
    """Run one node body with a fresh frame; never raises what the body raised.

    Returns ``Ok``, ``(value, children, start, end, worker)`` where ``children`` are
    the futures the body created, or ``Err`` with the exception and when it ran.
    Picklable by reference, so process and Dask workers can run it.

    >>> run_body(abs, (-2,), None)[0]
    2
    >>> type(run_body(int, ("x",), None).error).__name__
    'ValueError'
    """
    # A NodeFunction sent by reference. Asked of the type: a Mock answers any attribute.
    if getattr(type(func), "_tcg_node", False) is True:
        func = func.body  # type: ignore[attr-defined]
    frame = BodyFrame()
    token = _frame.set(frame)
    start = time.perf_counter()
    try:
        value = func(*args, **kwargs) if kwargs else func(*args)
        if value.__class__ is CoroutineType:
            value = await_returned(value)
    except BaseException as exc:
        # Where and when a failed body ran is recorded too (a timeline shows it).
        return Err(exc, (start, time.perf_counter(), worker_name()))
    finally:
        end = time.perf_counter()
        _frame.reset(token)
    return value, frame.futures, start, end, worker_name()


#: In a worker process, while a body sent by a resolve with test doubles active runs:
#: the names of the replaced nodes, which a resolve inside that body must refuse (the
#: doubles and their records live in the process that started the resolve).
REPLACED_ELSEWHERE: ContextVar[frozenset[str]] = ContextVar("tcg_replaced_elsewhere",
                                                             default=frozenset())


class MarkedBody:
    """A body sent to a worker process with the names of the nodes replaced by test
    doubles in the resolve that sent it (set in ``REPLACED_ELSEWHERE`` while it runs)."""

    __slots__ = ("func", "names")

    def __init__(self, func: Any, names: frozenset[str]) -> None:
        self.func = func  #: what would have been sent: a node function, or a view of one
        self.names = names  #: the replaced nodes' names

    def __reduce__(self) -> tuple[Any, ...]:
        return (MarkedBody, (self.func, self.names))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        func = self.func
        if getattr(type(func), "_tcg_node", False) is True:  # as run_body unwraps it
            func = func.body
        token = REPLACED_ELSEWHERE.set(self.names)
        try:
            return func(*args, **kwargs) if kwargs else func(*args)
        finally:
            REPLACED_ELSEWHERE.reset(token)


class Packed:
    """A body's outcome as one object, so a transport that serialises the items of a
    tuple one by one (Dask does) still keeps a child future and the same future in the
    returned value identical."""

    __slots__ = ("payload",)

    def __init__(self, payload: Ok) -> None:
        self.payload = payload

    def __getstate__(self) -> tuple[Any, ...]:
        return self.payload

    def __setstate__(self, state: tuple[Any, list[Any], float, float, str]) -> None:
        self.payload = state


class Raised:
    """A body's exception on its way back from a worker process, with the traceback text
    of the user's frames only (``concurrent.futures`` would attach the whole worker
    stack, tcg's frames first)."""

    __slots__ = ("error", "ran", "trace")

    def __init__(self, error: BaseException, trace: str, ran: Ran | None = None) -> None:
        self.error = error  #: the exception, as ``portable`` made it
        self.trace = trace  #: where it was raised, user frames only
        self.ran = ran  #: when and where the body ran, if it started

    def __getstate__(self) -> tuple[BaseException, str, Ran | None]:
        return self.error, self.trace, self.ran

    def __setstate__(self, state: tuple[BaseException, str, Ran | None]) -> None:
        self.error, self.trace, self.ran = state

    def received(self) -> Err:
        """The outcome in the parent, the worker traceback chained as the cause."""
        error = self.error
        if error.__cause__ is None and self.trace:
            error.__cause__ = WorkerTraceback(self.trace)
        return Err(error, self.ran)


class WorkerTraceback(Exception):
    """Stands for the traceback of an exception raised in a worker process (its frames
    cannot cross a process boundary): the text, the user's frames only."""

    def __str__(self) -> str:
        return f"\n{self.args[0]}" if self.args else ""


WorkerTraceback.__module__ = "tcg_core"  # printed as such above a worker's traceback


def run_body_packed(func: Callable[..., Any], args: tuple[Any, ...],
                    kwargs: dict[str, Any] | None) -> Packed | Raised:
    """``run_body`` for workers in other processes: the outcome travels as one object
    (``Raised`` for an exception; one the parent could not unpickle travels as a
    ``RemoteError``)."""
    outcome = run_body(func, args, kwargs)
    if isinstance(outcome, Err):
        error, ran, _ = outcome
        if not isinstance(error, Exception):  # Ctrl-C, sys.exit: the worker's to handle
            raise error
        return Raised(portable(error), user_traceback(error), ran)
    return Packed(outcome)


def user_traceback(exc: BaseException) -> str:
    """The traceback text of ``exc`` without tcg's own frames (those whose module sets
    ``__tracebackhide__``): the user's body and what it called."""
    import traceback
    from types import TracebackType

    kept: list[Any] = []
    tb = exc.__traceback__
    while tb is not None:
        if not tb.tb_frame.f_globals.get("__tracebackhide__"):
            kept.append(tb)
        tb = tb.tb_next
    rebuilt: TracebackType | None = None
    for entry in reversed(kept):
        rebuilt = TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    try:
        return "".join(traceback.format_exception(type(exc), exc, rebuilt)).rstrip()
    except Exception:  # a hostile exception: the type is all there is to say
        return f"{type(exc).__name__} (its traceback could not be formatted)"


def portable(exc: BaseException) -> BaseException:
    """``exc``, or a ``RemoteError`` with its type, message and traceback text when it
    does not survive a pickle round trip (the parent would fail to load it, and report
    a dead worker instead) or cannot describe itself (Dask would replace it with the
    error its ``__str__`` raised): the same outcome on processes and Dask."""
    import pickle

    try:
        str(exc)  # Dask describes it in the worker: one whose __str__ raises is lost there
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        from ._errors import RemoteError, safe_text

        kind = type(exc)
        message = safe_text(exc)
        remote = RemoteError(f"{kind.__module__}.{kind.__qualname__}", message,
                             user_traceback(exc))
        return remote

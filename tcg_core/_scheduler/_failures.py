"""The errors a resolve raises for its nodes, built so that building them cannot fail.

A message is made from the user's exceptions and values, and those may break while
being described (a ``__str__`` that raises, a ``__repr__`` that loops): every piece of
user text goes through ``safe_text``, so a node that failed can always say why.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import reprlib
from typing import Any

from .._errors import (
    DependencyError,
    InputMutationError,
    NodeError,
    ReplacementError,
    ResolveCancelled,
    SerializationError,
    TcgError,
    safe_text,
)
from .._executors._base import describe_pool_failure
from .._record import NodeRecord, NodeState, describe_chain

__all__ = ["dependency_error", "describe_call", "explain_pool_failure", "internal_error",
           "node_error", "not_retried", "safe_repr", "safe_text"]

class _Short(reprlib.Repr):
    """``reprlib`` that shows a done future in an argument as its value (what the body
    was given), and a pending one as its node and id."""

    # reprlib dispatches on the type's name: these handle Future and ItemFuture.
    def repr_Future(self, obj: Any, level: int) -> str:
        rec = obj._record
        if rec.state == NodeState.DONE:
            try:
                return self.repr1(obj._get(), level)
            except Exception:  # a value since released, or an item that does not exist
                pass
        return f"<{rec.name}#{rec.id}>"

    repr_ItemFuture = repr_Future


_short = _Short()
_short.maxstring = 40
_short.maxother = 40
_MAX_ARGS = 4  # arguments shown of a call, each through _short


def safe_repr(value: object) -> str:
    """A short ``repr`` of a user's value that never raises."""
    try:
        return _short.repr(value)
    except BaseException as broken:
        return f"<{type(value).__name__}: repr() raised {type(broken).__name__}>"


def _named(rec: NodeRecord) -> str:
    """The node's name, and its per-call label if it was given one (``.named()``)."""
    label = rec.label
    return f"{rec.name!r}" if label is None else f"{rec.name!r} [{label}]"


def _where(rec: NodeRecord) -> str:
    return f"node {_named(rec)} ({short_path(rec)})"


def short_path(rec: NodeRecord) -> str:
    """``rec``'s nesting path for a message: shortened in the middle when deep, so a
    runaway recursion's headline stays one readable line (``forever › … › forever``);
    ``NodeError.path`` keeps the whole of it."""
    return describe_chain(rec.lineage())


#: How many enclosing calls a failure names (the nearest first).
_MAX_ENCLOSING = 3


def _enclosing_calls(rec: NodeRecord) -> str:
    """The calls of the parents around a failed nested node, nearest first: a function
    called for each region fails as ``region_total#41([])`` inside
    ``region_report#12('east')``, which says which region (its own arguments may not)."""
    calls: list[str] = []
    parent = rec.parent
    while parent is not None and len(calls) < _MAX_ENCLOSING:
        calls.append(describe_call(parent))
        parent = parent.parent
    if parent is not None:
        calls.append("…")
    return " inside ".join(calls)


def describe_call(rec: NodeRecord) -> str:
    """The call a node stands for, short, so that several calls of one function can be
    told apart: ``parse_rows#12('shop/b', 3)`` (arguments through ``reprlib``)."""
    args, kwargs = rec._args, rec._kwargs
    head = f"{rec.name}#{rec.id}"
    if args is None:  # released once the node finished: as it was described then
        return rec.call or head
    if args.__class__ is not tuple:  # a lone plain future, kept as itself
        args = (args,)
    parts = [safe_repr(a) for a in args[:_MAX_ARGS]]
    if len(args) > _MAX_ARGS:
        parts.append("...")
    parts += [f"{k}={safe_repr(v)}" for k, v in list((kwargs or {}).items())[:_MAX_ARGS]]
    if kwargs and len(kwargs) > _MAX_ARGS:
        parts.append("...")
    return f"{head}({', '.join(parts)})"


def dependency_error(role: str, dep: NodeRecord) -> DependencyError:
    """Why a node could not complete: ``dep`` (an input or child) failed. The failure it
    stems from is chained as ``__cause__``, so the original exception is never lost."""
    err = DependencyError(f"{role} {_named(dep)} ({short_path(dep)}) {dep.state}")
    if dep.error is not None:
        err.__cause__ = node_error(dep)
    return err


def node_error(rec: NodeRecord) -> NodeError:
    """The user-facing error for a failed or skipped node, cause chained; with retries,
    every earlier attempt's error is listed too (and kept on ``attempt_errors``)."""
    cause = rec.error
    if isinstance(cause, InputMutationError):  # already names the node: raised as it is
        return cause
    if cause is None:
        cause = TcgError(f"{_where(rec)} is {rec.state}")
    if rec.state == NodeState.SKIPPED or isinstance(cause, DependencyError):
        message = f"{_where(rec)} did not complete: {safe_text(cause)}"
    else:
        message = f"node {_named(rec)} failed ({short_path(rec)}): {type(cause).__name__}: " \
                  f"{safe_text(cause)}"
    earlier = rec.attempt_errors
    if rec.attempts > 1:
        message += f" (after {rec.attempts} attempts"
        if earlier:
            listed = "; ".join(f"{i}: {type(e).__name__}: {safe_text(e)}"
                               for i, e in enumerate(earlier, 1))
            message += f"; earlier attempts: {listed}"
        message += ")"
    extra = rec._more()
    if extra.call is None:
        extra.call = describe_call(rec)
    message += f"\n    the call: {extra.call}"
    inside = _enclosing_calls(rec)
    if inside:
        message += f"\n    inside: {inside}"
    err = NodeError(message, node=rec, path=rec.path)
    err.attempt_errors = [*earlier, cause]
    err.__cause__ = cause
    return err


def internal_error(rec: NodeRecord, doing: str, exc: BaseException) -> TcgError:
    """What fails a node when tcg's own handling of it raised (``doing`` says where):
    the node ends failed with this instead of being left half-way."""
    err = TcgError(f"{_where(rec)} could not be finished: {doing} raised "
                   f"{type(exc).__name__}: {safe_text(exc)}")
    err.__cause__ = exc
    return err


def explain_pool_failure(rec: NodeRecord, exc: BaseException) -> BaseException:
    """A pool's own failure (a dead worker, a pickling error) as an error naming the node;
    an exception the body raised is returned as it is."""
    described = describe_pool_failure(exc)
    if described is None:
        return exc
    kind, reason = described
    wrapped = kind(f"{_where(rec)}: {reason}")
    wrapped.__cause__ = exc
    return wrapped


def not_retried(exc: BaseException) -> bool:
    """Failures a retry cannot mend: the node could not be sent, or the resolve was
    cancelled under it."""
    return isinstance(exc, (SerializationError, ResolveCancelled, ReplacementError))

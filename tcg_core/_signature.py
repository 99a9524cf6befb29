"""What a node learns from its function's signature, once, when it is decorated."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import functools
import inspect
import sys
from collections.abc import Callable
from typing import Any

from ._record import Handle
from ._values import scan_futures

__all__ = ["argument_names", "defaults_hold_futures", "is_async", "make_binder",
           "positional_arity", "refuse_generator"]


def is_async(func: Callable[..., Any]) -> bool:
    """An ``async def`` function, or a partial or callable object wrapping one."""
    while isinstance(func, functools.partial):
        func = func.func
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None))  # noqa: B004 - a callable object's method


def refuse_generator(func: Callable[..., Any], name: str) -> None:
    inner = func.func if isinstance(func, functools.partial) else func
    if inspect.isgeneratorfunction(inner) or inspect.isasyncgenfunction(inner):
        raise TypeError(
            f"@node cannot decorate the generator function {name!r}: a node's value is "
            "computed once and may cross processes, and a generator is consumed lazily. "
            "Return a list instead (return list(...)), or make it a plain function")


def make_binder(func: Callable[..., Any]) -> Callable[..., None] | None:
    """A no-op function with ``func``'s parameters, so a wrong call fails at the call site
    with Python's own message, at a fraction of ``Signature.bind``'s cost."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    params, star_done, pos_only_seen = [], False, False
    for p in sig.parameters.values():
        if p.kind is p.POSITIONAL_ONLY:
            pos_only_seen = True
        elif pos_only_seen:
            params.append("/")
            pos_only_seen = False
        if p.kind is p.KEYWORD_ONLY and not star_done:
            params.append("*")
            star_done = True
        if p.kind is p.VAR_POSITIONAL:
            params.append(f"*{p.name}")
            star_done = True
        elif p.kind is p.VAR_KEYWORD:
            params.append(f"**{p.name}")
        else:
            params.append(p.name + ("=None" if p.default is not p.empty else ""))
    if pos_only_seen:
        params.append("/")
    namespace: dict[str, Any] = {}
    exec(f"def _binder({', '.join(params)}):\n    pass", namespace)
    binder = namespace["_binder"]
    # Python names the function in TypeErrors: make it the user's, not ours.
    name = getattr(func, "__name__", type(func).__name__)
    binder.__name__ = binder.__qualname__ = name
    binder.__defaults__ = getattr(func, "__defaults__", None)
    binder.__kwdefaults__ = getattr(func, "__kwdefaults__", None)
    return binder  # type: ignore[no-any-return]


def argument_names(func: Callable[..., Any]) -> tuple[list[str], str | None]:
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return [], "args"
    positional = [p.name for p in sig.parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    star = next((p.name for p in sig.parameters.values() if p.kind is p.VAR_POSITIONAL), None)
    return positional, star


def positional_arity(func: Callable[..., Any]) -> tuple[int, int]:
    """How many positional arguments make a valid call on their own: ``(1, 0)``
    (none do) when a keyword-only parameter has no default."""
    sig = inspect.signature(func)
    low = high = 0
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            high += 1
            low += p.default is p.empty
        elif p.kind is p.VAR_POSITIONAL:
            high = sys.maxsize
        elif p.kind is p.KEYWORD_ONLY and p.default is p.empty:
            return 1, 0
    return low, high


def defaults_hold_futures(func: Callable[..., Any]) -> bool:
    found: list[Handle] = []
    scan_futures(getattr(func, "__defaults__", None) or (), found)
    scan_futures(getattr(func, "__kwdefaults__", None) or {}, found)
    return bool(found)

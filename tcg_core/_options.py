"""The options of ``node()`` and ``resolve()``, each checked once, where it is given.

A wrong option fails at the call that passed it, with a message naming that call, the
option, the value and what is allowed: never later, deep inside a run, as a raw
comparison error. ``bool`` is not accepted as a number (``retries=True`` is a mistake),
and neither is NaN or infinity as a duration.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import math
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any, TypedDict

from ._callbacks import Callback
from ._errors import did_you_mean
from ._executors import check_executor

__all__ = ["DEFAULT_MAX_DEPTH", "NodeOptions", "ResolveKeywords", "ResolveOptions",
           "RunKeywords"]

DEFAULT_MAX_DEPTH = 200


class RunKeywords(TypedDict, total=False):
    """The keyword options of a resolve besides ``executor`` (see ``tcg_core.resolve``)."""

    max_workers: int | None
    keep_going: bool
    max_depth: int
    inline_tiny: bool
    check_mutation: bool
    callbacks: Any
    progress: bool
    cache: bool


class ResolveKeywords(RunKeywords, total=False):
    """Every keyword option of ``tcg_core.resolve``."""

    executor: Any


_KNOWN = tuple(ResolveKeywords.__optional_keys__ | ResolveKeywords.__required_keys__)


def _describe(value: object) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _bad(where: str, option: str, value: object, allowed: str, *,
         kind: type[Exception] = ValueError) -> Exception:
    return kind(f"{where}: {option} must be {allowed}, got {_describe(value)}")


def check_int(where: str, option: str, value: object, *, low: int) -> int:
    """``value`` as an int of at least ``low``; bools are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(where, option, value, f"an int >= {low}", kind=TypeError)
    if value < low:
        raise _bad(where, option, value, f"an int >= {low}")
    return value


def check_seconds(where: str, option: str, value: object, *, allow_zero: bool) -> float:
    """``value`` as a finite, non-negative (or positive) number of seconds."""
    allowed = "a finite number >= 0" if allow_zero else "a finite number of seconds > 0"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise _bad(where, option, value, allowed, kind=TypeError)
    number = float(value)
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        raise _bad(where, option, value, allowed)
    return number


def check_bool(where: str, option: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _bad(where, option, value, "True or False", kind=TypeError)
    return value


#: The longest node name: names label diagrams, and Graphviz refuses a quoted string
#: over 16,384 characters (with the path and the timings around it).
MAX_NAME = 1000


def check_name(where: str, name: object) -> str:
    """A node name every format can write: a non-empty str of at most ``MAX_NAME``
    characters that UTF-8 can encode (no lone surrogate)."""
    if not isinstance(name, str) or not name:
        raise _bad(where, "name", name, "a non-empty str", kind=TypeError)
    if len(name) > MAX_NAME:
        raise _bad(where, "name", name, f"at most {MAX_NAME} characters (it labels "
                   "diagrams), not " + str(len(name)))
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad(where, "name", name, "text UTF-8 can encode (it has a lone surrogate, "
                   "which no file or diagram can hold)") from None
    return name


@dataclass(frozen=True)
class NodeOptions:
    """What ``@node(...)`` was given, checked."""

    name: str | None = None  #: shown in graphs and errors; default the function's name
    nout: int | None = None  #: the call returns this many futures
    cost: float | None = None  #: relative duration hint for scheduling
    retries: int = 0  #: extra attempts after a failure
    timeout: float | None = None  #: seconds a body may run
    cache: bool | None = None  #: use the result cache (None: as the resolve says)
    cache_key: Any = None  #: a version folded into the cache key
    pure: bool = False  #: identical calls in one graph share one node
    verbose: bool = False  #: print a line per node as it finishes

    @classmethod
    def check(cls, where: str, *, name: object = None, nout: object = None,
              cost: object = None, retries: object = 0, timeout: object = None,
              cache: object = None, cache_key: object = None, pure: object = False,
              verbose: object = False) -> NodeOptions:
        """The checked options, or an error naming ``where`` (``node()``, ``Node()``)."""
        checked_name = None if name is None else check_name(where, name)
        if cache is not None:
            check_bool(where, "cache", cache)
        if cache_key is not None:
            try:
                hash(cache_key)
            except TypeError:
                raise _bad(where, "cache_key", cache_key,
                           "a hashable value such as a version string", kind=TypeError) from None
        return cls(
            cache=cache,  # type: ignore[arg-type]
            cache_key=cache_key,
            pure=check_bool(where, "pure", pure),
            verbose=check_bool(where, "verbose", verbose),
            name=checked_name,
            nout=None if nout is None else check_int(where, "nout", nout, low=1),
            cost=None if cost is None else check_seconds(where, "cost", cost, allow_zero=True),
            retries=check_int(where, "retries", retries, low=0),
            timeout=None if timeout is None else check_seconds(where, "timeout", timeout,
                                                              allow_zero=False),
        )


@dataclass(frozen=True)
class ResolveOptions:
    """What a ``resolve`` was given, checked (the executor is checked by the adapter
    that turns it into workers)."""

    executor: Any = None  #: where bodies run (see ``tcg_core.resolve``)
    max_workers: int | None = None  #: how many bodies may run at once
    keep_going: bool = False  #: finish every branch a failure does not touch
    max_depth: int = DEFAULT_MAX_DEPTH  #: how deep nodes may nest
    inline_tiny: bool = True  #: run nodes measured to take microseconds inline
    check_mutation: bool = False  #: fail a node whose body changed one of its arguments
    callbacks: tuple[Callback, ...] = ()  #: observers of this resolve (``Callback``)
    progress: bool = False  #: show a live progress bar on a terminal
    cache: bool = False  #: use the result cache for nodes that do not say otherwise

    @classmethod
    def check(cls, where: str, options: Mapping[str, Any]) -> ResolveOptions:
        """The checked options, or an error naming ``where`` and the bad option."""
        unknown = sorted(set(options) - set(_KNOWN))
        if unknown:
            allowed = ", ".join(sorted(_KNOWN))
            raise TypeError(f"{where} got an unexpected keyword argument {unknown[0]!r}"
                            f"{did_you_mean(unknown[0], _KNOWN)}; it takes {allowed}")
        max_workers = options.get("max_workers")
        executor = options.get("executor")
        check_executor(where, executor)
        return cls(
            executor=executor,
            max_workers=None if max_workers is None else check_int(
                where, "max_workers", max_workers, low=1),
            keep_going=check_bool(where, "keep_going", options.get("keep_going", False)),
            max_depth=check_int(where, "max_depth", options.get("max_depth", DEFAULT_MAX_DEPTH),
                                low=1),
            inline_tiny=check_bool(where, "inline_tiny", options.get("inline_tiny", True)),
            check_mutation=check_bool(where, "check_mutation",
                                      options.get("check_mutation", False)),
            callbacks=check_callbacks(where, options.get("callbacks")),
            progress=check_bool(where, "progress", options.get("progress", False)),
            cache=check_bool(where, "cache", options.get("cache", False)),
        )


def check_callbacks(where: str, value: object) -> tuple[Callback, ...]:
    """``callbacks=`` as a tuple of ``Callback`` instances (``None``: none)."""
    if value is None:
        return ()
    if isinstance(value, Callback):
        return (value,)
    allowed = "a list of tcg_core.Callback instances"
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
        raise _bad(where, "callbacks", value, allowed, kind=TypeError)
    items = tuple(value)
    for item in items:
        if not isinstance(item, Callback):
            raise _bad(where, "callbacks", item, allowed + " (subclass Callback)",
                       kind=TypeError)
    return items

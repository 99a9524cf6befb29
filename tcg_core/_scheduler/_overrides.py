"""Test doubles: ``override`` runs a replacement instead of a node's body in every
resolve inside it, on every executor, and the graph keeps the node (marked replaced).

Why process-wide and not a ``ContextVar``: a body that resolves a nested graph runs on
an executor thread, which does not inherit the caller's context, and a test double must
apply there too (as ``unittest.mock.patch`` does). A run reads the registry once, when it
is created (``current``), so a run with no override active pays nothing per node.

Why a replacement runs in the calling process on every executor: a double keeps state (a
``Mock``'s ``side_effect`` sequence, its call records, a counter in a closure), and a
copy shipped to a worker process per task would restart it there. So under processes
and Dask the scheduler runs ``Replaced`` specs on threads of its own process
(``Lifecycle.adapter_here``), and every other body travels marked (``MarkedBody``) so that
a resolve *inside* a body in a worker refuses a replaced node with an error that says
why, instead of running the real body.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import inspect
import reprlib
import threading
from collections.abc import Mapping
from typing import Any

from .._context import REPLACED_ELSEWHERE
from .._errors import ReplacementError

__all__ = ["Override", "Overrides", "Replaced", "current", "override"]

_short = reprlib.Repr()
_short.maxstring = 40
_short.maxother = 40

_lock = threading.Lock()
_stack: list[Override] = []  # the overrides entered, innermost last
_current: Overrides | None = None  # their merged view; None while none is active
_UNCHECKED: Any = object()


def current() -> Overrides | None:
    """What a run created now replaces (``None`` while no override is active)."""
    if _current is None:
        names = REPLACED_ELSEWHERE.get()
        return Overrides.refusing(names) if names else None
    return _current


def _describe(target: Any) -> str:
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    return str(name) if isinstance(name, str) else type(target).__name__


def _is_exception(target: Any) -> bool:
    """An exception to raise: an instance, or a class (as ``Mock(side_effect=...)`` takes
    one; called, a class would return an instance as the node's value)."""
    return isinstance(target, BaseException) or (
        isinstance(target, type) and issubclass(target, BaseException))


def _perform(kind: str, target: Any, args: tuple[Any, ...],
             kwargs: dict[str, Any] | None) -> Any:
    if kind == "raise":
        raise target
    if kind == "return":
        return target
    # An async fake's coroutine is awaited where every body's is (``run_body``).
    return target(*args, **kwargs) if kwargs else target(*args)


class _Entry:
    """One replacement: what it does, and the calls it received."""

    __slots__ = ("_signature", "calls", "key", "kind", "label", "target")

    def __init__(self, key: Any, target: Any) -> None:
        self.key = key
        self.label: str = key if isinstance(key, str) else key.name
        self.kind = ("raise" if _is_exception(target)
                     else "call" if callable(target) else "return")
        self.target = target
        self.calls: list[Any] = []
        self._signature: Any = _UNCHECKED

    def accept(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> None:
        """Refuse a call the replacement's signature cannot take; note one it can."""
        if self.kind == "call":
            signature = self._signature
            if signature is _UNCHECKED:
                try:
                    signature = inspect.signature(self.target)
                except (TypeError, ValueError):  # a builtin without one: let it run
                    signature = None
                self._signature = signature
            if signature is not None:
                try:
                    signature.bind(*args, **(kwargs or {}))
                except TypeError as exc:
                    shown = ", ".join([*map(_short.repr, args),
                                       *(f"{k}={_short.repr(v)}" for k, v in
                                         (kwargs or {}).items())])
                    raise ReplacementError(
                        f"node {name!r}: its replacement {_describe(self.target)}"
                        f"{signature} cannot accept the call {name}({shown}): {exc}; give "
                        "a replacement whose signature accepts the node's arguments") \
                        from None
        from unittest.mock import call  # only once a double runs: `import tcg_core` stays cheap

        self.calls.append(call(*args, **(kwargs or {})))


class _Body:
    """A replacement as the body the scheduler calls in this process."""

    __slots__ = ("entry", "name")

    def __init__(self, entry: _Entry, name: str) -> None:
        self.entry = entry
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        entry = self.entry
        entry.accept(self.name, args, kwargs)
        return _perform(entry.kind, entry.target, args, kwargs)


class Replaced:
    """A replaced node's spec in one run: the node's options and the replacement's body
    (``func``)."""

    __slots__ = ("body", "func", "node")
    _tcg_replaced = True
    #: stands in for a node function: a worker runs its ``body`` (see ``run_body``)
    _tcg_node = True
    #: the replacement runs as a plain call, even for an ``async def`` node
    is_async = False

    def __init__(self, node: Any, body: _Body) -> None:
        self.node = node
        self.func = self.body = body

    def __getattr__(self, name: str) -> Any:
        return getattr(self.node, name)


class Overrides:
    """The replacements active when a run was created, merged (innermost wins)."""

    __slots__ = ("by_name", "by_node", "names")

    def __init__(self, stack: list[Override]) -> None:
        # (depth, entry): an inner override wins whether it names the node or gives it
        self.by_node: dict[int, tuple[int, _Entry]] = {}
        self.by_name: dict[str, tuple[int, _Entry]] = {}
        for depth, entered in enumerate(stack):
            for entry in entered._entries:  # noqa: SLF001  (an Override of this module)
                if isinstance(entry.key, str):
                    self.by_name[entry.key] = (depth, entry)
                else:
                    self.by_node[id(entry.key)] = (depth, entry)
        #: every replaced node's name, for the bodies that go to other processes
        self.names = frozenset(entry.label for entered in stack
                               for entry in entered._entries)  # noqa: SLF001  (as above)

    @classmethod
    def refusing(cls, names: frozenset[str]) -> Overrides:
        """In a worker process: every node named in ``names`` fails with an error that
        says why (its double lives in the process that started the resolve)."""
        refusal = cls([])
        for name in names:
            refusal.by_name[name] = (0, _Entry(name, ReplacementError(
                f"node {name!r} is replaced by a test double (override or tcg_mock), but "
                "it was resolved inside a node's body running in a worker process, where "
                "the double and its records are not: return the futures from the body "
                "instead of resolving them inside it (they then run where the double is), "
                "or use executor='threads'")))
        return refusal


    def spec_for(self, rec: Any) -> Any:
        """The spec to run ``rec`` with: its own, or a ``Replaced`` one (and the record
        is marked replaced)."""
        spec = rec.spec
        given = self.by_node.get(id(spec))
        named = self.by_name.get(spec.name)
        if given is None and named is None:
            return spec
        if given is None or (named is not None and named[0] > given[0]):
            given = named
        rec.replaced = True
        return Replaced(spec, _Body(given[1], rec.name))  # type: ignore[index]


class Override:
    """Replacements for nodes, active inside ``with``; made by :func:`override`.

    >>> from tcg_core import node, override
    >>> @node
    ... def load(name):
    ...     raise OSError("no such table")
    >>> o = override({"load": ["row"]})
    >>> with o:
    ...     load("users").resolve()
    ['row']
    >>> o.calls("load"), o.unused()
    ([call('users')], [])
    """

    def __init__(self, replacements: Mapping[Any, Any]) -> None:
        if not isinstance(replacements, Mapping):
            raise TypeError(
                "override(): replacements must be a mapping {node or name: replacement}, "
                f"got {type(replacements).__name__} {_short.repr(replacements)}")
        entries = []
        for key, target in replacements.items():
            if isinstance(key, str) and key:
                pass
            elif not (getattr(key, "_tcg_node", False) is True
                      and isinstance(getattr(key, "name", None), str)):
                raise TypeError(
                    "override(): a key must be a @node function or a node's name (a "
                    f"non-empty str), got {type(key).__name__} {_short.repr(key)}")
            entries.append(_Entry(key, target))
        self._entries = entries
        self._active = False

    def __enter__(self) -> Override:
        global _current
        with _lock:
            if self._active:
                raise RuntimeError("override(): this override is already active; enter "
                                   "it once (or make another with override())")
            self._active = True
            _stack.append(self)
            _current = Overrides(_stack)
        return self

    def __exit__(self, *exc: object) -> None:
        global _current
        with _lock:
            if self._active:
                self._active = False
                _stack.remove(self)
                _current = Overrides(_stack) if _stack else None

    def _find(self, key: Any) -> _Entry:
        for entry in self._entries:
            if entry.key is key or (isinstance(key, str) and entry.key == key):
                return entry
        name = key if isinstance(key, str) else getattr(key, "name", None)
        for entry in self._entries:
            if entry.label == name:
                return entry
        known = ", ".join(repr(e.label) for e in self._entries) or "none"
        raise KeyError(f"override.calls(): {_short.repr(key)} is not one of the replaced "
                       f"nodes ({known})")

    def calls(self, key: Any) -> list[Any]:
        """The calls the replacement for ``key`` (a node or its name) received, as
        ``unittest.mock.call`` objects, oldest first."""
        return list(self._find(key).calls)

    def unused(self) -> list[str]:
        """The names of the replaced nodes that no resolve has called yet."""
        return [entry.label for entry in self._entries if not entry.calls]


def override(replacements: Mapping[Any, Any]) -> Override:
    """Run replacements instead of nodes' bodies in every resolve inside ``with``.

    A key is a ``@node`` function or a node's name (nested nodes too); a value is a
    callable (called with the node's arguments; its signature must accept them), an
    exception instance or class (raised) or any other value (returned). It applies on every
    executor: the replacement travels with the task to worker processes. The graph keeps
    the node, marked ``replaced``; ``calls(key)`` lists what each replacement received.

    >>> from tcg_core import node, override
    >>> @node
    ... def fetch(url):
    ...     raise ConnectionError("no network in tests")
    >>> @node
    ... def size(text):
    ...     return len(text)
    >>> with override({fetch: lambda url: "<html>", "size": 99}) as o:
    ...     size(fetch("https://example.org")).resolve()
    99
    >>> o.calls(fetch)
    [call('https://example.org')]
    """
    return Override(replacements)

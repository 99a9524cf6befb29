"""What assigning a public attribute of a node function does: it takes effect, or it raises.

A user who writes ``step.func = fake`` (or ``monkeypatch.setattr(step, "func", fake)``)
means the fake to run, on every executor; one who writes ``step.pure = True`` after the
decorator means a behaviour the decorator alone decides. Nothing here is silently ignored:

* ``func``: replaces the body everywhere (serial, threads, processes, Dask); the
  derived ``body`` and ``is_async`` follow it, and a replaced module-level node travels to
  other processes by value instead of by name, so workers run the replacement too;
* ``retries``, ``timeout``, ``cost``, ``name``, ``cache``, ``cache_key``, ``verbose``:
  checked as ``@node(...)`` checks them, then honoured from the next resolve on;
* ``nout``, ``pure``, ``body``, ``is_async``: refused with an error that says what to write.

The guard is a descriptor with ``__set__`` and no ``__get__``: reading the attribute
goes straight to the instance's ``__dict__`` (the scheduler reads these per node, so a
read must cost nothing), and only writes pass through a rule.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from collections.abc import Callable
from typing import Any

from ._callbacks import needs_hooks, note_hooks
from ._options import NodeOptions

__all__ = ["guard_assignments"]

Rule = Callable[[Any, str, Any], Any]  # (node function, attribute, value) -> value to store


class _Guard:
    """A write-only data descriptor: ``obj.attr = v`` stores ``rule(obj, attr, v)``."""

    __slots__ = ("name", "rule")

    def __init__(self, name: str, rule: Rule) -> None:
        self.name = name  #: the attribute it guards
        self.rule = rule  #: decides what is stored, or raises

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.name] = self.rule(instance, self.name, value)


def _where(instance: Any, attribute: str) -> str:
    return f"{instance.name}.{attribute} = ..."


def _made(instance: Any) -> bool:
    """False while the constructor sets the attributes (NodeOptions checked them)."""
    return bool(instance.__dict__.get("_made", False))


def _checked_option(instance: Any, attribute: str, value: Any) -> Any:
    """Checked by the same rules as ``@node(attribute=value)``."""
    if not _made(instance):
        return value
    checked = getattr(NodeOptions.check(_where(instance, attribute), **{attribute: value}),
                      attribute)
    if attribute in ("cache", "verbose"):
        cache = checked if attribute == "cache" else instance.cache
        verbose = checked if attribute == "verbose" else instance.verbose
        note_hooks(instance, needs_hooks(cache, verbose))
    return checked


def _fixed(advice: str) -> Rule:
    def refuse(instance: Any, attribute: str, value: Any) -> Any:
        if not _made(instance):
            return value
        raise AttributeError(
            f"{_where(instance, attribute)}: {attribute!r} cannot change after @node made "
            f"{instance.name!r}; {advice}")
    return refuse


_REPLACE_IN_TESTS = ("to replace a body in a test use tcg_core.override({node: fake}) or "
                     "the tcg_mock fixture, or assign .func")


def _install_func(instance: Any, attribute: str, value: Any) -> Any:
    if _made(instance) and not callable(value):
        raise TypeError(f"{_where(instance, attribute)}: the body must be a function, got "
                        f"{type(value).__name__}")
    instance._install(value)  # checks it and derives body, is_async and the binder
    return value


_RULES: dict[str, Rule] = {
    "func": _install_func,
    "body": _fixed("it is derived from .func: " + _REPLACE_IN_TESTS),
    "is_async": _fixed("it is derived from .func (an async def body is awaited)"),
    "nout": _fixed("it decides what a call returns: write @node(nout=N) where it is made"),
    "pure": _fixed("it decides whether equal calls share a node: write @node(pure=True) "
                   "where it is made"),
    **{option: _checked_option for option in
       ("name", "retries", "timeout", "cost", "cache", "cache_key", "verbose")},
}


def guard_assignments(cls: type) -> None:
    """Put the guard of every public attribute on ``cls`` (the ``NodeFunction`` class)."""
    for attribute, rule in _RULES.items():
        setattr(cls, attribute, _Guard(attribute, rule))

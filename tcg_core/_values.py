"""Finding futures inside argument and return values, and replacing them by their values.

Futures are recognised by their low base class (``Handle``), so this module and the
scheduler that uses it sit below the ``Future`` class itself.
"""

from __future__ import annotations

from typing import Any

from ._record import PLAIN_CALL, Handle, NodeRecord

__all__ = ["CONTAINERS", "arguments", "scan_futures", "substitute"]

#: The container types searched for futures (exactly these classes).
CONTAINERS = frozenset({list, tuple, set, frozenset, dict})


def scan_futures(obj: Any, found: list[Handle]) -> None:
    """Append every future inside ``obj`` (through lists, tuples, sets and dicts)."""
    cls = obj.__class__
    if cls in CONTAINERS:
        if cls is dict:
            for key, value in obj.items():
                scan_futures(key, found)
                scan_futures(value, found)
        else:
            for item in obj:
                scan_futures(item, found)
    elif isinstance(obj, Handle):
        found.append(obj)


def substitute(obj: Any) -> Any:
    """``obj`` with every future replaced by its value (containers are rebuilt)."""
    cls = obj.__class__
    if cls is tuple:
        return tuple([substitute(item) for item in obj])
    if cls is list:
        return [substitute(item) for item in obj]
    if cls is dict:
        return {substitute(k): substitute(v) for k, v in obj.items()}
    if cls is set or cls is frozenset:
        return cls(substitute(item) for item in obj)
    if isinstance(obj, Handle):
        return obj._get()
    return obj


def arguments(rec: NodeRecord) -> tuple[tuple[Any, ...], dict[str, Any] | None]:
    """A node's call arguments, every future replaced by its value. They stay on the
    record until it finishes: a retry, or a later resolve after this one stopped,
    needs them again."""
    args, kwargs = rec._args, rec._kwargs
    if kwargs is PLAIN_CALL:  # only plain futures (the build fast path)
        if args.__class__ is tuple:
            return tuple([f._value for f in args]), None
        return (args._value,), None
    if not rec._inputs:
        return args, kwargs
    return tuple([substitute(a) for a in args]), substitute(kwargs) if kwargs else kwargs

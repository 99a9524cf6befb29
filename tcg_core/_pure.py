"""When two calls of a ``@node(pure=True)`` function are the same call.

Python's ``==`` says ``1 == True == 1.0``, ``0.0 == -0.0``, ``Decimal("1.0") ==
Decimal("1.00")`` and ``frozenset({1}) == frozenset({1.0})``, yet a body can tell each
pair apart (``repr``, ``str``, ``math.copysign``, a division), so sharing one node between
them would hand one call the other's value. The key below compares by type and value all
the way down: every element of a container carries its own type, a float its sign, a
``Decimal`` its exponent. Anything else is compared by its own ``==`` and ``hash`` under
its exact type. A call with an unhashable argument (a list, a dict, a set) is a node of
its own (``None`` here), as is one whose arguments' comparison raises (the caller looks
the key up under ``try``): never an error in the call.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import math
from decimal import Decimal
from typing import Any

__all__ = ["pure_key"]

#: values whose type and ``==`` already tell apart every call a body could tell apart
_SIMPLE = frozenset({int, str, bytes, bool, type(None)})



def _typed(value: Any) -> Any:
    """A hashable stand-in for ``value`` that differs wherever a body could tell."""
    kind = value.__class__
    if kind is float:
        # -0.0 == 0.0, and NaN keeps its identity-based equality (a NaN is its own call)
        return (kind, value, math.copysign(1.0, value))
    if kind is Decimal:
        return (kind, value.as_tuple())
    if kind is tuple:
        return (kind, tuple([_typed(item) for item in value]))
    if kind is frozenset:
        return (kind, frozenset([_typed(item) for item in value]))
    if kind is complex:
        return (kind, _typed(value.real), _typed(value.imag))
    return (kind, value)


def pure_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The memo key of a call, or ``None`` when its arguments cannot be compared safely.

    >>> pure_key((1,), {}) == pure_key((True,), {}), pure_key((0.0,), {}) == pure_key((-0.0,), {})
    (False, False)
    >>> pure_key(((1, "a"),), {"x": 2}) == pure_key(((1, "a"),), {"x": 2})
    True
    >>> pure_key(([1, 2],), {}) is None  # unhashable: a node of its own
    True
    """
    try:
        # Written out for the common arguments (ints, strings, None): no call per value.
        key = (tuple([(a.__class__, a) if a.__class__ in _SIMPLE else _typed(a)
                      for a in args]),
               tuple(sorted((k, _typed(v)) for k, v in kwargs.items())) if kwargs else ())
        hash(key)
    except Exception:
        return None
    return key

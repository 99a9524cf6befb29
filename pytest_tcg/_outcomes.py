"""Comparing two runs' outcomes as a user would: by full content, never by a shortened repr.

Pure (no pytest, no tcg_core): ``assert_order_independent`` uses it for the pipeline's
result and for each node's value.

- An exception is the same outcome as another of the same type whose message is the same
  once node ids (``step#41``) are set aside: ids differ from build to build.
- NaN equals NaN in the same position, at any depth of lists, tuples, dicts and sets.
- NumPy arrays compare by shape, dtype and content (``array_equal(equal_nan=True)``),
  pandas objects by ``.equals``; neither library is imported here: a value is recognised
  by its type's module.
- Anything else compares with ``==``; where ``==`` raises or gives no plain truth value,
  the two are compared by their pickles. A value that can be neither is refused with a
  ``TypeError`` naming its type, never judged by its repr.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import math
import pickle
import re
from typing import Any

from ._text import safe_text

__all__ = ["Raised", "same_outcome"]

_NODE_ID = re.compile(r"(?<=\w)#\d+")


class Raised:
    """A run (or a node) that raised; equal to another that raised the same way.

    >>> Raised(ValueError("step#3 failed")) == Raised(ValueError("step#9 failed"))
    True
    """

    def __init__(self, exc: BaseException) -> None:
        self.kind = type(exc).__qualname__  #: the exception's type
        self.text = _NODE_ID.sub("#…", safe_text(exc))  #: its message, node ids set aside
        cause = exc.__cause__
        #: the cause's type and message, where the exception wraps a node body's error
        self.cause = (None if cause is None
                      else (type(cause).__qualname__, _NODE_ID.sub("#…", safe_text(cause))))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Raised) and (self.kind, self.text, self.cause)
                == (other.kind, other.text, other.cause))

    def __hash__(self) -> int:
        return hash((self.kind, self.text))

    def __repr__(self) -> str:
        return f"raised {self.kind}: {self.text}"


def same_outcome(a: object, b: object) -> bool:
    """Whether two outcomes are the same, by content.

    >>> same_outcome([1.0, float("nan")], [1.0, float("nan")])
    True
    >>> same_outcome((1, 2), (2, 1))
    False
    """
    return _same(a, b)


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if type(a) is not type(b):
        return _plain_equal(a, b)
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    special = _library_equal(a, b)
    if special is not None:
        return special
    return _plain_equal(a, b)


def _library_equal(a: Any, b: Any) -> bool | None:
    module = type(a).__module__.partition(".")[0]
    if module == "numpy" and hasattr(a, "shape") and hasattr(a, "dtype"):
        import numpy  # the value is a NumPy array, so NumPy is installed

        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        try:
            return bool(numpy.array_equal(a, b, equal_nan=True))
        except TypeError:  # dtypes where NaN has no meaning (object, str)
            return bool(numpy.array_equal(a, b))
    if module == "pandas" and hasattr(a, "equals"):
        return bool(a.equals(b))
    return None


def _plain_equal(a: Any, b: Any) -> bool:
    try:
        verdict = a == b
        if isinstance(verdict, bool):
            return verdict
        return bool(verdict) if type(verdict).__module__ == "builtins" else _by_pickle(a, b)
    except Exception:
        return _by_pickle(a, b)


def _by_pickle(a: Any, b: Any) -> bool:
    try:
        return pickle.dumps(a, protocol=5) == pickle.dumps(b, protocol=5)
    except Exception as exc:
        raise TypeError(
            f"cannot compare two values of type {type(a).__qualname__}: == gives no plain "
            f"answer and they cannot be pickled ({type(exc).__name__}); return values "
            "that compare with == from the pipeline under test") from None

"""References to values that stay in the worker process that made them.

On ``executor="processes"`` a node's value stays in its worker; the resolve holds a
``Held`` in its place. A ``Held`` passed to another node travels as a reference: the
worker running that node reads the value from its own store, or has it mapped from
shared memory once (``_workers``). The resolve fetches only what it must hand to the
caller.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import threading
from collections.abc import Callable
from typing import Any

from .._errors import TcgError

__all__ = ["Held", "ValueLost", "collecting", "held_in", "size_text"]

#: A value id: ``(task number, item)``; item ``-1`` is the whole value, ``i`` the
#: ``i``-th item of a ``nout=`` node's value.
ValueId = tuple[int, int]


class ValueLost(TcgError):
    """A value held in a worker process was lost with it and could not be recomputed."""


def size_text(nbytes: int) -> str:
    """``nbytes`` for a person: ``'2.0 MB'``.

    >>> size_text(2_000_000)
    '2.0 MB'
    """
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} B"


class _Collector(threading.local):
    found: list[Held] | None = None  #: the references pickled in this thread, if asked


_COLLECTOR = _Collector()


class collecting:
    """Within it, every ``Held`` pickled in this thread is listed (to send a task to the
    worker holding most of its input bytes).

    >>> with collecting() as found:
    ...     _ = __import__("pickle").dumps([Held((1, -1), 10, "f#1")])
    >>> [h.label for h in found]
    ['f#1']
    """

    def __enter__(self) -> list[Held]:
        self.outer = _COLLECTOR.found
        _COLLECTOR.found = []
        return _COLLECTOR.found

    def __exit__(self, *exc: object) -> None:
        _COLLECTOR.found = self.outer


#: In a worker process: how it finds the value of an id (set by ``_worker``).
_lookup: Callable[[ValueId, str], Any] | None = None


def held_in(lookup: Callable[[ValueId, str], Any] | None) -> None:
    """Make this process a worker that looks held values up with ``lookup``."""
    global _lookup
    _lookup = lookup


def _load(vid: ValueId, label: str) -> Any:
    """A ``Held`` arriving in a process: the value itself in a worker."""
    if _lookup is None:
        raise TcgError(f"internal error: the value of node {label} arrived as a reference "
                       "in a process that holds no values")
    return _lookup(vid, label)


class Held:
    """The value of node ``label``, ``nbytes`` big, kept in a worker process."""

    __slots__ = ("label", "nbytes", "vid")

    def __init__(self, vid: ValueId, nbytes: int, label: str) -> None:
        self.vid = vid  #: its id in the worker pool
        self.nbytes = nbytes  #: its size, pickled (for sending work where the bytes are)
        self.label = label  #: the node that made it, ``name#id``

    def __reduce__(self) -> tuple[Any, tuple[ValueId, str]]:
        found = _COLLECTOR.found
        if found is not None:
            found.append(self)
        return _load, (self.vid, self.label)

    def __repr__(self) -> str:
        return f"<value of {self.label}, {size_text(self.nbytes)}, in a worker process>"

"""Module-level nodes for the callback and cache tests whose bodies run in other
processes (a process worker finds a node by module and name).

Each body appends a line to ``<runs>/<name>`` so a test can count how often it ran,
whatever process ran it; the test passes its own ``tmp_path`` as ``runs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tcg_core import node


def _ran(runs: str, name: str) -> None:
    with open(Path(runs) / name, "a", encoding="utf-8") as out:
        out.write("x\n")


def runs_of(runs: Path, name: str) -> int:
    """How many times the body ``name`` ran with this ``runs`` folder."""
    path = runs / name
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


@node
def inc(x: int) -> int:
    return x + 1


@node(cache=True)
def square(runs: str, x: int) -> int:
    _ran(runs, "square")
    return x * x


@node(cache=True)
def parent(runs: str, n: int) -> Any:
    _ran(runs, "parent")
    return [square(runs, i) for i in range(n)]


@node
def fan(n: int) -> Any:
    return [inc(i) for i in range(n)]


@node(cache=True)
def inc_parent(runs: str, n: int) -> Any:
    """A cached parent whose value is its child's (``inc``)."""
    _ran(runs, "inc_parent")
    return inc(n)


@node
def square_parent(runs: str, x: int) -> Any:
    """A plain parent whose body creates a cached child (``square``)."""
    return square(runs, x)


@node
def appends_then_caches(runs: str, items: list[int]) -> Any:
    """Changes its argument (a mutation check fails it), then creates a cached child."""
    items.append(0)
    return square(runs, len(items))


@node(verbose=True)
def loud(x: int) -> int:
    return x + 1


@node
def makes_a_verbose_child(x: int) -> Any:
    return loud(x)


# -- callables whose state decides their value (the cache key must see it) ---------------


class Model:
    def __init__(self, factor: int) -> None:
        self.factor = factor

    def predict(self, x: int) -> int:
        return self.factor * x


class Scaler:
    """Its repr hides its state: a key made from the repr served another's value."""

    def __init__(self, factor: int) -> None:
        self.factor = factor

    def __call__(self, x: int) -> int:
        return self.factor * x

    def __repr__(self) -> str:
        return "Scaler()"


class Plain:
    """The default repr: an address the next object may reuse after GC."""

    def __init__(self, factor: int) -> None:
        self.factor = factor

    def __call__(self, x: int) -> int:
        return self.factor * x


class Hidden:
    """Data whose repr is shortened, as a NumPy array's is."""

    def __init__(self, items: list[int]) -> None:
        self.items = items

    def __repr__(self) -> str:
        return f"Hidden([{self.items[0]}, ...])"


def scaled(data: Hidden, x: int) -> int:
    return sum(data.items) * x

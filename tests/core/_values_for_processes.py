"""Module-level containers and nodes for the "what can be passed" tests: a process or
Dask worker finds classes and nodes by module and name."""

from __future__ import annotations

from collections import ChainMap, Counter, OrderedDict, defaultdict, deque, namedtuple
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tcg_core import node

Pair = namedtuple("Pair", "left right")


class Point(NamedTuple):
    x: Any
    y: Any


@dataclass(frozen=True)
class Frozen:
    a: Any
    b: Any = 0
    note: str = field(default="kept", compare=False)


@dataclass
class Mutable:
    items: Any
    total: Any = None


class Row(list):  # type: ignore[type-arg]
    """A list subclass with an attribute of its own."""

    source = "class"


class Tagged(tuple):  # type: ignore[type-arg]
    """A tuple subclass whose constructor takes other arguments."""

    def __new__(cls, tag: str, *items: Any) -> Tagged:
        made = super().__new__(cls, items)
        made.tag = tag  # type: ignore[attr-defined]
        return made

    def __getnewargs__(self) -> tuple[Any, ...]:  # pickle it with its own constructor
        return (self.tag, *self)  # type: ignore[attr-defined]


class Settings(dict):  # type: ignore[type-arg]
    pass


@node
def value(x: Any) -> Any:
    return x


@node
def identity(x: Any) -> Any:
    return x


@node
def describe(x: Any) -> str:
    """What the body received: the class and a repr, so a test sees futures leak in."""
    return f"{type(x).__name__} {x!r}"


@node
def returns_dataclass(a: Any) -> Frozen:
    return Frozen(value(a), value(a + 1))


@node
def returns_containers(a: Any) -> dict[str, Any]:
    counts: defaultdict[str, Any] = defaultdict(list)
    counts["k"] = value(a)
    return {"pair": Pair(value(a), 1), "deque": deque([value(a)], maxlen=4),
            "ordered": OrderedDict(x=value(a)), "default": counts,
            "counter": Counter(z=value(a)), "chain": ChainMap({"m": value(a)}, {"n": 2}),
            "mutable": Mutable([value(a)], total=value(a)), "row": Row([value(a)]),
            "tagged": Tagged("t", value(a)), "settings": Settings(s=value(a))}


DEFAULT = value(100)


@node
def with_default(x: Any = DEFAULT, *, y: Any = DEFAULT) -> Any:
    return (x, y)


@node
def parse_rows(text: str, limit: int = 10) -> list[str]:
    if "b" in text:
        raise ValueError("bad row")
    return text.split(",")[:limit]


@node
def run_pages(*pages: str) -> list[Any]:
    return [parse_rows.named(f"parse {page}")(value(page)) for page in pages]


@dataclass
class Job:
    """A dataclass whose ``init=False`` field may be left unset."""

    name: Any
    cache: dict[str, Any] = field(init=False)


@node
def job_state(job: Job) -> tuple[Any, bool]:
    return job.name, hasattr(job, "cache")


class HostileStr(Exception):
    """An exception that cannot describe itself: ``str()`` raises."""

    def __str__(self) -> str:
        raise RuntimeError("no text for you")


@node
def raise_given(error: BaseException) -> None:
    raise error

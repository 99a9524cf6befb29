"""Finding futures inside argument and return values, and replacing them by their values.

A user puts futures wherever ordinary Python puts values: lists, namedtuples,
dataclasses, ``collections`` types, their own containers. Each class is sorted once into
a *kind* (how to look inside it and how to rebuild it) and the answer is cached, so a
value of a class seen before costs one dictionary lookup. Classes tcg does not know are
opaque: passed as they are, never looked inside.

Futures are recognised by their low base class (``Handle``), so this module and the
scheduler that uses it sit below the ``Future`` class itself.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import copy
import dataclasses
import reprlib
import sys
import types
from collections import ChainMap, deque
from collections.abc import Callable, Iterable
from typing import Any

from ._record import PLAIN_CALL, Handle, NodeRecord

__all__ = ["CONTAINERS", "PLAIN", "Refused", "arguments", "register_container",
           "scan_arguments", "scan_futures", "substitute"]

#: The builtin container types the build and the scheduler check first (exactly these
#: classes); every other container kind is found through ``_kind``.
CONTAINERS = frozenset({list, tuple, set, frozenset, dict})

#: Classes whose values never hold a future: a body returning one needs no scan.
PLAIN = frozenset({int, float, str, bytes, bool, complex, type(None)})



class _Unset:
    """A dataclass field that was never set (``field(init=False)`` left alone)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unset>"


_UNSET = _Unset()

# The kinds of class: how a value of it is looked inside and rebuilt.
_OPAQUE, _HANDLE, _LIST, _TUPLE, _DICT, _SET, _NAMEDTUPLE, _TUPLELIKE, _LISTLIKE, \
    _DICTLIKE, _SETLIKE, _FROZENSETLIKE, _DEQUE, _CHAINMAP, _DATACLASS, _REGISTERED, \
    _GENERATOR, _OBJECT, _ITERATOR = range(19)

_BUILTIN_KINDS: dict[type, int] = {list: _LIST, tuple: _TUPLE, dict: _DICT, set: _SET,
                                   frozenset: _SET}
_kinds: dict[type, int] = dict(_BUILTIN_KINDS)
#: Some libraries make a class per object (``unittest.mock``): past this many cached
#: classes the cache starts again rather than keep every such class alive.
_CACHE_LIMIT = 10_000
_fields: dict[type, tuple[str, ...]] = {}
_registry: dict[type, tuple[Callable[[Any], tuple[Iterable[Any], Any]],
                            Callable[[Any, list[Any]], Any]]] = {}


class Refused(TypeError):
    """An argument tcg cannot look inside (the caller names the node and argument)."""


def register_container(cls: type, flatten: Callable[[Any], tuple[Iterable[Any], Any]],
                       unflatten: Callable[[Any, list[Any]], Any]) -> None:
    """Let futures inside values of your own class ``cls`` be found and replaced.

    ``flatten(obj)`` returns ``(children, aux)``: the values that may hold futures, and
    whatever else is needed to rebuild. ``unflatten(aux, children)`` builds the object
    again from ``aux`` and the children with every future replaced by its value. Only
    ``cls`` itself is registered, not its subclasses; registering again replaces.

    >>> from tcg_core import node, register_container
    >>> class Pair:
    ...     def __init__(self, left, right):
    ...         self.left, self.right = left, right
    >>> register_container(Pair, lambda p: ((p.left, p.right), None),
    ...                    lambda aux, children: Pair(*children))
    >>> @node
    ... def total(pair):
    ...     return pair.left + pair.right
    >>> total(Pair(node(abs)(-2), 3)).resolve()
    5
    """
    where = "register_container()"
    if not isinstance(cls, type):
        raise TypeError(f"{where}: cls must be a class, not {type(cls).__name__} {cls!r:.60}")
    if cls in CONTAINERS or issubclass(cls, Handle):
        raise TypeError(f"{where}: cls={cls.__name__} is built in to tcg and cannot be "
                        "registered again")
    for label, func in (("flatten", flatten), ("unflatten", unflatten)):
        if not callable(func):
            raise TypeError(f"{where}: {label} must be callable, not "
                            f"{type(func).__name__} {func!r:.60}")
    _registry[cls] = (flatten, unflatten)
    _kinds.pop(cls, None)


def _classify(cls: type) -> int:
    """The kind of ``cls``, cached (a registration drops the cache entry of its class)."""
    if len(_kinds) > _CACHE_LIMIT:
        _kinds.clear()
        _kinds.update(_BUILTIN_KINDS)
    if cls in _registry:
        kind = _REGISTERED
    elif issubclass(cls, Handle):
        kind = _HANDLE
    elif dataclasses.is_dataclass(cls):
        _fields[cls] = tuple(f.name for f in dataclasses.fields(cls))
        kind = _DATACLASS
    elif issubclass(cls, tuple):
        is_named = hasattr(cls, "_fields") and hasattr(cls, "_make")
        kind = _NAMEDTUPLE if is_named else _TUPLELIKE
    elif issubclass(cls, list):
        kind = _LISTLIKE
    elif issubclass(cls, dict):  # OrderedDict, defaultdict, Counter, users' own
        kind = _DICTLIKE
    elif issubclass(cls, deque):
        kind = _DEQUE
    elif issubclass(cls, ChainMap):
        kind = _CHAINMAP
    elif issubclass(cls, set):
        kind = _SETLIKE
    elif issubclass(cls, frozenset):
        kind = _FROZENSETLIKE
    elif issubclass(cls, (types.GeneratorType, types.AsyncGeneratorType)):
        kind = _GENERATOR
    elif cls.__module__ in ("builtins", "itertools") and hasattr(cls, "__next__"):
        kind = _ITERATOR  # iter([...]), map, zip, enumerate, itertools.chain, ...
    elif "__dict__" in dir(cls) and not issubclass(cls, (type, types.ModuleType)):
        kind = _OBJECT  # opaque, but an argument's own attributes are checked
    else:
        kind = _OPAQUE
    _kinds[cls] = kind
    return kind


def _children(obj: Any, kind: int) -> Iterable[Any]:
    """The values inside ``obj`` that may hold futures (dicts: keys and values)."""
    if kind == _DICT or kind == _DICTLIKE:
        return [x for item in obj.items() for x in item]
    if kind == _DATACLASS:
        # A field with init=False that nothing set has no attribute: it stays unset.
        return [getattr(obj, name, _UNSET) for name in _fields[obj.__class__]]
    if kind == _CHAINMAP:
        return obj.maps  # type: ignore[no-any-return]
    if kind == _REGISTERED:
        return _registry[obj.__class__][0](obj)[0]
    return obj  # type: ignore[no-any-return]


def _scan(obj: Any, found: list[Handle], refuse: bool) -> None:
    cls = obj.__class__
    kind = _kinds.get(cls)
    if kind is None:
        kind = _classify(cls)
    if kind == _OPAQUE:
        return
    if kind == _HANDLE:
        found.append(obj)
    elif kind == _OBJECT:
        if refuse:
            _refuse_held_futures(obj)
    elif kind == _DICT:  # the common containers, without building a list of children
        for key, value in obj.items():
            _scan(key, found, refuse)
            _scan(value, found, refuse)
    elif kind == _LIST or kind == _TUPLE:
        for item in obj:
            _scan(item, found, refuse)
    elif kind == _ITERATOR:
        if refuse:
            _refuse_iterator_of_futures(obj)
    elif kind == _GENERATOR:
        if refuse:
            raise Refused(
                f"is a {cls.__name__}, which tcg cannot look inside for futures, and "
                "which a retry or a second resolve would find already consumed; pass "
                "list(...) of it instead")
    else:
        for item in _children(obj, kind):
            _scan(item, found, refuse)


def _refuse_iterator_of_futures(obj: Any) -> None:
    """A builtin iterator (``iter([a, b])``, ``map``, ``zip``) would reach the body with its
    futures unresolved, and tcg cannot rebuild one with values without consuming it. Its
    ``__reduce__`` names what it iterates (the list, the iterables) without advancing it:
    refuse the iterator when a future is in there; pass it as before when none is."""
    if _iterates_futures(obj, depth=0):
        raise Refused(
            f"is an iterator ({obj.__class__.__name__}) over futures, which would reach the body "
            "unresolved (tcg cannot rebuild one without consuming it); pass list(...) of "
            "it instead")


def _iterates_futures(obj: Any, depth: int) -> bool:
    if obj.__class__.__module__ == "itertools" and sys.version_info >= (3, 12):
        # Their __reduce__ is deprecated (3.12) and gone (3.14): nothing to look into
        # without consuming them, so they are passed as before.
        return False
    try:
        reduced = obj.__reduce__()
    except Exception:  # an iterator that cannot say what it holds: passed as it is
        return False
    if not isinstance(reduced, tuple) or depth > 20:
        return False
    for part in reduced[1:3]:
        for item in part if isinstance(part, tuple) else (part,):
            kind = _kinds.get(item.__class__)
            if kind is None:
                kind = _classify(item.__class__)
            if kind == _ITERATOR and _iterates_futures(item, depth + 1):
                return True
            found: list[Handle] = []
            scan_futures(item, found)
            if found:
                return True
    return False


def _refuse_held_futures(obj: Any) -> None:
    """An object tcg does not open may still hold a future in an attribute: the body
    would be handed a Future where it expects a value, so say how to fix it."""
    attributes = getattr(obj, "__dict__", None)
    if not isinstance(attributes, dict):
        return
    for name, held in attributes.items():
        if isinstance(held, Handle):
            cls = obj.__class__.__name__
            raise Refused(
                f"is an instance of {cls} holding a future in its attribute {name!r}, and "
                f"tcg does not "
                f"look inside {cls} objects; make {cls} a dataclass, or register it with "
                f"tcg_core.register_container({cls}, flatten, unflatten)")


def scan_futures(obj: Any, found: list[Handle]) -> None:
    """Append every future inside ``obj`` (through every container kind tcg knows)."""
    _scan(obj, found, False)


def scan_arguments(obj: Any, found: list[Handle]) -> None:
    """``scan_futures`` for a call's argument: raises ``Refused`` for a value tcg must not
    pass to a body (a generator, an object it does not open holding a future)."""
    _scan(obj, found, True)


def substitute(obj: Any) -> Any:
    """``obj`` with every future replaced by its value: a container holding a future is
    rebuilt as the same class; one holding none is returned as itself (so a body sees
    the caller's object, as it does when no argument holds a future)."""
    cls = obj.__class__
    if cls in PLAIN:  # most leaves: answered before any container test
        return obj
    if cls is tuple or cls is list:
        new = [substitute(item) for item in obj]
        if _unchanged(obj, new):
            return obj
        return new if cls is list else tuple(new)
    if cls is dict:
        pairs = [(substitute(k), substitute(v)) for k, v in obj.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(pairs, obj.items(), strict=True)):
            return obj
        return dict(pairs)
    if cls is set or cls is frozenset:
        new = [substitute(item) for item in obj]
        return obj if _unchanged(obj, new) else cls(new)
    kind = _kinds.get(cls)
    if kind is None:
        kind = _classify(cls)
    if kind == _OPAQUE or kind == _GENERATOR or kind == _OBJECT:
        return obj
    if kind == _HANDLE:
        return obj._get()
    if kind == _REGISTERED:
        flatten, unflatten = _registry[cls]
        children, aux = flatten(obj)
        old = list(children)
        new = [substitute(child) for child in old]
        return obj if _unchanged(old, new) else unflatten(aux, new)
    old = list(_children(obj, kind))
    new = [substitute(item) for item in old]
    return obj if _unchanged(old, new) else _rebuild(obj, kind, new)


def _unchanged(old: Iterable[Any], new: list[Any]) -> bool:
    return all(a is b for a, b in zip(old, new, strict=True))


def _rebuild(obj: Any, kind: int, new: list[Any]) -> Any:
    """A value of ``obj``'s class holding ``new`` in place of its children."""
    cls = obj.__class__
    if kind == _NAMEDTUPLE:
        return cls._make(new)
    if kind == _TUPLELIKE or kind == _FROZENSETLIKE:
        # __new__ of the base, not cls(...): a subclass's own __init__/__new__ may take
        # other arguments; instance attributes are carried over.
        base = tuple if kind == _TUPLELIKE else frozenset
        rebuilt = base.__new__(cls, new)
        if hasattr(obj, "__dict__"):
            rebuilt.__dict__.update(obj.__dict__)
        return rebuilt
    if kind == _DATACLASS:
        # A shallow copy keeps fields with init=False and anything __post_init__ set;
        # object.__setattr__ writes frozen and slotted fields alike. Copying __dict__
        # directly is copy.copy's result at a fraction of its cost.
        attributes = getattr(obj, "__dict__", None)
        if attributes is not None and cls.__reduce_ex__ is object.__reduce_ex__ \
                and cls.__reduce__ is object.__reduce__ and not hasattr(cls, "__copy__"):
            rebuilt = object.__new__(cls)
            rebuilt.__dict__.update(attributes)
        else:
            rebuilt = copy.copy(obj)
        for name, value in zip(_fields[cls], new, strict=True):
            if value is not _UNSET:
                object.__setattr__(rebuilt, name, value)
        return rebuilt
    # The mutable kinds: a shallow copy keeps what the class carries besides its items
    # (defaultdict's default_factory, deque's maxlen, instance attributes).
    rebuilt = copy.copy(obj)
    if kind == _LISTLIKE:
        rebuilt[:] = new
    elif kind == _DICTLIKE:
        rebuilt.clear()
        for i in range(0, len(new), 2):
            rebuilt[new[i]] = new[i + 1]
    elif kind == _DEQUE:
        rebuilt.clear()
        rebuilt.extend(new)
    elif kind == _SETLIKE:
        rebuilt.clear()
        rebuilt.update(new)
    else:  # _CHAINMAP
        rebuilt.maps = new
    return rebuilt


def arguments(rec: NodeRecord) -> tuple[tuple[Any, ...], dict[str, Any] | None]:
    """A node's call arguments, every future replaced by its value. They stay on the
    record until it finishes: a retry, or a later resolve after this one stopped,
    needs them again."""
    # One of the call's three shapes (``NodeRecord._args``), told apart by class: Any.
    args: Any = rec._args
    kwargs = rec._kwargs
    if kwargs is PLAIN_CALL:  # only plain futures (the build fast path)
        if args.__class__ is tuple:
            return tuple([f._value for f in args]), None
        return (args._value,), None
    if not rec._inputs:
        return args, kwargs
    return tuple([substitute(a) for a in args]), substitute(kwargs) if kwargs else kwargs


def nout_problem(name: str, nout: int | None, value: Any) -> TypeError | None:
    """The error of a ``@node(nout=...)`` body whose value does not have ``nout`` items,
    else ``None`` (checked where the value is: in the resolve, or on a Dask worker)."""
    if nout is None:
        return None
    try:
        size = len(value)
    except Exception:
        size = -1
    if size == nout:
        return None
    try:
        shown = reprlib.repr(value)
    except BaseException as broken:
        shown = f"<{type(value).__name__}: repr() raised {type(broken).__name__}>"
    return TypeError(f"@node(nout={nout}) function {name!r} returned {type(value).__name__} "
                     f"{shown}, not a sequence of {nout} values")

"""The result cache across runs: what a node's key covers, and where values are stored.

Built on the standard library (``hashlib`` + ``pickle``, one file per entry) rather than
diskcache or joblib: a key is one SHA-256 over a canonical pickle, an entry is one file
written to a temporary name and renamed into place (``os.replace`` is atomic, so
concurrent resolves and processes never see half an entry, and the last writer of an
identical value wins), and reading needs no database or lock. An entry that cannot
be read or unpickled is treated as a miss and rewritten, never returned.

The key covers everything that decides the value: the function's module and qualified
name, its code (bytecode, constants, names, nested functions, defaults, and closure
values that pickle), followed through ``__wrapped__`` (``functools.wraps``,
``lru_cache``); a bound method's object, a callable object's and a ``partial``'s state,
by content (their pickle, never their ``repr``); the argument values by content; and the
node's ``cache_key=``. Sets and dicts are canonicalised (sorted by their items' pickles),
so equal arguments give equal keys across processes whatever their hash seed. A callable
whose code tcg cannot see (a C function other than a builtin) cannot be keyed:
``@node(cache=True)`` refuses it.

An entry holds a SHA-256 over its key and its payload, checked on every read (a file
that is not what was written is a miss, with a ``CacheWarning``), and the code
fingerprints of every node the cached body created, found by module and name and
checked on a hit: editing a child's body misses its parent's entry too. A value computed
while a test double replaced one of those nodes is never stored.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import contextlib
import functools
import hashlib
import importlib
import os
import pickle
import sys
import tempfile
import warnings
from pathlib import Path
from types import BuiltinFunctionType, CodeType, FunctionType, MethodType, ModuleType
from typing import Any

__all__ = ["CacheWarning", "NoCodeError", "cache_dir", "check_cacheable", "fingerprints_of",
           "key_of", "load", "save"]

#: bumped when the entry format changes, so old entries are never misread
_FORMAT = b"tcg-cache-2"
_DIGEST = 32  # bytes of the SHA-256 over key and payload that follows the format


class NoCodeError(TypeError):
    """A callable whose code tcg cannot see, so nothing tells when its results change."""


class CacheWarning(UserWarning):
    """A node could not use the result cache (an argument or value does not pickle);
    it ran (or will run) without it."""


def cache_dir() -> Path:
    """Where entries live: ``$TCG_CACHE_DIR``, else the user's cache folder + ``tcg``.

    >>> import os
    >>> from tcg_core._cache import cache_dir
    >>> os.environ["TCG_CACHE_DIR"] = "/tmp/some-cache"
    >>> str(cache_dir())
    '/tmp/some-cache'
    >>> del os.environ["TCG_CACHE_DIR"]
    """
    override = os.environ.get("TCG_CACHE_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "tcg"


def _canonical(value: Any) -> Any:
    """``value`` with sets and dicts in a stable order, for pickling into a key."""
    cls = value.__class__
    if cls in (list, tuple):
        return (cls.__name__, tuple(_canonical(v) for v in value))
    if cls is dict:
        items = [(_canonical(k), _canonical(v)) for k, v in value.items()]
        return ("dict", tuple(sorted(items, key=_pickled)))
    if cls in (set, frozenset):
        return (cls.__name__, tuple(sorted((_canonical(v) for v in value), key=_pickled)))
    if cls is FunctionType:
        return ("function", _code_identity(value))
    if getattr(cls, "_tcg_node", False) is True:  # a node function in a closure: its code
        return ("node", _code_identity(value.func))
    return value


def _pickled(value: Any) -> bytes:
    return pickle.dumps(value, protocol=4)


def _code_part(code: CodeType) -> tuple[Any, ...]:
    consts = tuple(_code_part(c) if isinstance(c, CodeType) else c for c in code.co_consts)
    return (code.co_code, consts, code.co_names, code.co_varnames)


def _code_identity(func: Any, depth: int = 0) -> tuple[Any, ...]:
    """What of a callable decides its results: its code, and the state it carries."""
    if depth > 20:
        raise NoCodeError("callables wrapped more than 20 deep")
    if isinstance(func, functools.partial):
        return ("partial", _code_identity(func.func, depth + 1), _canonical(func.args),
                _canonical(func.keywords))
    if isinstance(func, MethodType):  # a bound method: its object's state decides too
        return ("method", _code_identity(func.__func__, depth + 1), _state(func.__self__))
    wrapped = getattr(func, "__wrapped__", None)
    if wrapped is not None and not isinstance(func, FunctionType):
        return ("wrapped", _named(func), _code_identity(wrapped, depth + 1))
    code = getattr(func, "__code__", None)
    if isinstance(code, CodeType):
        return _function_identity(func, code, wrapped, depth)
    if isinstance(func, BuiltinFunctionType):  # len, math.sqrt, "x".upper
        owner = func.__self__
        state = None if owner is None or isinstance(owner, ModuleType) else _state(owner)
        return ("builtin", _named(func), sys.version_info[:2], state)
    call = next((vars(c)["__call__"] for c in type(func).__mro__ if "__call__" in vars(c)),
                None)
    if isinstance(call, FunctionType):  # a callable object: its class's code, its state
        return ("object", _named(type(func)), _code_identity(call, depth + 1), _state(func))
    raise NoCodeError(f"{_named(func)[1]} has no Python code tcg can see")


def _function_identity(func: Any, code: CodeType, wrapped: Any,
                       depth: int) -> tuple[Any, ...]:
    closure = []
    for cell in getattr(func, "__closure__", None) or ():
        try:
            closure.append(_canonical(cell.cell_contents))
        except ValueError:  # an empty cell
            closure.append(None)
    inner = _code_identity(wrapped, depth + 1) if wrapped is not None else None
    return (*_named(func), _code_part(code), _canonical(getattr(func, "__defaults__", None)),
            _canonical(getattr(func, "__kwdefaults__", None)), tuple(closure), inner)


def _named(func: Any) -> tuple[Any, Any]:
    return (getattr(func, "__module__", None),
            getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
            or type(func).__qualname__)


def _state(obj: Any) -> bytes:
    """An object's state by content: its pickle (never its ``repr``, whose text may hide
    state or name a reused address)."""
    return _pickled(_canonical(obj))


def check_cacheable(func: Any, name: str) -> None:
    """Refuse ``cache=True`` for a callable whose code cannot be seen (``NoCodeError``)."""
    try:
        _code_identity(func)
    except NoCodeError as exc:
        raise NoCodeError(
            f"@node(cache=True) for {name!r}: {exc}, so the cache could not tell when its "
            "results change; wrap it in a Python function (def f(x): return c_func(x)) and "
            "bump cache_key= when the library changes, or do not cache it") from None


def key_of(spec: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None,
           path: str) -> str | None:
    """The cache key of a call, or ``None`` (with a ``CacheWarning``) when its function
    or arguments cannot be hashed by content."""
    try:
        material = (_FORMAT, _code_identity(spec.func), spec.cache_key,
                    _canonical(args), _canonical(kwargs or {}))
        data = _pickled(material)
    except Exception as exc:
        # State that does not pickle makes the key unreliable too: no caching.
        warnings.warn(CacheWarning(
            f"node {spec.name!r} ({path}) is not cached: its arguments (or its function's "
            f"code, closure or object state) cannot be hashed by content "
            f"({type(exc).__name__}: {exc}); pass picklable values, or set "
            "@node(cache=False)"), stacklevel=2)
        return None
    return hashlib.sha256(data).hexdigest()


def _fingerprint(func: Any) -> str:
    return hashlib.sha256(_pickled(_code_identity(func))).hexdigest()


def fingerprints_of(specs: list[Any]) -> list[tuple[str, str, str]] | None:
    """``(module, qualified name, code fingerprint)`` of each node function a cached body
    created, to check on a hit; ``None`` when one cannot be found again by name (a local
    function, a lambda): the value is then not stored, as a hit could not be checked."""
    found = []
    for spec in specs:
        module, qualname = getattr(spec, "__module__", None), getattr(spec, "__qualname__", None)
        if not module or not qualname or _locate(module, qualname) is not spec:
            return None
        try:
            found.append((module, qualname, _fingerprint(spec.func)))
        except Exception:
            return None
    return sorted(set(found))


def _locate(module: str, qualname: str) -> Any:
    try:
        target: Any = sys.modules.get(module) or importlib.import_module(module)
        for part in qualname.split("."):
            target = getattr(target, part)
    except Exception:
        return None
    return target


def _unchanged(fingerprints: list[tuple[str, str, str]]) -> bool:
    for module, qualname, fingerprint in fingerprints:
        spec = _locate(module, qualname)
        try:
            if spec is None or _fingerprint(spec.func) != fingerprint:
                return False
        except Exception:
            return False
    return True


def _entry(key: str) -> Path:
    return cache_dir() / key[:2] / f"{key}.pickle"


def load(key: str) -> tuple[bool, Any]:
    """``(True, value)`` for an intact entry whose nested nodes' code is unchanged, else
    ``(False, None)``; an entry whose checksum does not match is warned of."""
    try:
        data = _entry(key).read_bytes()
    except OSError:
        return False, None
    if not data.startswith(_FORMAT):
        return False, None
    digest, payload = data[len(_FORMAT):len(_FORMAT) + _DIGEST], data[len(_FORMAT) + _DIGEST:]
    if hashlib.sha256(key.encode() + payload).digest() != digest:
        warnings.warn(CacheWarning(
            f"the result cache entry {_entry(key)} is not what tcg wrote for its key "
            "(edited, truncated or copied from another entry): recomputing it"), stacklevel=2)
        return False, None
    try:
        fingerprints, value = pickle.loads(payload)
    except Exception:  # written by incompatible code: recompute it
        return False, None
    if not _unchanged(fingerprints):
        return False, None  # a node its body created has new code since
    return True, value


def save(key: str, value: Any, name: str, path: str,
         fingerprints: list[tuple[str, str, str]] | None = None) -> None:
    """Store ``value`` under ``key`` atomically, with the code fingerprints of the nodes
    its body created; a value that does not pickle (or a folder that cannot be written)
    is warned of and not stored."""
    try:
        payload = pickle.dumps((fingerprints or [], value), protocol=pickle.HIGHEST_PROTOCOL)
        data = _FORMAT + hashlib.sha256(key.encode() + payload).digest() + payload
        entry = _entry(key)
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, entry)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except Exception as exc:
        warnings.warn(CacheWarning(
            f"the value of node {name!r} ({path}) was not stored in the result cache "
            f"({type(exc).__name__}: {exc}); it is recomputed next time"), stacklevel=2)


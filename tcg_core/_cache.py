"""The result cache across runs: what a node's key covers, and where values are stored.

Built on the standard library (``hashlib`` + ``pickle``, one file per entry) rather than
diskcache or joblib: a key is one SHA-256 over a canonical pickle, an entry is one file
written to a temporary name and renamed into place (``os.replace`` is atomic, so
concurrent resolves and processes never see half an entry, and the last writer of an
identical value wins), and reading needs no database or lock. An entry that cannot
be read or unpickled is treated as a miss and rewritten, never returned.

The key covers the function's module and qualified name, its code (bytecode,
constants, names, nested functions, defaults, and closure values that pickle), the
argument values by content, and the node's ``cache_key=``. Sets and dicts are
canonicalised (sorted by their items' pickles), so equal arguments give equal keys
across processes whatever their hash seed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
import tempfile
import warnings
from pathlib import Path
from types import CodeType, FunctionType
from typing import Any

__all__ = ["CacheWarning", "cache_dir", "key_of", "load", "save"]

#: bumped when the entry format changes, so old entries are never misread
_FORMAT = b"tcg-cache-1"


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
    return value


def _pickled(value: Any) -> bytes:
    return pickle.dumps(value, protocol=4)


def _code_part(code: CodeType) -> tuple[Any, ...]:
    consts = tuple(_code_part(c) if isinstance(c, CodeType) else c for c in code.co_consts)
    return (code.co_code, consts, code.co_names, code.co_varnames)


def _code_identity(func: Any) -> tuple[Any, ...]:
    """What of a function decides its results: its name, code, defaults, closure."""
    code = getattr(func, "__code__", None)
    name = (getattr(func, "__module__", None), getattr(func, "__qualname__", repr(func)))
    if code is None:  # a builtin or a callable object: its name is all there is
        return name
    closure = []
    for cell in getattr(func, "__closure__", None) or ():
        try:
            closure.append(_canonical(cell.cell_contents))
        except ValueError:  # an empty cell
            closure.append(None)
    return (*name, _code_part(code), _canonical(getattr(func, "__defaults__", None)),
            _canonical(getattr(func, "__kwdefaults__", None)), tuple(closure))


def key_of(spec: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None,
           path: str) -> str | None:
    """The cache key of a call, or ``None`` (with a ``CacheWarning``) when its function
    or arguments cannot be hashed by content."""
    try:
        material = (_FORMAT, _code_identity(spec.func), spec.cache_key,
                    _canonical(args), _canonical(kwargs or {}))
        data = _pickled(material)
    except Exception as exc:
        # Closure values that do not pickle make the key unreliable too: no caching.
        warnings.warn(CacheWarning(
            f"node {spec.name!r} ({path}) is not cached: its arguments (or its function's "
            f"closure) cannot be hashed by content ({type(exc).__name__}: {exc}); pass "
            "picklable values, or set @node(cache=False)"), stacklevel=2)
        return None
    return hashlib.sha256(data).hexdigest()


def _entry(key: str) -> Path:
    return cache_dir() / key[:2] / f"{key}.pickle"


def load(key: str) -> tuple[bool, Any]:
    """``(True, value)`` for a readable entry, else ``(False, None)``."""
    try:
        data = _entry(key).read_bytes()
    except OSError:
        return False, None
    if not data.startswith(_FORMAT):
        return False, None
    try:
        value = pickle.loads(data[len(_FORMAT):])
    except Exception:  # corrupt or written by incompatible code: recompute it
        return False, None
    return True, value


def save(key: str, value: Any, name: str, path: str) -> None:
    """Store ``value`` under ``key`` atomically; a value that does not pickle (or a
    folder that cannot be written) is warned of and not stored."""
    try:
        data = _FORMAT + pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
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


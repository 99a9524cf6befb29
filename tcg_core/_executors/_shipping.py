"""Sending node functions to other processes, and saying plainly why that failed.

A module-level node travels by name with the standard pickle. Anything else a user
ships without thinking (``node(divmod)``, a lambda, a closure, a local function, a
``partial``, a callable object) is pickled by value with cloudpickle, as Dask and Ray
do. When even that fails, the error names what inside the function could not cross.
A worker pool that dies before running anything usually means a script without an
``if __name__ == "__main__":`` guard: each worker re-runs it on start.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import functools
import pickle
import re
import sys
from pathlib import Path
from typing import Any

from .._errors import SerializationError

__all__ = ["ByValue", "shippable", "startup_problem"]


class ByValue:
    """A function pickled by cloudpickle; unpickles as the function itself (the
    standard pickle can load what cloudpickle wrote, given cloudpickle is installed)."""

    __slots__ = ("blob",)

    def __init__(self, blob: bytes) -> None:
        self.blob = blob

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return pickle.loads, (self.blob,)


def _parts(func: Any) -> list[tuple[str, Any]]:
    """What a function carries along, labelled for an error message."""
    inner = getattr(func, "func", func)  # a NodeFunction's function
    parts: list[tuple[str, Any]] = []
    if isinstance(inner, functools.partial):
        parts += [(f"the partial's argument {i}", a) for i, a in enumerate(inner.args)]
        parts += [(f"the partial's argument {k!r}", a) for k, a in inner.keywords.items()]
        inner = inner.func
    code = getattr(inner, "__code__", None)
    cells = getattr(inner, "__closure__", None) or ()
    if code is not None:
        for name, cell in zip(code.co_freevars, cells, strict=False):
            try:
                parts.append((f"the closure variable {name!r}", cell.cell_contents))
            except ValueError:  # an empty cell
                continue
        globs = getattr(inner, "__globals__", {})
        parts += [(f"the global {name!r}", globs[name]) for name in code.co_names
                  if name in globs]
        parts += [("a default argument", d) for d in getattr(inner, "__defaults__", None)
                  or ()]
    elif not isinstance(inner, type) and hasattr(inner, "__dict__"):
        parts += [(f"the attribute {k!r} of the callable object", v)
                  for k, v in vars(inner).items()]
    return parts


def _culprit(func: Any, dumps: Any) -> str:
    for label, value in _parts(func):
        try:
            dumps(value)
        except Exception as exc:
            return f"{label} (a {type(value).__name__}: {exc})"
    return "the function itself"


def shippable(spec: Any) -> Any:
    """``spec`` as it can be sent to a worker process: itself when the standard pickle
    takes it, else by value; a ``SerializationError`` naming what cannot be pickled."""
    try:
        pickle.dumps(spec)
        return spec
    except Exception as plain_error:
        first = plain_error
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover - a dependency; kept for a stripped install
        cloudpickle = None
    if cloudpickle is not None:
        try:
            return ByValue(cloudpickle.dumps(spec))
        except Exception as exc:
            first = exc
    dumps = cloudpickle.dumps if cloudpickle is not None else pickle.dumps
    raise SerializationError(
        f"node {spec.name!r} cannot be sent to a worker process: {_culprit(spec, dumps)} "
        f"cannot be pickled ({type(first).__name__}: {first}). Pass that object to the "
        "node as an argument made in the worker, or use executor='threads'") from first


_GUARD = re.compile(r"""__name__\s*==\s*['"]__main__['"]""")


def startup_problem() -> str | None:
    """Why every worker of a new pool died before running anything, when we can tell."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path:
        return None
    try:
        source = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        # A script read from standard input (`python - < script.py`, a heredoc): every
        # worker starts by re-importing the main module from its path, which is no file.
        return (f"the worker processes died while starting, before running any node: "
                f"each one first re-imports your main module from {path!r}, which is not "
                f"a file it can read ({type(exc).__name__}: {exc.strerror or exc}); save "
                "the script to a .py file and run that, or use executor='threads'")
    if _GUARD.search(source):
        return (f"the worker processes died while starting, before running any node: each "
                f"one imports your main module {path} first, and that failed (see the "
                "workers' output above)")
    return (f"the worker processes died while starting: your script {path} has no "
            "'if __name__ == \"__main__\":' guard, so each worker process re-runs it on "
            "start (and its resolve() tries to start processes again). Put the script's "
            "top-level code under 'if __name__ == \"__main__\":'")

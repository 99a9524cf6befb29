"""``save()``: the format from the file name, Graphviz if asked, an atomic write."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import os
import secrets
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from .._errors import TcgError
from ._common import as_model
from ._dot import to_dot
from ._json import to_json
from ._mermaid import to_mermaid
from ._trace import to_chrome_trace

__all__ = ["SAVE_FORMATS", "save"]

_TEXT: dict[str, Callable[[object], str]] = {
    ".trace.json": to_chrome_trace,  # checked before ".json"
    ".json": to_json,
    ".dot": to_dot,
    ".gv": to_dot,
    ".mmd": to_mermaid,
}
_RENDERED = (".svg", ".png", ".pdf")
#: Every file ending ``save()`` understands.
SAVE_FORMATS = (*_TEXT, *_RENDERED)
_INSTALL_GRAPHVIZ = ("install Graphviz (Debian/Ubuntu: apt-get install graphviz; "
                     "macOS: brew install graphviz)")
_DOT_TIMEOUT = 300.0


def save(graph: object, path: str | os.PathLike[str]) -> Path:
    """Write the graph to ``path`` in the format its ending names; returns the path.

    ``.dot``/``.gv``: DOT text (:func:`to_dot`); ``.svg``/``.png``/``.pdf``: that DOT
    rendered by Graphviz's ``dot`` program; ``.mmd``: Mermaid (:func:`to_mermaid`);
    ``.json``: :func:`to_json`; ``.trace.json``: :func:`to_chrome_trace`. Missing
    folders are created. The file is written under a temporary name in the same
    folder and renamed into place, so a reader (or another pytest-xdist worker
    writing the same name) never sees a partial file.

    >>> import tempfile, pathlib
    >>> from tcg_core import node, save
    >>> @node
    ... def inc(x):
    ...     return x + 1
    >>> f = inc(1)
    >>> f.resolve(executor="serial")
    2
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     written = save(f.graph, pathlib.Path(tmp) / "out" / "graph.mmd")
    ...     print(written.name, written.read_text().splitlines()[0])
    graph.mmd flowchart LR
    """
    model = as_model(graph)
    target = Path(path)
    lower = target.name.lower()
    ending = next((e for e in SAVE_FORMATS if lower.endswith(e)), None)
    if ending is None:
        raise TcgError(f"save() cannot tell the format of {str(target)!r}; use one of these "
                       f"endings: {', '.join(SAVE_FORMATS)}")
    if ending in _TEXT:
        data = _TEXT[ending](model).encode("utf-8")
    else:
        data = _render(to_dot(model), ending[1:], target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(target, data)
    return target


def _render(dot_text: str, fmt: str, target: Path) -> bytes:
    program = shutil.which("dot")
    if program is None:
        raise TcgError(f"saving {target.name!r} needs Graphviz's 'dot' program, which is not "
                       f"on PATH: {_INSTALL_GRAPHVIZ}; or save as .dot or .mmd instead")
    try:
        done = subprocess.run([program, f"-T{fmt}"], input=dot_text.encode("utf-8"),
                              capture_output=True, timeout=_DOT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise TcgError(f"Graphviz 'dot -T{fmt}' took over {_DOT_TIMEOUT:.0f} s for "
                       f"{target.name!r}; save as .dot and render it separately") from exc
    except OSError as exc:
        raise TcgError(f"could not run Graphviz ({program}): {exc}; {_INSTALL_GRAPHVIZ}") from exc
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace").strip()
        raise TcgError(f"Graphviz 'dot -T{fmt}' failed for {target.name!r} (exit "
                       f"{done.returncode}): {stderr or 'no message'}")
    return done.stdout


def _write_atomically(target: Path, data: bytes) -> None:
    # A unique hidden name in the same folder (so the rename never crosses file systems),
    # created with the usual permissions (os.open honours the umask, mkstemp would not).
    temp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise

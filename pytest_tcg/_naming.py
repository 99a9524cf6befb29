"""Where the plugin's files go: a file name per test id and per snapshot name, and the
one way files are written (atomically). Pure: no engine import, so the snapshot audit at
the end of a session that never used the engine does not load it.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import hashlib
import os
import re
import secrets
from pathlib import Path

__all__ = ["file_name_part", "file_stem", "name_part", "names_stem", "write_atomically"]

_PATH_OK = re.compile(r"[A-Za-z0-9_/-]*")
_NAME_OK = re.compile(r"[A-Za-z0-9_.]+")
_PARAM_OK = re.compile(r"\[[A-Za-z0-9_.,=+\-\[\]]*\]")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.,=+\-\[\]]+")
_MAX_STEM = 150


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed into place: readers
    (other xdist workers, a browser) never see half a file."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def file_stem(nodeid: str) -> str:
    """A readable file name for a test id, different for every different id.

    ``tests/io/test_load.py::TestCsv::test_read[utf-8]`` becomes
    ``tests.io.test_load--TestCsv--test_read[utf-8]``. Ids that need other characters
    changed, or are very long, get a short hash of the exact id appended instead.

    >>> file_stem("tests/test_a.py::test_b[1-x]")
    'tests.test_a--test_b[1-x]'
    >>> file_stem("tests/test_a.py::test_b[a/b]")
    'tests.test_a--test_b[a_b]-2a9566e4e9'
    """
    path, sep, rest = nodeid.partition("::")
    readable_path, path_ok = _path_part(path)
    readable_rest, rest_ok = name_part(rest) if sep else ("", False)
    readable = readable_path + ("--" + readable_rest if sep else "")
    return _finish(readable, nodeid, path_ok and rest_ok)


def names_stem(names: str) -> str:
    """A file name for the part of a test id after its file (``Class::test[param]``),
    made safe the same way as :func:`file_stem`.

    >>> names_stem("TestCsv::test_read[utf-8]")
    'TestCsv--test_read[utf-8]'
    """
    readable, lossless = name_part(names)
    return _finish(readable, names, lossless)


def name_part(names: str) -> tuple[str, bool]:
    """``Class::test[param]`` as ``Class--test[param]``, and whether that is lossless."""
    head, bracket, params = names.partition("[")
    segments = head.split("::")
    ok = all(_NAME_OK.fullmatch(s) for s in segments)
    text = "--".join(segments)
    if bracket:
        param_text = "[" + params
        ok = ok and bool(_PARAM_OK.fullmatch(param_text))
        text += param_text
    return text, ok


def _path_part(path: str) -> tuple[str, bool]:
    stem = path[:-3] if path.endswith(".py") else path
    # '/' becomes '.', so only paths without dots (and without the '--' separator) map back
    # to exactly one test file.
    ok = path.endswith(".py") and bool(_PATH_OK.fullmatch(stem)) and "--" not in stem \
        and not stem.endswith("-")
    return stem.replace("/", "."), ok


def _finish(readable: str, exact: str, lossless: bool) -> str:
    safe = _UNSAFE.sub("_", readable).strip(".") or "test"
    if lossless and len(safe) <= _MAX_STEM and safe == readable:
        return safe
    # Nothing lossless ends in '-' plus hex (names end in a letter, digit, '_' or ']').
    digest = hashlib.sha1(exact.encode("utf-8")).hexdigest()[:10]
    return f"{safe[:_MAX_STEM]}-{digest}"


def file_name_part(kind: str, name: str) -> str:
    """A user's ``name=`` as the suffix of a file beside the test, or ``ValueError``.

    >>> file_name_part("snapshot", "after.load")
    'after.load'
    """
    text, ok = name_part(name)
    if not ok or "--" in text:
        raise ValueError(f"{kind} name {name!r}: use letters, digits, '_' and '.'")
    return text

"""Value regression, the data (``tcg_regression``): every node's value recorded in a file
a reviewer can read, and the first node, in topological order, whose value differs.
Pure: no pytest here (the fixture is ``_fixtures._regression``).

A value is stored as JSON when it is plain data (``None``, bools, ints, floats, strings,
lists, tuples and string-keyed dicts of those; a tuple's type is recorded) and its JSON
text is at most ``max_bytes``; a NumPy array of numbers up to that size goes to a
sidecar ``.npz`` (read back with
``allow_pickle=False``: a hostile file cannot run code); anything else, or anything
bigger, is stored as a fingerprint (type, size, SHA-256 of its pickle) and compared by
it, which the report says.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import difflib
import hashlib
import io
import json
import math
import pickle
import pprint
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_BYTES", "Entry", "Recording", "RegressionFileError", "compare_values",
           "encode", "load", "dump"]

FORMAT = "tcg-values"
VERSION = 1
#: The largest value written into the repository as text or array (bytes of JSON, or of
#: the array's data); bigger ones are stored as a fingerprint. ``check(max_bytes=...)``.
MAX_BYTES = 100_000
_MAX_DIFF_LINES = 20


class RegressionFileError(Exception):
    """A recorded-values file that cannot be read: corrupt, hostile or of another format."""


@dataclass
class Entry:
    """One node's recorded value: ``kind`` is "json", "array" or "fingerprint"."""

    kind: str
    type: str  #: the value's type, ``module.qualname`` for a library type
    value: Any = None  #: the JSON value ("json"), the array ("array"), else None
    size: int = 0  #: bytes of the stored form (JSON text, array data or pickle)
    sha256: str | None = None  #: for a fingerprint: of the value's pickle
    note: str | None = None  #: why it is a fingerprint


@dataclass
class Recording:
    """Every node's entry by label, and the labels in topological order."""

    entries: dict[str, Entry] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else \
        f"{kind.__module__}.{kind.__qualname__}"


def _plain(value: Any, depth: int = 0) -> bool:
    if depth > 50:
        return False
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if type(value) in (list, tuple):  # a tuple is stored as a list, its type recorded
        return all(_plain(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False


def encode(value: Any, max_bytes: int = MAX_BYTES) -> Entry:
    """How ``value`` is recorded (see the module docstring).

    >>> encode([1, 2.5, "a"]).kind, encode((1, 2)).type, encode(object()).kind
    ('json', 'tuple', 'fingerprint')
    """
    name = _type_name(value)
    if _plain(value):
        text = json.dumps(value, sort_keys=True)
        if len(text) <= max_bytes:  # compared as read back: tuples as lists, on both sides
            return Entry("json", name, json.loads(text), len(text))
        return _fingerprint(value, name, f"its JSON is {len(text):,} bytes, over "
                            f"max_bytes={max_bytes:,}")
    if _numeric_array(value):
        if value.nbytes <= max_bytes:
            return Entry("array", name, value, int(value.nbytes))
        return _fingerprint(value, name, f"the array holds {value.nbytes:,} bytes, over "
                            f"max_bytes={max_bytes:,}")
    return _fingerprint(value, name, "not plain data (JSON) nor a numeric NumPy array")


def _numeric_array(value: Any) -> bool:
    return (type(value).__module__ == "numpy" and type(value).__name__ == "ndarray"
            and value.dtype.kind in "biufc")


def _fingerprint(value: Any, name: str, why: str) -> Entry:
    try:
        data = pickle.dumps(value, protocol=5)
    except Exception as exc:
        return Entry("fingerprint", name, note=f"{why}; it cannot be pickled "
                     f"({type(exc).__name__}), so only its type is compared")
    return Entry("fingerprint", name, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                 note=f"{why}: compared by type, size and SHA-256 of its pickle")


def dump(recording: Recording) -> tuple[str, bytes | None]:
    """The JSON text, and the ``.npz`` sidecar's bytes when an array is recorded."""
    arrays: dict[str, Any] = {}
    nodes: dict[str, Any] = {}
    for number, (label, entry) in enumerate(recording.entries.items()):
        item: dict[str, Any] = {"kind": entry.kind, "type": entry.type}
        if entry.kind == "json":
            item["value"] = entry.value
        elif entry.kind == "array":
            item["array"] = f"a{number}"
            arrays[f"a{number}"] = entry.value
        else:
            item.update(size=entry.size, sha256=entry.sha256, note=entry.note)
        nodes[label] = item
    text = json.dumps({"format": FORMAT, "version": VERSION, "order": recording.order,
                       "nodes": nodes}, indent=1, sort_keys=True, ensure_ascii=False)
    if not arrays:
        return text + "\n", None
    import numpy

    buffer = io.BytesIO()
    numpy.savez(buffer, **arrays)
    return text + "\n", buffer.getvalue()


def load(text: str, sidecar: bytes | None) -> Recording:
    """A recording read back; ``RegressionFileError`` naming what is wrong otherwise."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise RegressionFileError(f"not JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") \
            != VERSION or type(doc.get("version")) is not int:
        raise RegressionFileError(f'not a "{FORMAT}" version {VERSION} document')
    nodes, order = doc.get("nodes"), doc.get("order")
    if not isinstance(nodes, dict) or not isinstance(order, list) or not all(
            isinstance(label, str) for label in order):
        raise RegressionFileError('"nodes" must be an object and "order" a list of labels')
    arrays = _arrays(sidecar) if any(isinstance(i, dict) and i.get("kind") == "array"
                                     for i in nodes.values()) else {}
    recording = Recording(order=list(order))
    for label, item in nodes.items():
        recording.entries[label] = _entry(label, item, arrays)
    return recording


def _arrays(sidecar: bytes | None) -> dict[str, Any]:
    if sidecar is None:
        raise RegressionFileError("its .npz sidecar (the recorded arrays) is missing")
    import numpy

    try:
        with numpy.load(io.BytesIO(sidecar), allow_pickle=False) as found:
            return {name: found[name] for name in found.files}
    except Exception as exc:
        raise RegressionFileError(f"its .npz sidecar cannot be read ({type(exc).__name__}: "
                                  f"{exc})") from None


def _entry(label: str, item: Any, arrays: dict[str, Any]) -> Entry:
    if not isinstance(item, dict) or item.get("kind") not in ("json", "array",
                                                                "fingerprint"):
        raise RegressionFileError(f"node {label!r}: an entry needs a kind (json, array or "
                                  "fingerprint)")
    kind, name = item["kind"], str(item.get("type", "?"))
    if kind == "json":
        return Entry("json", name, item.get("value"))
    if kind == "array":
        key = item.get("array")
        if key not in arrays:
            raise RegressionFileError(f"node {label!r}: array {key!r} is not in the sidecar")
        return Entry("array", name, arrays[key])
    size, digest = item.get("size", 0), item.get("sha256")
    if not isinstance(size, int) or (digest is not None and not isinstance(digest, str)):
        raise RegressionFileError(f"node {label!r}: a fingerprint needs an int size and a "
                                  "sha256 string")
    return Entry("fingerprint", name, size=size, sha256=digest, note=item.get("note"))


def compare_values(stored: Entry, now: Entry, rel: float | None, abs_: float | None
                   ) -> str | None:
    """``None`` when they match (numbers within ``rel``/``abs_``); else a readable
    difference, the type first."""
    if stored.type != now.type:
        return f"type {stored.type} is now {now.type}"
    if stored.kind != now.kind:
        return f"recorded as {stored.kind}, now {now.kind} (max_bytes or its type changed)"
    if stored.kind == "fingerprint":
        if (stored.size, stored.sha256) == (now.size, now.sha256):
            return None
        return (f"its fingerprint differs (size {stored.size:,} → {now.size:,} bytes; "
                f"compared by fingerprint: {now.note})")
    if stored.kind == "array":
        return _array_difference(stored.value, now.value, rel, abs_)
    if _same(stored.value, now.value, rel, abs_):
        return None
    return _text_difference(stored.value, now.value)


def _same(a: Any, b: Any, rel: float | None, abs_: float | None) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) \
            or not isinstance(b, (int, float)):
        if type(a) is list and type(b) is list:
            return len(a) == len(b) and all(_same(x, y, rel, abs_) for x, y in
                                            zip(a, b, strict=True))
        if type(a) is dict and type(b) is dict:
            return a.keys() == b.keys() and all(_same(a[k], b[k], rel, abs_) for k in a)
        return bool(a == b)
    if rel is None and abs_ is None:
        return a == b
    return math.isclose(a, b, rel_tol=rel or 0.0, abs_tol=abs_ or 0.0)


def _text_difference(a: Any, b: Any) -> str:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return f"{a!r} is now {b!r} (difference {b - a:+.6g})"
    old, new = pprint.pformat(a, width=80).splitlines(), pprint.pformat(b, width=80).splitlines()
    if len(old) == 1 and len(new) == 1:
        return f"{old[0][:200]} is now {new[0][:200]}"
    diff = [line for line in difflib.ndiff(old, new) if line[:1] in "+-?"]
    shown = diff[:_MAX_DIFF_LINES] + ([f"... {len(diff) - _MAX_DIFF_LINES} more lines"]
                                      if len(diff) > _MAX_DIFF_LINES else [])
    return "differs (- recorded, + now):\n" + "\n".join("    " + line for line in shown)


def _array_difference(a: Any, b: Any, rel: float | None, abs_: float | None) -> str | None:
    import numpy

    if a.shape != b.shape or a.dtype != b.dtype:
        return f"shape {a.shape} dtype {a.dtype} is now shape {b.shape} dtype {b.dtype}"
    close = numpy.isclose(a, b, rtol=rel or 0.0, atol=abs_ or 0.0, equal_nan=True)
    if bool(close.all()):
        return None
    wrong = int((~close).sum())
    first = tuple(int(i) for i in numpy.argwhere(~close)[0])
    return (f"{wrong} of {a.size} elements differ (shape {a.shape}, dtype {a.dtype}); "
            f"first at {first}: {a[first]!r} is now {b[first]!r}")

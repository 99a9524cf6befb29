"""The ``tcg_regression`` fixture: ``tcg_regression.check(target)`` records every node's
value beside the test (``__tcg_snapshots__/<module>/<test>.values.json``, written and
updated by ``--tcg-snapshot-update``) and, on later runs, names the first node in
topological order whose value changed, its difference, and the nodes downstream that
changed only because of it. Nodes are keyed as graph snapshots key them (nesting path,
``#k`` for repeated names), so the keys do not depend on thread timing."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tcg_core import Callback, Graph, GraphModel, NodeRecord, is_future, resolve

from .._graphs import as_model, futures_of, label_paths, topological
from .._naming import file_name_part, names_stem, write_atomically
from .._snapshots._regression import (
    MAX_BYTES,
    Entry,
    Recording,
    RegressionFileError,
    compare_values,
    dump,
    encode,
    load,
)
from .._snapshots._snapshot import escape
from .._stats import Stats

__all__ = ["TcgRegression"]

_SUFFIX = ".values.json"
_SIDECAR = ".values.npz"


class TcgRegression:
    """What ``tcg_regression`` gives a test; see the module docstring.

    >>> def test_report(tcg_regression: TcgRegression) -> None:  # doctest: +SKIP
    ...     tcg_regression.check(lambda: daily_report(["north"]), rel=1e-9)
    """

    def __init__(self, item: pytest.Item, update: bool, stats: Stats,
                 executor: Callable[[], Any]) -> None:
        self._item = item
        self._update = update
        self._stats = stats
        self._executor = executor
        self._calls = 0

    def __repr__(self) -> str:
        return "tcg_regression"

    def path(self, name: str | None = None) -> Path:
        """The recording for ``name`` (the test's own file when ``None``)."""
        item = self._item
        stem = names_stem(item.nodeid.partition("::")[2] or item.name)
        suffix = "" if name is None else "." + _check_name(name)
        folder = Path(item.path).parent / "__tcg_snapshots__" / Path(item.path).stem
        return folder / f"{stem}{suffix}{_SUFFIX}"

    def check(self, target: Any, *, name: str | None = None, rel: float | None = None,
              abs: float | None = None, max_bytes: int = MAX_BYTES) -> None:
        """Compare every node's value with the recording (or write it under
        ``--tcg-snapshot-update``). ``target``: a function building the pipeline (run
        here, recorded, with the test's executor), or a Graph that ran (``tcg_graph``;
        it kept every value). Numbers compare within ``rel``/``abs``; a value over
        ``max_bytes`` is recorded as a fingerprint."""
        __tracebackhide__ = True
        _check_options(rel, abs, max_bytes)
        self._calls += 1
        if name is None and self._calls > 1:
            name = str(self._calls)
        model, captured = self._model(target)
        recording = _record(model, max_bytes, captured)
        downstream = _dependents(model)
        path = self.path(name)
        self._stats.snapshot_used.append(str(path))
        self._stats.snapshot_used.append(str(path.with_name(path.name[:-len(_SUFFIX)]
                                                            + _SIDECAR)))
        self._compare(recording, path, rel, abs, downstream)

    def _model(self, target: Any) -> tuple[GraphModel, dict[int, Any]]:
        """The graph, and the value of each node as it finished (nested nodes' values
        are let go of once their parent has them: caught here as they are made)."""
        if callable(target) and not is_future(target) and not isinstance(
                target, (Graph, GraphModel)):
            captured: dict[int, Any] = {}
            with Graph() as graph:
                futures = futures_of(target())
            resolve(*futures, executor=self._executor(), callbacks=[_Capture(captured)])
            return as_model(graph), captured
        if is_future(target) or isinstance(target, (list, tuple)):
            pytest.fail("tcg_regression.check() needs every node's value, which a future "
                        "does not keep for the nodes before it: pass a function that builds "
                        "the pipeline (lambda: pipeline(...)), or the Graph that recorded it "
                        "(tcg_graph, or with tcg_core.Graph() as g: ...)", pytrace=False)
        return as_model(target), {}

    def _compare(self, recording: Recording, path: Path, rel: float | None,
                 abs_: float | None, downstream: dict[str, set[str]]) -> None:
        __tracebackhide__ = True
        sidecar = path.with_name(path.name[:-len(_SUFFIX)] + _SIDECAR)
        stored: Recording | None = None
        problem = None
        if path.exists():
            try:
                text = path.read_text(encoding="utf-8")
                extra = sidecar.read_bytes() if sidecar.exists() else None
                stored = load(text, extra)
            except (OSError, UnicodeError, RegressionFileError) as exc:
                problem = f"{_shown(path)} cannot be read: {exc}"
        if self._update:
            if stored is None or _differences(stored, recording, None, None):
                text, arrays = dump(recording)
                path.parent.mkdir(parents=True, exist_ok=True)
                write_atomically(path, text)
                if arrays is not None:
                    sidecar.write_bytes(arrays)
                elif sidecar.exists():
                    sidecar.unlink()
                self._stats.snapshots_written += 1
            else:
                self._stats.snapshots_passed += 1
            return
        if stored is None:
            self._stats.snapshots_failed += 1
            pytest.fail(problem + "; run pytest with --tcg-snapshot-update to write it again"
                        if problem else f"no recorded values at {_shown(path)} yet: run "
                        "pytest with --tcg-snapshot-update to write them", pytrace=False)
        message = _report(stored, recording, rel, abs_, path, downstream)
        if message is None:
            self._stats.snapshots_passed += 1
            return
        self._stats.snapshots_failed += 1
        pytest.fail(message, pytrace=False)


def _check_name(name: str) -> str:
    return file_name_part("tcg_regression", name)


def _check_options(rel: Any, abs_: Any, max_bytes: Any) -> None:
    for option, value in (("rel", rel), ("abs", abs_)):
        if value is not None and (isinstance(value, bool) or not isinstance(
                value, (int, float)) or not value >= 0):
            raise TypeError(f"tcg_regression.check(): {option} must be a number >= 0 or "
                            f"None, got {value!r:.40}")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
        raise TypeError(f"tcg_regression.check(): max_bytes must be an int >= 0, got "
                        f"{max_bytes!r:.40}")


class _Capture(Callback):
    """Keeps each node's value as it finishes (``tcg_core`` callbacks run on the
    resolve's own thread, one at a time)."""

    def __init__(self, into: dict[int, Any]) -> None:
        self._into = into

    def on_finish(self, record: NodeRecord) -> None:
        try:
            self._into[record.id] = record.value
        except LookupError:  # nothing holds it any more: recorded as not kept
            pass


#: Stands for the value of a nested node that a Graph target no longer holds.
_NOT_KEPT = Entry("json", "(value not kept)", None)


def _record(model: GraphModel, max_bytes: int, captured: dict[int, Any]) -> Recording:
    __tracebackhide__ = True
    records = model.nodes
    unfinished = [r for r in records if r.state not in ("done", "failed", "skipped")]
    if unfinished:
        names = ", ".join(f"{r.name} ({r.state})" for r in unfinished[:5])
        pytest.fail(f"tcg_regression.check() got a graph that has not run to the end: "
                    f"{names}; resolve it first", pytrace=False)
    labels = label_paths(records, escape)
    recording = Recording(order=[labels[r.id] for r in topological(records)])
    for rec in records:
        label = labels[rec.id]
        if rec.state != "done":
            error = f"{type(rec.error).__name__}: {rec.error}" if rec.error else None
            recording.entries[label] = Entry("json", f"({rec.state})", error)
        elif rec.id in captured:
            recording.entries[label] = encode(captured[rec.id], max_bytes)
        else:
            try:
                recording.entries[label] = encode(rec.value, max_bytes)
            except LookupError:  # a nested node of a Graph target: its parent has it
                recording.entries[label] = _NOT_KEPT
    return recording


def _dependents(model: GraphModel) -> dict[str, set[str]]:
    """Per node label, the labels whose value depends on it directly: its consumers, and
    its parent (a parent's value is what its children made)."""
    labels = label_paths(model.nodes, escape)
    found: dict[str, set[str]] = {label: set() for label in labels.values()}
    for rec in model.nodes:
        for source in rec.inputs:
            if source.id in labels:
                found[labels[source.id]].add(labels[rec.id])
        if rec.parent is not None and rec.parent.id in labels:
            found[labels[rec.id]].add(labels[rec.parent.id])
    return found


def _reach(start: str, dependents: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in dependents.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _differences(stored: Recording, now: Recording, rel: float | None,
                 abs_: float | None) -> list[tuple[str, str]]:
    found = []
    for label in now.order:
        if label in stored.entries and label in now.entries:
            difference = compare_values(stored.entries[label], now.entries[label], rel, abs_)
            if difference is not None:
                found.append((label, difference))
    if set(stored.entries) != set(now.entries):
        found.append(("", "the nodes differ"))
    return found


def _report(stored: Recording, now: Recording, rel: float | None, abs_: float | None,
            path: Path, dependents: dict[str, set[str]]) -> str | None:
    differing = [(label, why) for label, why in _differences(stored, now, rel, abs_) if label]
    added = [label for label in now.order if label not in stored.entries]
    missing = [label for label in stored.order if label not in now.entries]
    if not differing and not added and not missing:
        return None
    lines = [f"node values differ from the recording {_shown(path)}:"]
    if differing:
        first, why = differing[0]
        lines.append(f"first differing node (in topological order): {first}")
        lines.append(f"  {why}")
        below = _reach(first, dependents)
        inherited = [label for label, _ in differing[1:] if label in below]
        own = [(label, why) for label, why in differing[1:] if label not in below]
        if inherited:
            lines.append(f"downstream, changed because {first!r} changed: "
                         + ", ".join(inherited[:10])
                         + (f", ... ({len(inherited)} in all)" if len(inherited) > 10
                            else ""))
        for label, why in own[:5]:  # not downstream of the first: changed on their own
            lines.append(f"also differs (not downstream of it): {label}: {why}")
    if added:
        lines.append("nodes added since the recording: " + ", ".join(added[:10]))
    if missing:
        lines.append("nodes missing since the recording: " + ", ".join(missing[:10]))
    lines.append("if the change is right, rerun with --tcg-snapshot-update to record it")
    return "\n".join(lines)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


TcgRegression.__module__ = "pytest_tcg"  # where test authors import it from

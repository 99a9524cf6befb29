"""Pipeline coverage, the data: which node functions of the named packages the tests ran,
and how (``--tcg-coverage``). Pure: no pytest here (the hooks are in
``_coverage._hooks``), so the ledger can be merged, summarised and written anywhere.

A node function counts as **run** when a test ran its body at least once. A node that a
test only replaced (``tcg_mock``/``override``), only read from the result cache, or only
skipped (an input failed) is listed as such and does not count: its code never ran.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import importlib
import inspect
import json
import pkgutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["FunctionRecord", "Ledger", "NodeFunctionInfo", "Universe", "discover", "key_of",
           "summary_lines"]


@dataclass(frozen=True)
class NodeFunctionInfo:
    """One node function of the universe: its key and where it is defined."""

    key: str  #: ``module:qualname``
    file: str  #: its source file (relative to the root when under it)
    line: int  #: the line of its ``def``


@dataclass
class Universe:
    """Every node function defined in the named packages, and what could not be read."""

    functions: dict[str, NodeFunctionInfo] = field(default_factory=dict)
    #: "module: ErrorType: message" for each module that failed to import
    import_errors: list[str] = field(default_factory=list)


def key_of(node_function: Any) -> str | None:
    """``module:qualname`` of a node function (a record's ``spec``), else ``None``."""
    module = getattr(node_function, "__module__", None)
    name = getattr(node_function, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(name, str):
        return None
    return f"{module}:{name}"


def discover(packages: list[str], root: Path) -> Universe:
    """Import each package and its submodules; collect every node function defined in
    them (module level and in classes). An import error is recorded, never raised.

    >>> Universe().functions
    {}
    """
    universe = Universe()
    for name in packages:
        for module in _modules(name, universe.import_errors):
            for obj in _candidates(module):
                _add(universe, obj, module.__name__, root)
    return universe


def _modules(name: str, errors: list[str]) -> list[Any]:
    try:
        package = importlib.import_module(name)
    except Exception as exc:
        errors.append(f"{name}: {type(exc).__name__}: {exc}")
        return []
    found = [package]
    for info in pkgutil.walk_packages(getattr(package, "__path__", []), prefix=f"{name}.",
                                      onerror=lambda failed: errors.append(
                                          f"{failed}: could not be walked")):
        try:
            found.append(importlib.import_module(info.name))
        except Exception as exc:
            errors.append(f"{info.name}: {type(exc).__name__}: {exc}")
    return found


def _candidates(module: Any) -> list[Any]:
    objects = list(vars(module).values())
    for obj in list(objects):
        if isinstance(obj, type) and getattr(obj, "__module__", None) == module.__name__:
            objects.extend(vars(obj).values())  # node functions defined in a class body
    return objects


def _add(universe: Universe, obj: Any, module: str, root: Path) -> None:
    if getattr(type(obj), "_tcg_node", False) is not True:
        return
    if getattr(obj, "__module__", None) != module:  # imported from elsewhere
        return
    key = key_of(obj)
    if key is None or key in universe.functions:
        return
    func = inspect.unwrap(getattr(obj, "func", obj))
    try:
        path = Path(inspect.getsourcefile(func) or "?")
        line = func.__code__.co_firstlineno
    except (TypeError, AttributeError):
        path, line = Path("?"), 0
    try:
        shown = path.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        shown = str(path)
    universe.functions[key] = NodeFunctionInfo(key, shown, line)


@dataclass
class FunctionRecord:
    """What the session's tests did with one node function."""

    tests: list[str] = field(default_factory=list)  #: tests that ran its body
    bodies: int = 0  #: how many times its body started
    cached: int = 0  #: calls served from the result cache
    replaced: int = 0  #: calls a test double answered
    skipped: int = 0  #: calls skipped because an input failed
    done: int = 0  #: calls that ended done
    failed: int = 0  #: calls that ended failed
    retried: int = 0  #: retries after a failed attempt
    timed_out: int = 0  #: attempts that ran past their timeout=
    #: a passing test saw it fail: its failure path is tested
    failure_tested: bool = False
    nested: bool = False  #: it ran inside another node's body at least once

    def merge(self, other: FunctionRecord) -> None:
        """Add ``other`` into this one, field by field (a new field is merged too)."""
        for spec in fields(self):
            mine, theirs = getattr(self, spec.name), getattr(other, spec.name)
            if isinstance(mine, list):
                mine.extend(t for t in theirs if t not in mine)
            elif isinstance(mine, bool):
                setattr(self, spec.name, mine or theirs)
            else:
                setattr(self, spec.name, mine + theirs)

    def how(self) -> str:
        """``body`` when its code ran, else how the tests met it."""
        if self.bodies:
            return "body"
        met = [word for word, count in (("replaced", self.replaced), ("cached",
               self.cached), ("skipped", self.skipped)) if count]
        return "only " + " and ".join(met) if met else "never run"


@dataclass
class Ledger:
    """The session's record: per node function key, and data edges with their counts."""

    functions: dict[str, FunctionRecord] = field(default_factory=dict)
    edges: dict[str, int] = field(default_factory=dict)  #: "a -> b": count
    #: "parent -> child": how often a body of the parent created a call of the child
    nesting: dict[str, int] = field(default_factory=dict)

    def function(self, key: str) -> FunctionRecord:
        found = self.functions.get(key)
        if found is None:
            found = self.functions[key] = FunctionRecord()
        return found

    def to_dict(self) -> dict[str, Any]:
        return {"functions": {k: asdict(v) for k, v in self.functions.items()},
                "edges": dict(self.edges), "nesting": dict(self.nesting)}

    def merge(self, data: dict[str, Any]) -> None:
        """Add a worker's ledger (its ``to_dict()``)."""
        for key, value in data.get("functions", {}).items():
            self.function(key).merge(FunctionRecord(**value))
        for mine, theirs in ((self.edges, data.get("edges", {})),
                             (self.nesting, data.get("nesting", {}))):
            for edge, count in theirs.items():
                mine[edge] = mine.get(edge, 0) + count


def percent(ledger: Ledger, universe: Universe) -> float:
    """The share of the universe's node functions whose body ran (100 when empty)."""
    total = len(universe.functions)
    if not total:
        return 100.0
    ran = sum(1 for key in universe.functions if _ran(ledger, key))
    return 100.0 * ran / total


def _ran(ledger: Ledger, key: str) -> bool:
    found = ledger.functions.get(key)
    return found is not None and found.bodies > 0


def summary_lines(ledger: Ledger, universe: Universe) -> list[str]:
    """The terminal summary (in the manner of pytest-cov's ``term-missing``): the total,
    then one row per node function, those whose body never ran first."""
    total = len(universe.functions)
    ran = sum(1 for key in universe.functions if _ran(ledger, key))
    lines = [f"{ran} of {total} node functions run ({percent(ledger, universe):.1f}%)"]
    rows: list[tuple[bool, list[str]]] = []
    for key, info in universe.functions.items():
        record = ledger.functions.get(key) or FunctionRecord()
        outcomes = ", ".join(f"{count} {word}" for word, count in (
            ("failed", record.failed), ("retried", record.retried),
            ("timed out", record.timed_out)) if count)
        notes = [n for n in (outcomes, "failure tested" if record.failure_tested else "",
                             "nested" if record.nested else "") if n]
        rows.append((record.bodies > 0, [key, f"{info.file}:{info.line}",
                                         str(len(record.tests)), str(record.bodies),
                                         record.how(), "; ".join(notes)]))
    rows.sort(key=lambda r: (r[0], r[1][0]))  # never run first, then by name
    table = [["node function", "file:line", "tests", "bodies", "how", ""],
             *(cells for _, cells in rows)]
    widths = [max(len(cells[i]) for cells in table) for i in range(5)]
    for cells in table:
        lines.append("  ".join([c.ljust(w) for c, w in zip(cells[:5], widths, strict=True)]
                               + [cells[5]]).rstrip())
    for error in universe.import_errors:
        lines.append(f"could not import {error}")
    return lines


def document(ledger: Ledger, universe: Universe) -> str:
    """``tcg-coverage.json``: the universe with each function's record, and the edges."""
    doc = {
        "format": "tcg-coverage", "version": 1,
        "percent": round(percent(ledger, universe), 2),
        "functions": [
            {"key": key, "file": info.file, "line": info.line,
             **asdict(ledger.functions.get(key) or FunctionRecord())}
            for key, info in sorted(universe.functions.items())],
        "edges": [{"from": edge.split(" -> ")[0], "to": edge.split(" -> ")[1],
                   "count": count} for edge, count in sorted(ledger.edges.items())],
        "nesting": [{"parent": edge.split(" -> ")[0], "child": edge.split(" -> ")[1],
                     "count": count} for edge, count in sorted(ledger.nesting.items())],
        "import_errors": universe.import_errors,
    }
    return json.dumps(doc, indent=1)

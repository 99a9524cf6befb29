"""What an argument's form costs: a chain of no-op nodes where each call passes its
input as a plain future, in a list, a namedtuple, a dataclass or a frozen dataclass.

The plain-future row is the build fast path (no scan); the other rows pay for finding
the future at the call and replacing it when the node runs. A second table weighs the
hand-written traversal of ``tcg_core._values`` against optree (a pytree library in C++)
on the same structures, when optree is installed: flatten to find the futures, then
rebuild with the values.
"""

from __future__ import annotations

import gc
import time
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._common import Options, ScenarioResult, Table, fmt, have, log, median

NAME = "arguments"
CHAIN = 20_000
ITEMS = 20_000

Pair = namedtuple("Pair", "value tag")


@dataclass
class Box:
    value: Any
    tag: int


@dataclass(frozen=True)
class FrozenBox:
    value: Any
    tag: int


FORMS: dict[str, Callable[[Any], Any]] = {
    "plain future": lambda f: f,
    "list [f, 1]": lambda f: [f, 1],
    "namedtuple": lambda f: Pair(f, 1),
    "dataclass": lambda f: Box(f, 1),
    "frozen dataclass": lambda f: FrozenBox(f, 1),
}


def _chain(form: Callable[[Any], Any]) -> dict[str, float]:
    import tcg_core

    @tcg_core.node
    def step(x: Any = None) -> int:
        return 0

    gc.collect()
    started = time.perf_counter()
    f = step()
    for _ in range(CHAIN):
        f = step(form(f))
    built = time.perf_counter()
    tcg_core.resolve(f, executor="serial")
    done = time.perf_counter()
    return {"build": (built - started) / CHAIN * 1e6, "resolve": (done - built) / CHAIN * 1e6}


def _traversals() -> dict[str, dict[str, float]]:
    """µs per structure to find its futures and rebuild it with their values."""
    import tcg_core
    from tcg_core._values import scan_futures, substitute

    done = tcg_core.node(abs)(-1)
    done.resolve(executor="serial")
    structures = {"namedtuple": Pair(done, 1), "dataclass": Box(done, 1),
                  "dict of lists": {"a": [done, 1], "b": [2, done]}}
    out: dict[str, dict[str, float]] = {}
    for name, obj in structures.items():
        def tcg(obj: Any = obj) -> None:
            found: list[Any] = []
            scan_futures(obj, found)
            substitute(obj)
        out[name] = {"tcg_core": _per_item(tcg)}
    if have("optree"):
        import optree

        def is_leaf(x: Any) -> bool:
            return isinstance(x, tcg_core.Future)
        try:
            optree.register_pytree_node(Box, lambda b: ((b.value, b.tag), None, None),
                                        lambda _, children: Box(*children),
                                        namespace="tcg-bench")
        except ValueError:  # registered by an earlier run in this process
            pass
        for name, obj in structures.items():
            def tree(obj: Any = obj) -> None:
                leaves, spec = optree.tree_flatten(obj, is_leaf=is_leaf, namespace="tcg-bench")
                [x for x in leaves if is_leaf(x)]
                optree.tree_unflatten(spec, [x._get() if is_leaf(x) else x for x in leaves])
            out[name]["optree"] = _per_item(tree)
    return out


def _per_item(run: Callable[[], None]) -> float:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(ITEMS):
            run()
        times.append((time.perf_counter() - started) / ITEMS * 1e6)
    return median(times)


def run(options: Options) -> ScenarioResult:
    data: dict[str, Any] = {"chain": {}, "traversal": {}}
    rows = []
    for name, form in FORMS.items():
        log(options, f"arguments: a chain of {CHAIN:,} with {name} arguments")
        samples = [_chain(form) for _ in range(max(options.repeats, 3))]
        build = median([s["build"] for s in samples])
        resolve = median([s["resolve"] for s in samples])
        data["chain"][name] = {"build_us": build, "resolve_us": resolve}
        rows.append([name, fmt(build), fmt(resolve)])
    chain = Table(f"Argument forms: a chain of {CHAIN:,} no-op nodes, serial (µs per node, "
                  "median)", ["argument", "build µs", "resolve µs"], rows)
    traversal = _traversals()
    data["traversal"] = traversal
    engines = ["tcg_core", "optree"] if have("optree") else ["tcg_core"]
    table = Table("Find the futures in a structure and rebuild it with their values "
                  "(µs per structure)", ["structure", *engines],
                  [[name, *(fmt(t.get(e)) for e in engines)] for name, t in traversal.items()])
    if not have("optree"):
        table.notes.append("optree is not installed: pip install optree to compare")
    return ScenarioResult(NAME, data, [chain, table], [])

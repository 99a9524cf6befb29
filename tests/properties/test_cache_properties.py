"""Cache soundness: after random edits to a child node's code, the cached node's own code,
a bound method's object and an argument, a cached resolve returns exactly what an
uncached one would (issue 20). Each example edits a real module on disk and reloads it,
as a developer editing a pipeline between two runs does."""

from __future__ import annotations

import importlib
import itertools
import os
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tcg_core import node

SOURCE = '''
from tcg_core import node


class Model:
    def __init__(self, k):
        self.k = k

    def weight(self):
        return self.k


@node
def child(x):
    return x + {delta}


@node
def combine(a, b):
    return a * b


@node(cache=True)
def parent(x):
    return combine(child(x), {factor})
'''

EDITS = st.lists(st.tuples(st.sampled_from(["delta", "factor", "object", "argument"]),
                           st.integers(0, 3)), min_size=1, max_size=6)
_names = itertools.count()


def _load(folder: str, name: str, state: dict[str, int]) -> Any:
    Path(folder, f"{name}.py").write_text(textwrap.dedent(SOURCE.format(**state)))
    importlib.invalidate_caches()
    if name in sys.modules:
        return importlib.reload(sys.modules[name])
    return importlib.import_module(name)


@settings(max_examples=20, deadline=None)
@given(edits=EDITS)
def test_a_cached_resolve_returns_what_an_uncached_one_would(
        edits: list[tuple[str, int]]) -> None:
    state = {"delta": 0, "factor": 1, "object": 1, "argument": 1}
    name = f"tcg_edited_pipeline_{next(_names)}"
    previous = os.environ.get("TCG_CACHE_DIR")
    with tempfile.TemporaryDirectory() as folder:
        os.environ["TCG_CACHE_DIR"] = str(Path(folder, "cache"))
        sys.path.insert(0, folder)
        try:
            for what, value in [("argument", 1), *edits]:
                state[what] = value
                module = _load(folder, name, {k: state[k] for k in ("delta", "factor")})
                for _ in range(2):  # the second resolve may come from the cache
                    got = module.parent(state["argument"]).resolve(executor="serial")
                    assert got == (state["argument"] + state["delta"]) * state["factor"]
                    weigh = node(module.Model(state["object"]).weight, cache=True)
                    assert weigh().resolve(executor="serial") == state["object"]
        finally:
            sys.path.remove(folder)
            sys.modules.pop(name, None)
            if previous is None:
                os.environ.pop("TCG_CACHE_DIR", None)
            else:
                os.environ["TCG_CACHE_DIR"] = previous

"""The result cache never serves a value that belongs to other code or other state
(issue 20): a bound method's object, a callable object's or partial's state, the code
behind a C wrapper, the code of the nodes a cached body created, and the integrity of
the entry itself all decide whether a stored value is returned.

Lookups happen on the resolve's own thread whatever the executor; the tests that resolve
do so on serial, threads, processes, a shuffled order and Dask (a loopback cluster).
"""

from __future__ import annotations

import functools
import importlib
import operator
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest

from tcg_core import CacheWarning, node, override, resolve
from tests.core import _nodes_for_cache as C

pytestmark = pytest.mark.timeout(120)


def test_a_bound_methods_object_is_part_of_the_key(cache: Path, every_executor: Any) -> None:
    """``node(Model(2).predict, cache=True)(5)`` then ``Model(3)`` gave 10 and 10."""
    assert node(C.Model(2).predict, cache=True)(5).resolve(executor=every_executor) == 10
    assert node(C.Model(3).predict, cache=True)(5).resolve(executor=every_executor) == 15
    again = node(C.Model(2).predict, cache=True)(5)
    assert again.resolve(executor=every_executor) == 10 and again.node.cached


def test_a_callable_objects_state_hidden_from_its_repr_is_part_of_the_key(
        cache: Path, every_executor: Any) -> None:
    assert node(C.Scaler(2), cache=True)(5).resolve(executor=every_executor) == 10
    assert node(C.Scaler(3), cache=True)(5).resolve(executor=every_executor) == 15  # same repr


def test_objects_at_a_reused_address_never_share_an_entry(cache: Path) -> None:
    """Default reprs name an address that the next object may reuse after GC."""
    for factor in range(40):
        assert node(C.Plain(factor), cache=True)(1).resolve(executor="serial") == factor


def test_a_partials_arguments_are_part_of_the_key(cache: Path, every_executor: Any) -> None:
    first = node(functools.partial(C.scaled, C.Hidden([1] * 3000)), cache=True)
    second = node(functools.partial(C.scaled, C.Hidden([2] * 3000)), cache=True)
    assert first(1).resolve(executor=every_executor) == 3000
    assert second(1).resolve(executor=every_executor) == 6000


def _module(tmp_path: Path, name: str, source: str) -> Any:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    sys.path.insert(0, str(tmp_path))
    try:
        importlib.invalidate_caches()
        if name in sys.modules:
            return importlib.reload(sys.modules[name])
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(tmp_path))


def test_editing_a_function_behind_a_c_wrapper_misses(cache: Path, tmp_path: Path) -> None:
    """``functools.lru_cache`` has no ``__code__``: the key follows ``__wrapped__``."""
    code = '''
        import functools
        from tcg_core import node

        @node(cache=True)
        @functools.lru_cache
        def price(x):
            return x * {factor}
    '''
    old = _module(tmp_path, "tcg_lru_pipeline", code.format(factor=2))
    assert old.price(5).resolve() == 10
    new = _module(tmp_path, "tcg_lru_pipeline", code.format(factor=3))
    assert new.price(5).resolve() == 15


def test_editing_a_childs_body_misses_its_cached_parent(
        cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached parent hit before its children were looked at: the old value forever."""
    code = '''
        from tcg_core import node

        @node
        def child(x):
            return x + {delta}

        @node(cache=True)
        def parent(x):
            return child(x)
    '''
    monkeypatch.syspath_prepend(str(tmp_path))
    first = _module(tmp_path, "tcg_nested_pipeline", code.format(delta=1))
    assert first.parent(1).resolve() == 2
    hit = first.parent(1)
    assert hit.resolve() == 2 and hit.node.cached
    edited = _module(tmp_path, "tcg_nested_pipeline", code.format(delta=100))
    assert edited.parent(1).resolve() == 101


def test_a_value_computed_with_a_test_double_inside_is_not_stored(cache: Path,
                                                                   tmp_path: Path) -> None:
    runs = str(tmp_path / "runs")
    Path(runs).mkdir()
    with override({C.inc: lambda x: -1}):
        assert C.inc_parent(runs, 3).resolve() == -1  # its value is its child inc(3)
    assert C.inc_parent(runs, 3).resolve() == 4  # the real child, not the double's value


def test_an_entry_that_is_not_what_was_written_is_a_miss_with_a_warning(
        cache: Path, tmp_path: Path) -> None:
    runs = str(tmp_path / "runs")
    Path(runs).mkdir()
    assert C.square(runs, 3).resolve() == 9
    assert C.square(runs, 4).resolve() == 16
    entries = sorted(cache.rglob("*.pickle"), key=lambda p: p.stat().st_mtime)
    entries[0].write_bytes(entries[1].read_bytes())  # a well-formed entry of another key
    with pytest.warns(CacheWarning, match="is not what tcg wrote for its key"):
        assert C.square(runs, 3).resolve() == 9


def test_cache_true_refuses_a_callable_whose_code_cannot_be_seen() -> None:
    with pytest.raises(TypeError, match=r"@node\(cache=True\) for 'methodcaller'.*wrap it"):
        node(operator.methodcaller("upper"), cache=True)
    node(abs, cache=True)  # a builtin: keyed by name and Python version


def test_a_child_that_cannot_be_found_again_by_name_is_warned_of_not_stored(
        cache: Path) -> None:
    @node
    def local_child(x: int) -> int:
        return x + 1

    @node(cache=True)
    def local_parent(x: int) -> int:
        return local_child(x)  # type: ignore[no-any-return]

    with pytest.warns(CacheWarning, match="cannot be found again by module and name"):
        assert local_parent(1).resolve() == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)
        assert not local_parent(1).node.cached


def test_two_keys_agree_across_resolves_on_every_executor(cache: Path, every_executor: Any,
                                                          tmp_path: Path) -> None:
    runs = str(tmp_path / "runs")
    Path(runs).mkdir()
    assert resolve(C.square(runs, 6), executor=every_executor) == (36,)
    hit = C.square(runs, 6)
    assert hit.resolve(executor=every_executor) == 36 and hit.node.cached
    assert C.runs_of(Path(runs), "square") == 1

"""@node / Node and Future: lazy calls, argument binding, misuse messages, pickling."""

from __future__ import annotations

import inspect
import pickle
from typing import Any

import pytest

from tcg_core import Future, Graph, Node, NodeFunction, node, resolve


@node
def add(a: int, b: int = 1) -> int:
    """Add two numbers."""
    return a + b


@Node()
def seed_style(x: int) -> int:
    return x * 2


@node(name="renamed", nout=2, cost=3.0, retries=1, timeout=5.0)
def split(x: int) -> tuple[int, int]:
    return x // 10, x % 10


calls: list[int] = []


@node
def counted(x: int) -> int:
    calls.append(x)
    return x


def test_calling_a_node_runs_nothing_and_returns_a_future() -> None:
    calls.clear()
    future = counted(1)
    assert isinstance(future, Future)
    assert calls == []
    assert future.state == "pending"
    assert future.resolve() == 1
    assert calls == [1]


def test_decorator_keeps_metadata_signature_and_the_plain_function() -> None:
    assert add.__name__ == "add"
    assert add.__doc__ == "Add two numbers."
    assert add.__wrapped__ is add.func
    assert inspect.signature(add) == inspect.signature(add.func)
    assert list(inspect.signature(add).parameters) == ["a", "b"]
    assert add.func(1, 2) == 3
    assert isinstance(seed_style, NodeFunction)
    assert seed_style(4).resolve() == 8


def test_module_level_nodes_pickle_by_reference() -> None:
    assert pickle.loads(pickle.dumps(add)) is add


def test_options_are_kept() -> None:
    assert (split.name, split.nout, split.cost, split.retries, split.timeout) == (
        "renamed", 2, 3.0, 1, 5.0)


@pytest.mark.parametrize("call", [lambda: add(), lambda: add(1, 2, 3), lambda: add(1, c=2)])
def test_a_wrong_call_fails_at_the_call_site(call: object) -> None:
    with pytest.raises(TypeError, match=r"add\(\)"):
        call()  # type: ignore[operator]


def test_keyword_only_positional_only_and_varargs_bind() -> None:
    @node
    def f(a: int, /, b: int, *rest: int, c: int = 0, **extra: int) -> int:
        return a + b + sum(rest) + c + sum(extra.values())

    assert f(1, 2, 3, 4, c=5, d=6).resolve(executor="serial") == 21
    with pytest.raises(TypeError):
        f(a=1, b=2)


def _with_default(a: int, b: int = 1) -> int:
    return a + b


def _star(a: int, *rest: int) -> int:
    return a + sum(rest)


def _required_keyword(a: int, *, k: int) -> int:
    return a + k


@pytest.mark.parametrize(("func", "args", "valid"), [
    (_with_default, (1,), True), (_with_default, (1, 2), True),
    (_with_default, (), False), (_with_default, (1, 2, 3), False),
    (_star, (1,), True), (_star, (1, 2, 3, 4), True), (_star, (), False),
    (_required_keyword, (1,), False),
])
def test_positional_calls_are_checked_by_arity(func: Any, args: tuple[int, ...],
                                               valid: bool) -> None:
    # Positional calls skip the binder when their count alone proves them valid;
    # every other count still fails at the call site, futures or not.
    lazy = node(func)
    source = add(0)  # resolves to 1
    for call_args in (args, (source, *args[1:]) if args else ()):
        if valid:
            plain = [1 if a is source else a for a in call_args]
            assert lazy(*call_args).resolve(executor="serial") == func(*plain)
        else:
            with pytest.raises(TypeError, match=func.__name__):
                lazy(*call_args)


def test_futures_nested_in_containers_are_dependencies() -> None:
    @node
    def total(items: list[int], mapping: dict[str, int], pair: tuple[int, int],
              bag: frozenset[int]) -> int:
        return sum(items) + sum(mapping.values()) + sum(pair) + sum(bag)

    one = add(0)
    future = total([one, add(1)], {"k": add(2)}, (add(3), 0), frozenset({add(4)}))
    assert [r.name for r in future.node.inputs] == ["add"] * 5
    assert future.node.input_names == ("items", "items", "mapping", "pair", "bag")
    assert future.resolve() == 1 + 2 + 3 + 4 + 5


def test_nout_unpacks_and_getitem_is_lazy() -> None:
    tens, units = split(42)
    assert (tens.resolve(), units.resolve()) == (4, 2)
    pair = add(1)
    assert add(pair, 0).resolve() == 2

    @node
    def make() -> dict[str, int]:
        return {"x": 1}

    assert make()["x"].resolve() == 1


def test_nout_mismatch_is_a_clear_error() -> None:
    @node(nout=3)
    def two() -> tuple[int, int]:
        return 1, 2

    a, _, _ = two()
    with pytest.raises(Exception, match=r"nout=3.*'two'"):
        a.resolve(executor="serial")


@pytest.mark.parametrize("misuse, words", [
    (lambda f: bool(f), "no truth value"),
    (lambda f: f + 1, "'\\+'"),
    (lambda f: 1 - f, "'-'"),
    (lambda f: len(f), "no length"),
    (lambda f: list(f), "cannot be iterated"),
    (lambda f: f < 3, "'<'"),
    (lambda f: int(f), "not a number"),
])
def test_using_a_future_as_a_value_explains_the_fix(misuse: object, words: str) -> None:
    future = add(1)
    with pytest.raises(TypeError, match=words) as info:
        misuse(future)  # type: ignore[operator]
    assert "resolve it first" in str(info.value)
    assert "'add'" in str(info.value)


def test_resolve_rejects_non_futures_with_the_fix() -> None:
    def plain(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="decorate it with @node"):
        resolve(plain)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Call it first: add\(\.\.\.\)"):
        resolve(add)  # type: ignore[arg-type]
    assert resolve(3) == (3,)  # a value holding no future comes back as it is


def test_resolving_again_returns_the_value_without_running_again() -> None:
    calls.clear()
    future = counted(7)
    assert future.resolve() == 7
    assert future.resolve(executor="serial") == 7
    assert resolve(future, counted(8)) == (7, 8)
    assert calls == [7, 8]


def test_each_call_is_its_own_node() -> None:
    with Graph() as g:
        add(1)
        add(1)
    assert len(g.nodes_named("add")) == 2
    assert len({r.id for r in g.nodes}) == 2


def test_bad_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="nout"):
        node(nout=0)(lambda: 1)
    with pytest.raises(ValueError, match="retries"):
        node(retries=-1)(lambda: 1)
    with pytest.raises(ValueError, match="timeout"):
        node(timeout=0)(lambda: 1)
    with pytest.raises(TypeError, match="already a @node"):
        node(add)
    with pytest.raises(TypeError, match="parentheses"):
        Node()(3)  # type: ignore[arg-type]


def test_methods_can_be_nodes() -> None:
    class Scaler:
        def __init__(self, k: int) -> None:
            self.k = k

        @node
        def scale(self, x: int) -> int:
            return self.k * x

    assert Scaler(3).scale(add(1)).resolve() == 6


def test_repr_names_the_node() -> None:
    future = add(1)
    assert repr(future).startswith("<Future add#")
    assert repr(add) == "<node add>"

"""What can be passed: futures inside namedtuples, dataclasses, ``collections`` types,
subclasses of the builtins, parameter defaults and registered containers are found and
replaced, in arguments and in what a body returns, on every executor."""

from __future__ import annotations

import io
import itertools
import sys
from collections import ChainMap, Counter, OrderedDict, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import pytest

import tcg_core
from tcg_core import node, register_container
from tests.core import _values_for_processes as V

EXECUTORS = ["serial", "threads", "processes"]


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_a_namedtuple_round_trip(executor: str) -> None:
    result = V.identity(V.Pair(V.value(42), 1)).resolve(executor=executor)
    assert result == V.Pair(42, 1) and type(result) is V.Pair
    point = V.identity(V.Point(x=V.value(1), y=[V.value(2)])).resolve(executor=executor)
    assert point == V.Point(1, [2]) and type(point) is V.Point


def test_dataclasses_frozen_or_not_are_rebuilt_as_their_class(executor: str) -> None:
    frozen = V.identity(V.Frozen(V.value(1), b=V.value(2), note="n")).resolve(
        executor=executor)
    assert (type(frozen), frozen.a, frozen.b, frozen.note) == (V.Frozen, 1, 2, "n")
    mutable = V.identity(V.Mutable([V.value(3)], total=V.value(4))).resolve(executor=executor)
    assert (type(mutable), mutable.items, mutable.total) == (V.Mutable, [3], 4)


def test_collections_types_keep_their_class_and_settings(executor: str) -> None:
    counts: defaultdict[str, Any] = defaultdict(list, k=V.value(1))
    got = V.identity([counts, OrderedDict(b=V.value(2), a=1), Counter(c=V.value(3)),
                      deque([V.value(4)], maxlen=2), ChainMap({"m": V.value(5)}, {"n": 6})]
                     ).resolve(executor=executor)
    default, ordered, counter, dq, chain = got
    assert type(default) is defaultdict and default.default_factory is list
    assert default == {"k": 1}
    assert type(ordered) is OrderedDict and list(ordered.items()) == [("b", 2), ("a", 1)]
    assert type(counter) is Counter and counter == Counter(c=3)
    assert type(dq) is deque and list(dq) == [4] and dq.maxlen == 2
    assert type(chain) is ChainMap and chain.maps == [{"m": 5}, {"n": 6}]


def test_subclasses_of_list_tuple_and_dict_are_rebuilt_as_themselves(executor: str) -> None:
    row, tagged, settings = V.identity((V.Row([V.value(1)]), V.Tagged("t", V.value(2)),
                                        V.Settings(s=V.value(3)))).resolve(executor=executor)
    assert type(row) is V.Row and row == [1]
    assert type(tagged) is V.Tagged and tuple(tagged) == (2,) and tagged.tag == "t"
    assert type(settings) is V.Settings and settings == {"s": 3}


def test_the_body_never_receives_a_future() -> None:
    seen = V.describe(V.Frozen(V.value(1))).resolve(executor="serial")
    assert "Future" not in seen, seen


def test_a_dataclass_returned_by_a_parent(executor: str) -> None:
    result = V.returns_dataclass(1).resolve(executor=executor)
    assert (type(result), result.a, result.b) == (V.Frozen, 1, 2)


def test_every_container_kind_returned_by_a_parent(executor: str) -> None:
    got = V.returns_containers(7).resolve(executor=executor)
    assert got["pair"] == V.Pair(7, 1) and type(got["pair"]) is V.Pair
    assert list(got["deque"]) == [7] and got["deque"].maxlen == 4
    assert got["ordered"] == OrderedDict(x=7) and got["counter"] == Counter(z=7)
    assert got["default"] == {"k": 7} and got["default"].default_factory is list
    assert got["chain"].maps == [{"m": 7}, {"n": 2}]
    assert (got["mutable"].items, got["mutable"].total) == ([7], 7)
    assert got["row"] == [7] and type(got["row"]) is V.Row
    assert tuple(got["tagged"]) == (7,) and got["tagged"].tag == "t"
    assert got["settings"] == {"s": 7} and type(got["settings"]) is V.Settings


def test_a_future_as_a_parameter_default_is_an_input(executor: str) -> None:
    assert V.with_default().resolve(executor=executor) == (100, 100)
    assert V.with_default(1, y=2).resolve(executor=executor) == (1, 2)
    assert V.with_default(V.value(5)).resolve(executor=executor) == (5, 100)
    call = V.with_default()
    assert [r.name for r in call.node.inputs] == ["value", "value"]
    assert call.node.input_names == ("x", "y")


def test_a_container_without_futures_is_passed_as_the_same_object() -> None:
    for box in ([1], {"k": [2]}, V.Mutable([1])):

        @node
        def same(x: Any, y: Any, box: Any = box) -> bool:
            return x is box

        assert same(box, V.value(1)).resolve(executor="serial") is True, box


def test_a_generator_argument_is_refused_naming_the_node_and_argument() -> None:
    with pytest.raises(TypeError, match=r"identity\(\): argument 'x' is a generator.*list\("):
        V.identity(V.value(i) for i in range(2))
    with pytest.raises(TypeError, match=r"identity\(\): argument 'x' is a generator"):
        V.identity(x={"nested": (i for i in range(2))})


class Opaque:
    def __init__(self, inner: Any) -> None:
        self.inner = inner


def test_an_unknown_object_is_passed_as_it_is_unless_it_holds_a_future() -> None:
    box = Opaque([1])
    assert V.identity(box).resolve(executor="serial") is box
    assert V.identity([box, V.value(1)]).resolve(executor="serial")[0] is box
    with pytest.raises(TypeError, match=r"identity\(\): argument 'x' is an instance of Opaque "
                                        r"holding a future in its attribute 'inner'.*dataclass.*"
                                        r"register_container\(Opaque, flatten, unflatten\)"):
        V.identity(Opaque(V.value(1)))


class Box:
    def __init__(self, content: Any, colour: str) -> None:
        self.content, self.colour = content, colour


def test_a_registered_container_is_traversed_in_arguments_and_returns(executor: str) -> None:
    register_container(Box, lambda b: ([b.content], b.colour),
                       lambda colour, children: Box(children[0], colour))

    @node
    def make_box() -> Box:
        return Box(V.value(2), "red")

    got = V.identity(Box([V.value(1)], "blue")).resolve(executor="threads")
    assert (got.content, got.colour) == ([1], "blue")
    returned = make_box().resolve(executor="serial")
    assert (returned.content, returned.colour) == (2, "red")


@pytest.mark.parametrize("args, message", [
    ((1, len, len), "register_container\\(\\): cls must be a class, not int 1"),
    ((Box, 1, len), "register_container\\(\\): flatten must be callable, not int 1"),
    ((Box, len, "x"), "register_container\\(\\): unflatten must be callable, not str 'x'"),
    ((list, len, len), "cls=list is built in"),
])
def test_register_container_checks_its_arguments(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        register_container(*args)


@pytest.mark.timeout(120)
def test_containers_in_and_out_on_dask(dask_client: Any) -> None:
    pair = V.identity(V.Pair(V.value(42), 1)).resolve(executor=dask_client)
    assert pair == V.Pair(42, 1) and type(pair) is V.Pair
    returned = V.returns_dataclass(1).resolve(executor=dask_client)
    assert (type(returned), returned.a, returned.b) == (V.Frozen, 1, 2)
    assert V.with_default().resolve(executor=dask_client) == (100, 100)
    got = V.returns_containers(3).resolve(executor=dask_client)
    assert got["default"].default_factory is list and got["tagged"].tag == "t"
    f1, f2 = V.value(1), V.value(2)
    assert tcg_core.resolve({"a": f1, "b": [f2, 3]}, V.Frozen(f1), executor=dask_client) == (
        {"a": 1, "b": [2, 3]}, V.Frozen(1))




def test_a_class_per_object_does_not_grow_the_kind_cache_without_bound() -> None:
    from unittest import mock

    from tcg_core import _values

    for _ in range(_values._CACHE_LIMIT + 50):  # each Mock has a class of its own
        V.identity(mock.Mock())
    assert len(_values._kinds) <= _values._CACHE_LIMIT + 1
    assert V.identity(V.Pair(V.value(1), 2)).resolve(executor="serial") == V.Pair(1, 2)


@dataclass(frozen=True, slots=True)
class Slotted:
    a: Any
    b: Any = 0


@dataclass
class Derived:
    a: Any
    doubled: Any = field(init=False)

    def __post_init__(self) -> None:
        self.doubled = "set by __post_init__"


@pytest.mark.parametrize("executor", ["serial", "threads"])
def test_slotted_dataclasses_and_init_false_fields(executor: str) -> None:
    slotted = V.identity(Slotted(V.value(1), b=V.value(2))).resolve(executor=executor)
    assert (type(slotted), slotted.a, slotted.b) == (Slotted, 1, 2)
    derived = V.identity(Derived(V.value(3))).resolve(executor=executor)
    assert (derived.a, derived.doubled) == (3, "set by __post_init__")


# -- iterators (issue 20: their futures reached the body unresolved) ----------------------

ITERATORS_OF_FUTURES = {
    "iter": lambda a, b: iter([a, b]),
    "map": lambda a, b: map(abs, [a, b]),
    "zip": lambda a, b: zip([a], [b], strict=True),
    "enumerate": lambda a, b: enumerate([a, b]),
    "reversed": lambda a, b: reversed([a, b]),
}
if sys.version_info < (3, 12):  # itertools' __reduce__ is deprecated from 3.12 (see _values)
    ITERATORS_OF_FUTURES["chain"] = lambda a, b: itertools.chain([1], [a, b])


@pytest.mark.parametrize("make", ITERATORS_OF_FUTURES.values(), ids=ITERATORS_OF_FUTURES)
def test_an_iterator_over_futures_is_refused_at_the_call_naming_the_argument(make: Any) -> None:
    @node
    def consume(items: Any) -> list[Any]:
        return list(items)

    with pytest.raises(TypeError) as info:
        consume(make(node(abs)(-1), node(abs)(-2)))
    message = str(info.value)
    assert message.startswith("consume(): argument 'items' is an iterator (")
    assert "pass list(...) of it instead" in message


@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_an_iterator_of_plain_values_and_a_file_still_pass(executor: str) -> None:
    @node
    def consume(items: Any) -> list[Any]:
        return list(items)

    assert consume(iter([1, 2])).resolve(executor="serial") == [1, 2]
    assert consume(zip([1], ["a"], strict=True)).resolve(executor=executor) == [(1, "a")]
    assert consume(io.StringIO("a\nb\n")).resolve(executor="threads") == ["a\n", "b\n"]


@pytest.mark.parametrize("executor", ["serial", "threads", "processes", "shuffled"])
def test_a_dataclass_with_an_unset_init_false_field_is_passed_with_it_unset(
        executor: str) -> None:
    """It failed with a raw AttributeError from tcg's own code (issue 20)."""
    chosen: Any = tcg_core.ShuffledExecutor(seed=2) if executor == "shuffled" else executor
    assert V.job_state(V.Job("plain")).resolve(executor=chosen) == ("plain", False)
    assert V.job_state(V.Job(V.value(7))).resolve(executor=chosen) == (7, False)
    filled = V.Job(V.value(8))
    filled.cache = {"k": V.value(9)}
    assert V.identity(filled).resolve(executor=chosen).cache == {"k": 9}

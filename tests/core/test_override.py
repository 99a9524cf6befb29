"""``tcg_core.override``: test doubles replace node bodies on every executor (the
replacement travels with the task to worker processes), the graph keeps the node marked
replaced, calls are recorded as ``unittest.mock.call`` objects, and a replacement that
cannot accept the call is refused with an error naming the node."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from unittest.mock import Mock, call

import pytest

from tcg_core import (
    Graph,
    NodeError,
    ReplacementError,
    load_json,
    override,
    resolve,
    to_dot,
    to_json,
    to_mermaid,
)
from tests.core import _nodes_for_overrides as O

pytestmark = pytest.mark.timeout(120)

EXECUTORS = ["serial", "threads", "processes"]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_callable_an_exception_and_a_value_replace_nested_nodes(executor: str) -> None:
    double = 0.5
    with override({O.fetch: lambda url: f"{url},x", "score": double}) as o:
        assert resolve(O.etl(["a", "b"]), executor=executor) == ([0.5, 0.5],)
    assert sorted(o.calls(O.fetch)) == [call("a"), call("b")]
    assert sorted(map(repr, o.calls("score"))) == ["call(['a', 'x'])", "call(['b', 'x'])"]
    with override({O.parse: ValueError("bad row"), O.fetch: O.fake_fetch}), \
            pytest.raises(NodeError, match=r"etl › parse.*ValueError: bad row"):
        resolve(O.etl(["a"]), executor=executor)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_the_real_body_runs_again_after_the_block(executor: str) -> None:
    with override({O.fetch: O.fake_fetch}):
        assert resolve(O.parse(O.fetch("u")), executor=executor) == (["u", "row"],)
    with pytest.raises(NodeError, match="the real fetch ran"):
        resolve(O.fetch("u"), executor=executor)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_replacement_that_cannot_take_the_call_is_refused_naming_the_node(
        executor: str) -> None:
    with override({O.fragile: lambda a, b: 1}) as o, \
            pytest.raises(NodeError) as info:
        resolve(O.fragile(1), executor=executor)
    message = str(info.value)
    assert "node 'fragile'" in message and "cannot accept the call fragile(1)" in message
    assert isinstance(info.value.__cause__, ReplacementError)
    assert info.value.node.attempts == 1  # retrying cannot mend a signature
    assert o.calls(O.fragile) == []


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_mock_is_a_replacement_and_calls_are_seen_where_it_ran(executor: str) -> None:
    fake = Mock(return_value="m,n")
    with override({O.fetch: fake}) as o:
        assert resolve(O.parse(O.fetch("u")), executor=executor) == (["m", "n"],)
    assert o.calls(O.fetch) == [call("u")]
    fake.assert_called_once_with("u")  # the double runs here on every executor


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_a_nested_resolve_inside_a_body_sees_the_override(executor: str) -> None:
    with override({O.fetch: O.fake_fetch}):
        if executor == "processes":
            # The double lives here, not in the worker: refused, never the real body
            # (tests/core/test_override_parity.py covers every executor).
            with pytest.raises(NodeError, match="replaced by a test double"):
                resolve(O.resolves_inside("u"), executor=executor)
        else:
            assert resolve(O.resolves_inside("u"), executor=executor) == ("u,row",)


def test_the_graph_json_and_diagrams_mark_the_replaced_nodes() -> None:
    with Graph() as graph, override({"fetch": O.fake_fetch}):
        resolve(O.parse(O.fetch("u")))
    marked = {rec.name: rec.replaced for rec in graph.nodes}
    assert marked == {"fetch": True, "parse": False}
    doc = json.loads(to_json(graph))
    assert {n["name"]: n["replaced"] for n in doc["nodes"]} == marked
    assert {r.name: r.replaced for r in load_json(to_json(graph)).nodes} == marked
    dot = to_dot(graph)
    fetch_line = next(line for line in dot.splitlines() if 'label="fetch' in line)
    assert "(replaced)" in fetch_line and "dotted" in fetch_line
    assert "(replaced)" not in next(line for line in dot.splitlines() if 'label="parse' in line)
    mermaid = to_mermaid(graph)
    assert 'n1["fetch' in mermaid and "(replaced)" in mermaid
    assert "class n1 replaced" in mermaid and "classDef replaced" in mermaid
    assert "replaced" not in to_mermaid(O.parse("a,b").graph)


def test_the_innermost_override_wins_and_leaving_it_restores_the_outer() -> None:
    with override({O.fetch: "outer,1"}) as outer:
        with override({"fetch": "inner,2"}) as inner:
            assert O.parse(O.fetch("u")).resolve() == ["inner", "2"]
        assert O.parse(O.fetch("u")).resolve() == ["outer", "1"]
    assert inner.calls("fetch") == [call("u")] and outer.calls(O.fetch) == [call("u")]


def test_calls_takes_the_node_or_its_name_and_unused_lists_the_ones_never_called() -> None:
    with override({O.fetch: O.fake_fetch, "score": 1.0}) as o:
        O.fetch("u").resolve()
    assert o.calls("fetch") == o.calls(O.fetch) == [call("u")]
    assert o.calls(O.score) == []
    assert o.unused() == ["score"]
    with pytest.raises(KeyError, match=r"'parse' is not one of the replaced nodes \('fetch', "
                                       r"'score'\)"):
        o.calls("parse")


@pytest.mark.parametrize(("replacements", "message"), [
    ([(O.fetch, 1)], r"override\(\): replacements must be a mapping .* got list"),
    ({3: 1}, r"override\(\): a key must be a @node function or a node's name .* got int 3"),
    ({"": 1}, r"a key must be .* got str ''"),
    ({O.fake_fetch: 1}, r"a key must be a @node function .* got function"),
])
def test_wrong_replacements_are_refused_naming_the_call(replacements: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        override(replacements)


def test_an_override_is_entered_once() -> None:
    o = override({O.fetch: "x"})
    with o, pytest.raises(RuntimeError, match="already active"), o:
        pass


def test_a_replacement_that_cannot_pickle_runs_on_processes() -> None:
    import threading

    lock = threading.Lock()  # neither pickle nor cloudpickle can send a lock
    # 0.2 refused it ("cannot be sent to a worker process"): a double now runs in the
    # test's process on every executor, so it never travels.
    with override({O.fetch: lambda url, _lock=lock: url}):
        assert resolve(O.parse(O.fetch("u")), executor="processes") == (["u"],)


# -- Dask --------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["thread-workers", "process-workers"])
def client(request: pytest.FixtureRequest) -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    processes = request.param == "process-workers"
    options: dict[str, Any] = dict(n_workers=1, threads_per_worker=2, processes=processes,
                                   dashboard_address="127.0.0.1:0", host="127.0.0.1",
                                   silence_logs=logging.CRITICAL)
    if not processes:
        options["protocol"] = "tcp"
    cluster = distributed.LocalCluster(**options)
    with distributed.Client(cluster, set_as_default=False) as dask_client:
        yield dask_client
    cluster.close()


def test_replacements_travel_to_dask_workers(client: Any) -> None:
    with Graph() as graph, override({O.fetch: lambda url: f"{url},d", O.score: 2.0}) as o:
        assert resolve(O.etl(["a", "b"]), executor=client) == ([2.0, 2.0],)
    assert sorted(o.calls(O.fetch)) == [call("a"), call("b")]
    assert sorted(rec.name for rec in graph.nodes if rec.replaced) == [
        "fetch", "fetch", "score", "score"]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_overrides_and_check_mutation_work_together(executor: str) -> None:
    with override({O.fetch: O.fake_fetch}) as o:
        assert resolve(O.parse(O.fetch("u")), executor=executor,
                       check_mutation=True) == (["u", "row"],)
    assert o.calls(O.fetch) == [call("u")]


@pytest.mark.parametrize("jitter", [0.0, 0.001], ids=["serial-order", "jittered-threads"])
def test_overrides_apply_under_a_shuffled_executor(jitter: float) -> None:
    from tcg_core import ShuffledExecutor

    with override({"fetch": O.fake_fetch, O.score: 1.0}) as o:
        assert resolve(O.etl(["a", "b", "c"]), executor=ShuffledExecutor(3, jitter)) == (
            [1.0, 1.0, 1.0],)
    assert sorted(o.calls(O.fetch)) == [call("a"), call("b"), call("c")]


@pytest.mark.parametrize("raised", [ValueError, KeyError, ValueError("an instance")])
def test_an_exception_class_is_raised_as_an_instance_is_not_returned(
        every_executor: Any, raised: Any) -> None:
    """``Mock(side_effect=ValueError)`` raises; so does ``override({node: ValueError})``
    (it returned the exception as the node's value, since a class is callable)."""
    kind = raised if isinstance(raised, type) else type(raised)
    with override({O.parse: raised, O.fetch: O.fake_fetch}) as o, \
            pytest.raises(NodeError) as info:
        resolve(O.etl(["a"]), executor=every_executor)
    assert type(info.value.__cause__) is kind
    assert "etl › parse" in str(info.value) and kind.__name__ in str(info.value)
    assert len(o.calls(O.parse)) == 1  # called once, on every executor

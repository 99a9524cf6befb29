"""The Callback API: every event once, on the resolve's own thread, on every executor;
callbacks that raise never break a resolve; ``with cb:``; logging and ``verbose=True``."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from typing import Any

import pytest

from tcg_core import Callback, CallbackWarning, NodeError, NodeFailures, node, resolve
from tests.core import _nodes_for_cache as C
from tests.core import _nodes_for_processes as P

pytestmark = pytest.mark.timeout(120)

EXECUTORS = ["serial", "threads", "processes"]


class Recorder(Callback):
    """Every event, with the thread it came from."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.threads: set[int] = set()

    def _note(self, event: str, record: Any) -> None:
        self.events.append((event, record.name))
        self.threads.add(threading.get_ident())

    def on_add(self, record: Any) -> None:
        self._note("add", record)

    def on_start(self, record: Any) -> None:
        self._note("start", record)

    def on_finish(self, record: Any) -> None:
        self._note("finish", record)

    def on_fail(self, record: Any, error: BaseException) -> None:
        self._note("fail", record)

    def on_skip(self, record: Any) -> None:
        self._note("skip", record)

    def on_retry(self, record: Any, error: BaseException) -> None:
        self._note("retry", record)

    def count(self, event: str, name: str | None = None) -> int:
        return sum(1 for e, n in self.events if e == event and (name is None or n == name))


@pytest.mark.parametrize("executor", EXECUTORS)
def test_every_node_is_added_started_and_finished_once_on_the_loop_thread(
        executor: str) -> None:
    rec = Recorder()
    total = C.inc(C.inc(1))
    assert resolve(total, C.fan(3), executor=executor, callbacks=[rec]) == (3, [1, 2, 3])
    # inc, inc, fan, and fan's three children (added while fan ran)
    assert rec.count("add") == 6
    assert rec.count("start") == rec.count("finish") == 6
    assert rec.count("add", "inc") == 5
    assert rec.threads == {threading.get_ident()}
    # a node starts before it finishes, and is known before it starts
    for name in ("fan",):
        order = [e for e, n in rec.events if n == name]
        assert order == ["add", "start", "finish"]


def test_failures_skips_and_retries_are_reported() -> None:
    calls = {"n": 0}

    @node(retries=1)
    def flaky() -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("once")
        return 1

    @node
    def boom() -> int:
        raise ValueError("no")

    @node
    def after(x: int) -> int:
        return x

    rec = Recorder()
    with pytest.raises(NodeFailures):
        resolve(flaky(), after(boom()), executor="serial", keep_going=True, callbacks=[rec])
    assert rec.count("retry", "flaky") == 1
    assert rec.count("start", "flaky") == 2  # once per attempt
    assert rec.count("finish", "flaky") == 1
    assert rec.count("fail", "boom") == 1
    assert rec.count("skip", "after") == 1


@pytest.mark.parametrize("executor", ["serial", "threads"])
def test_a_callback_that_raises_is_warned_of_once_and_the_resolve_goes_on(
        executor: str) -> None:
    class Broken(Callback):
        def on_finish(self, record: Any) -> None:
            raise RuntimeError("callback bug")

    rec = Recorder()
    with pytest.warns(CallbackWarning, match=r"Broken\.on_finish raised RuntimeError") as seen:
        assert C.inc(C.inc(C.inc(0))).resolve(executor, callbacks=[Broken(), rec]) == 3
    assert len([w for w in seen if issubclass(w.category, CallbackWarning)]) == 1
    assert rec.count("finish") == 3  # the other callback lost no node


def test_with_block_applies_to_every_resolve_inside_it_and_only_there() -> None:
    rec = Recorder()
    with rec:
        C.inc(1).resolve("serial")
        C.inc(2).resolve("threads")
    C.inc(3).resolve("serial")
    assert rec.count("finish") == 2


def test_a_callback_given_twice_is_called_once_per_event() -> None:
    rec = Recorder()
    with rec:
        C.inc(1).resolve("serial", callbacks=[rec])
    assert rec.count("finish") == 1


@pytest.mark.parametrize("bad", [[1], "cb", 3, [Callback, None]])
def test_callbacks_are_checked_where_they_are_given(bad: Any) -> None:
    with pytest.raises(TypeError, match=r"resolve\(\): callbacks must be a list of "
                                        r"tcg_core\.Callback instances"):
        resolve(C.inc(1), callbacks=bad)


def test_the_tcg_core_logger_logs_each_node_with_its_path_and_duration(
        caplog: pytest.LogCaptureFixture) -> None:
    @node
    def outer() -> Any:
        return C.inc(1)

    with caplog.at_level(logging.DEBUG, logger="tcg_core"):
        assert outer().resolve("serial") == 2
    messages = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "tcg_core"]
    assert (logging.DEBUG, "start outer") in messages
    assert any(level == logging.INFO and text.startswith("done outer › inc in ")
               for level, text in messages), messages


def test_failures_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    @node
    def boom() -> int:
        raise ValueError("no")

    with caplog.at_level(logging.INFO, logger="tcg_core"), pytest.raises(NodeError):
        boom().resolve("serial")
    assert any("failed boom" in r.getMessage() and "ValueError: no" in r.getMessage()
               for r in caplog.records)


def test_verbose_nodes_print_a_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    @node(verbose=True)
    def loud(x: int) -> int:
        return x

    @node
    def quiet(x: int) -> int:
        return x

    assert loud(quiet(1)).resolve("serial") == 1
    out = capsys.readouterr().out
    assert "[tcg] loud: start" in out and "[tcg] loud: done in " in out
    assert "quiet" not in out


def test_node_options_of_this_feature_are_checked() -> None:
    with pytest.raises(TypeError, match=r"node\(\): verbose must be True or False, got int 1"):
        node(verbose=1)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"node\(\): pure must be True or False"):
        node(pure="yes")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"node\(\): cache must be True or False"):
        node(cache=1)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"node\(\): cache_key must be a hashable value"):
        node(cache_key=[1])
    with pytest.raises(TypeError, match=r"resolve\(\): progress must be True or False"):
        resolve(C.inc(1), progress=1)  # type: ignore[typeddict-item]


def test_a_plain_resolve_runs_the_unobserved_loop() -> None:
    """Free when unused: without callbacks, cache or verbose nodes, no hook is in the way
    (checked in a fresh interpreter: this session defines cached nodes)."""
    code = (
        "from tcg_core import node\n"
        "from tcg_core._scheduler import _observed\n"
        "made = []\n"
        "orig = _observed.ObservedRun.__post_init__\n"
        "_observed.ObservedRun.__post_init__ = lambda self: (made.append(1), orig(self))\n"
        "@node\n"
        "def inc(x):\n"
        "    return x + 1\n"
        "assert inc(inc(1)).resolve('serial') == 3\n"
        "assert not made, made\n"
        "from tcg_core import Callback\n"
        "assert inc(1).resolve('serial', callbacks=[Callback()]) == 2\n"
        "assert made\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_resolves_nested_in_worker_threads_call_a_with_callback_one_at_a_time() -> None:
    """Bodies on several workers resolve inner graphs (each on its own worker thread):
    a ``with cb:`` callback sees all of them, never two calls at once."""
    import time

    class Exclusive(Callback):
        def __init__(self) -> None:
            self.inside = 0
            self.overlaps = 0
            self.threads: set[int] = set()
            self.finished = 0

        def on_finish(self, record: Any) -> None:
            self.inside += 1
            if self.inside > 1:
                self.overlaps += 1
            self.threads.add(threading.get_ident())
            time.sleep(0.001)  # widens the window a concurrent call would fall into
            self.finished += 1
            self.inside -= 1

    @node
    def inner_resolve(i: int) -> int:
        return int(C.inc(C.inc(i)).resolve("serial"))

    watch = Exclusive()
    with watch:
        assert resolve(*[inner_resolve(i) for i in range(6)], executor="threads",
                       max_workers=3, inline_tiny=False) == tuple(range(2, 8))
    assert watch.finished == 6 + 12
    assert len(watch.threads) > 1  # nested resolves called it from their workers
    assert watch.overlaps == 0


@pytest.mark.parametrize("executor", ["serial", "threads"])
def test_callbacks_and_check_mutation_work_together(executor: str) -> None:
    rec = Recorder()
    assert C.inc(C.inc(1)).resolve(executor, callbacks=[rec], check_mutation=True) == 3
    assert rec.count("start") == rec.count("finish") == 2


class Bracketed(Recorder):
    def on_resolve_end(self) -> None:
        self.events.append(("resolve_end", ""))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["threads", "processes", "dask"])
def test_no_callback_after_on_resolve_end_when_fail_fast_left_a_body_running(
        kind: str, tmp_path: Any, request: pytest.FixtureRequest) -> None:
    # Serial and a shuffled order run one body at a time: at a failure nothing is in
    # flight, so nothing can end after the resolve (the bracket test above covers them).
    executor = request.getfixturevalue("dask_client") if kind == "dask" else kind
    log = str(tmp_path)
    recorder = Bracketed()
    nap = P.gated_nap(log, "nap")
    boom = P.urgent_boom(log, "first")
    try:
        with pytest.raises(NodeError, match="first broke"):
            resolve(nap, boom, executor=executor, max_workers=2, inline_tiny=False,
                    callbacks=[recorder])
    finally:
        P.open_gate(log)
    assert P.settled([nap.node], 60.0)
    for late in [t for t in threading.enumerate() if t.name == "tcg-late-outcomes"]:
        late.join(60.0)  # the nap's late outcome has been dispatched
    assert recorder.events[-1] == ("resolve_end", ""), recorder.events

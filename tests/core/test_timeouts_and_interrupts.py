"""``timeout=`` and Ctrl-C: resolve gives control back in bounded time with every executor,
nothing new starts afterwards, and the executor is left usable or cleanly shut down.

What happens to the body that would not stop (observed, asserted below):

* ``"threads"`` (tcg's own pool): the body keeps running in its daemon thread until it
  returns; the pool adds a thread to make up for it. Daemon threads never block exit.
* ``"processes"`` (tcg's own pool): the pool's worker processes are terminated when
  resolve gives up, so the stuck body dies with them.
* the user's ``ThreadPoolExecutor`` / ``ProcessPoolExecutor``: tcg never shuts it down or
  kills its workers; the stuck body keeps its worker until it returns.
* ``"serial"``: a node with ``timeout=`` runs on a daemon watchdog thread (nothing else
  runs meanwhile), so the deadline holds; like ``"threads"``, a stuck body is left to
  finish there.
* Dask: the task keeps its Dask worker until it returns (see ``test_dask.py``).

After Ctrl-C or a fail-fast stop, a body still running in a thread keeps its node
``running`` until it returns; its outcome is then recorded (nothing is run twice, and a
later resolve that needs the node waits for that outcome).
"""

from __future__ import annotations

import _thread
import concurrent.futures as cf
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tcg_core import Graph, NodeError, NodeFailures, NodeTimeoutError, TcgError, node
from tests.core import _nodes_for_processes as P

TIMEOUT = 1.0  # the timeout= of the hanging nodes below (and of P.hang)

pytestmark = pytest.mark.timeout(60)


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown, so a thread stuck in a body below stops soon after the test."""
    event = threading.Event()
    yield event
    event.set()


@node(timeout=TIMEOUT)
def hang_until(event: threading.Event, cap: float = 4.0) -> str:
    """Never returns within its timeout: waits for ``event`` (at most ``cap`` seconds)."""
    event.wait(cap)
    return "released"


def _forkserver_pool(workers: int) -> cf.ProcessPoolExecutor:
    return cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"))


def _kill_pool(pool: cf.Executor) -> None:
    pool.shutdown(wait=False, cancel_futures=True)
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()


@pytest.fixture
def make_executor() -> Iterator[Callable[[str, int], Any]]:
    """``make(kind, workers)``: the value to pass as ``executor=``; user pools are closed
    (and their stuck processes killed) at teardown."""
    pools: list[cf.Executor] = []

    def make(kind: str, workers: int) -> Any:
        if kind == "user-threads":
            pools.append(cf.ThreadPoolExecutor(workers))
            return pools[-1]
        if kind == "user-processes":
            pools.append(_forkserver_pool(workers))
            return pools[-1]
        return kind

    yield make
    for pool in pools:
        _kill_pool(pool)


def _hanging_future(kind: str, log_dir: str) -> Any:
    """A node (timeout=1 s) whose body ends only once the test opens the gate of ``log_dir``."""
    return P.gated_hang(log_dir)


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[str]:
    """A log directory whose gate opens at teardown: gated bodies never outlive the test."""
    log = str(tmp_path)
    yield log
    P.open_gate(log)


# -- timeout= ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["serial", "threads", "processes", "user-threads",
                                  "user-processes"])
def test_a_node_that_never_returns_fails_within_its_timeout(
        kind: str, gate: str, make_executor: Any) -> None:
    """The body can end only once the test opens its gate: resolve() returning with the
    body still running is what "gave up at the timeout" looks like, without a clock."""
    executor = make_executor(kind, 2)
    future = _hanging_future(kind, gate)
    with pytest.raises(NodeError) as info:
        future.resolve(executor=executor)
    assert P.ended(gate) == [], "resolve waited for the body instead of its timeout"
    assert P.runs(gate) == {"hang": 1}
    name = future.name
    assert str(info.value).startswith(
        f"node '{name}' failed ({name}): NodeTimeoutError: node '{name}' ran longer than its "
        f"timeout={TIMEOUT}s")
    assert isinstance(info.value.__cause__, NodeTimeoutError)
    assert isinstance(info.value.__cause__, TimeoutError)
    assert future.state == "failed"


def test_on_timeout_tcgs_own_thread_is_a_daemon_left_to_finish(release: threading.Event) -> None:
    seen: dict[str, Any] = {}

    @node(timeout=TIMEOUT)
    def stuck_here() -> str:
        seen["thread"] = threading.current_thread()
        release.wait(4.0)
        seen["finished"] = True
        return "late"

    future = stuck_here()
    with pytest.raises(NodeError, match="timeout"):
        future.resolve(executor="threads")
    thread = seen["thread"]
    assert thread.daemon and thread.is_alive(), "the stuck body keeps its daemon thread"
    assert future.state == "failed"
    release.set()
    assert P.wait_until(lambda: seen.get("finished", False), 30.0), "the body ends on its own"
    time.sleep(0.1)
    assert future.state == "failed", "a late result does not undo the timeout"


def test_on_timeout_serial_leaves_the_stuck_body_on_a_daemon_thread(
        release: threading.Event) -> None:
    seen: dict[str, Any] = {}

    @node(timeout=TIMEOUT)
    def stuck_here() -> str:
        seen["thread"] = threading.current_thread()
        release.wait(4.0)
        seen["finished"] = True
        return "late"

    with pytest.raises(NodeError, match="timeout"):
        stuck_here().resolve(executor="serial")
    thread = seen["thread"]
    assert thread is not threading.main_thread() and thread.daemon and thread.is_alive()
    assert "finished" not in seen
    release.set()
    assert P.wait_until(lambda: seen.get("finished", False), 30.0), "the body ends on its own"


def test_on_timeout_tcgs_own_worker_processes_are_terminated() -> None:
    before = P.child_pids()
    future = P.hang(30.0)
    with pytest.raises(NodeError, match="timeout"):
        future.resolve(executor="processes", max_workers=1)
    # The forkserver itself is a long-lived child; the pool's workers must go away.
    assert P.wait_until(lambda: P.child_pids() <= before | _forkserver_pids(), 30.0), \
        P.child_pids() - before


def _forkserver_pids() -> set[int]:
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    return {pid} if pid else set()


def test_on_timeout_the_users_process_pool_is_neither_shut_down_nor_killed() -> None:
    pool = _forkserver_pool(2)
    try:
        with pytest.raises(NodeError, match="timeout"):
            P.hang(3.0).resolve(executor=pool)
        # still accepting work: its other worker answers now
        assert pool.submit(abs, -5).result(timeout=20) == 5
        assert len([p for p in pool._processes.values() if p.is_alive()]) >= 1
    finally:
        _kill_pool(pool)


def test_on_timeout_the_users_thread_pool_keeps_working(release: threading.Event) -> None:
    with cf.ThreadPoolExecutor(2) as pool:
        with pytest.raises(NodeError, match="timeout"):
            hang_until(release).resolve(executor=pool)
        assert pool.submit(abs, -5).result(timeout=30) == 5
        release.set()


@pytest.mark.parametrize("kind", ["threads", "processes", "user-threads", "user-processes"])
def test_keep_going_a_timeout_does_not_block_the_other_nodes(
        kind: str, gate: str, make_executor: Any) -> None:
    """One worker, stuck past its timeout: resolve must still end within the timeout plus a
    margin, with the independent node done (tcg's own pools can add or replace a worker)
    or reported (a user's pool whose only worker is stuck)."""
    executor = make_executor(kind, 1)
    with Graph() as g:
        stuck = _hanging_future(kind, gate)
        # Whichever of the two roots the single worker takes first, a node of this branch
        # is left waiting for the worker while the stuck body holds it.
        other = P.add(P.nap(20, 0.3), 22)
    with pytest.raises(NodeFailures) as info:
        g.resolve(executor=executor, max_workers=1 if kind in ("threads", "processes") else None,
                  keep_going=True, inline_tiny=False)
    assert P.ended(gate) == [], "resolve waited for the stuck body"
    assert stuck.state == "failed"
    assert "ran longer than its timeout" in str(info.value)
    if kind in ("threads", "processes"):
        assert other.resolve() == 42
    else:
        assert other.state in ("done", "failed")


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_after_a_timeout_the_same_executor_kind_works_again(kind: str, gate: str) -> None:
    with pytest.raises(NodeError):
        _hanging_future(kind, gate).resolve(executor=kind)
    assert P.add(P.add(1, 2), 3).resolve(executor=kind) == 6


def test_a_timeout_counts_as_a_failure_for_retries(tmp_path: Path) -> None:
    attempts: list[float] = []

    @node(timeout=0.3, retries=1)
    def slow_then_fast() -> str:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            time.sleep(2)
        return "second try"

    assert slow_then_fast().resolve(executor="threads") == "second try"
    assert len(attempts) == 2


# -- Ctrl-C ------------------------------------------------------------------------------------


class CtrlC:
    """Presses Ctrl-C once ``ready()`` is true (the main thread is then inside resolve)."""

    def __init__(self, ready: Callable[[], bool], how: str, delay: float = 0.2) -> None:
        self.ready, self.how, self.delay = ready, how, delay
        self.sent_at: float | None = None
        self.sent_ns = 0
        self._lock = threading.Lock()
        self._off = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="ctrl-c")
        self._main = threading.main_thread().ident

    def __enter__(self) -> CtrlC:
        self._thread.start()
        return self

    def _run(self) -> None:
        if not P.wait_until(self.ready, 20.0):
            return
        time.sleep(self.delay)
        with self._lock:
            if self._off:
                return
            self.sent_ns = time.perf_counter_ns()
            self.sent_at = time.monotonic()
            if self.how == "signal":
                signal.pthread_kill(self._main, signal.SIGINT)  # type: ignore[arg-type]
            else:
                _thread.interrupt_main()

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._off = True
        self._thread.join(5)


def _absorb_late_interrupt() -> None:
    """A Ctrl-C that arrives after resolve returned must not abort the pytest session."""
    try:
        time.sleep(0.05)
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C arrived after resolve() had already returned")


CTRL_C_KINDS = [("threads", "signal"), ("threads", "interrupt_main"),
                ("processes", "signal"), ("processes", "interrupt_main"),
                ("user-threads", "signal"), ("user-processes", "signal"),
                ("serial", "signal")]


@pytest.mark.parametrize(("kind", "how"), CTRL_C_KINDS, ids=[f"{k}-{h}" for k, h in CTRL_C_KINDS])
def test_ctrl_c_returns_at_once_and_starts_nothing_new(
        kind: str, how: str, sigint: None, gate: str, make_executor: Any) -> None:
    """"At once" as an order of events: the bodies in flight wait at a gate the test opens
    only after KeyboardInterrupt reached it, so none of them may have ended by then."""
    log = gate
    executor = make_executor(kind, 2)
    with Graph() as g:
        firsts = [P.gated_nap(log, f"long{i}") for i in range(4)]
        P.gated_nap(log, "after", *firsts)
    interrupted = False
    ended_at_interrupt: list[str] | None = None
    with CtrlC(lambda: bool(P.runs(log)), how) as ctrl_c:
        try:
            g.resolve(executor=executor, max_workers=2 if kind in ("threads", "processes")
                      else None, inline_tiny=False)
        except KeyboardInterrupt:
            interrupted = True
            ended_at_interrupt = P.ended(log)
            P.open_gate(log)
    _absorb_late_interrupt()
    assert ctrl_c.sent_at is not None and interrupted, \
        "resolve() ended before Ctrl-C, or swallowed it"
    assert ended_at_interrupt == [], \
        f"control came back only after bodies in flight ended: {ended_at_interrupt}"
    # Pending nodes are cancelled: nothing starts after Ctrl-C.
    time.sleep(0.5)
    late = [label for t, label in P.run_starts(log) if t > ctrl_c.sent_ns]
    assert not late, f"started after Ctrl-C: {late}"
    assert "after" not in P.runs(log)
    # A body still running in a thread may keep its node 'running' until it returns; then
    # its outcome is recorded (or it goes back to pending): never 'running' forever.
    assert P.settled(g.nodes), [r.state for r in g.nodes]
    ran = P.runs(log)
    assert all(n == 1 for n in ran.values()), ran
    assert all(ran.get(f"long{i}") == 1 for i, f in enumerate(firsts) if f.state == "done")


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_after_ctrl_c_tcgs_own_executor_is_shut_down_and_a_new_resolve_works(
        kind: str, sigint: None, tmp_path: Path) -> None:
    log = str(tmp_path)
    P.add(1, 1).resolve(executor=kind)  # start the forkserver before counting processes
    threads_before = set(threading.enumerate())
    children_before = P.child_pids()
    with Graph() as g:
        for i in range(3):
            P.logged_nap(log, f"long{i}", 1.5)
    with CtrlC(lambda: bool(P.runs(log)), "signal"):
        with pytest.raises(KeyboardInterrupt):
            g.resolve(executor=kind, max_workers=2, inline_tiny=False)
    _absorb_late_interrupt()
    assert P.add(P.add(1, 2), 3).resolve(executor=kind) == 6
    # Shut down cleanly: once the interrupted bodies are over, no thread or process is left.
    assert P.wait_until(lambda: P.child_pids() <= children_before, 30.0), \
        P.child_pids() - children_before
    assert P.wait_until(lambda: set(threading.enumerate()) <= threads_before, 30.0), \
        set(threading.enumerate()) - threads_before


@pytest.mark.parametrize("kind", ["user-threads", "user-processes"])
def test_after_ctrl_c_the_users_executor_is_left_usable(
        kind: str, sigint: None, tmp_path: Path, make_executor: Any) -> None:
    log = str(tmp_path)
    pool = make_executor(kind, 2)
    with Graph() as g:
        P.logged_nap(log, "long", 1.0)
    with CtrlC(lambda: bool(P.runs(log)), "signal"):
        with pytest.raises(KeyboardInterrupt):
            g.resolve(executor=pool, inline_tiny=False)
    _absorb_late_interrupt()
    assert pool.submit(abs, -3).result(timeout=20) == 3
    assert P.add(P.add(1, 2), 3).resolve(executor=pool) == 6


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_resolving_again_after_ctrl_c_finishes_the_work(kind: str, sigint: None,
                                                        tmp_path: Path) -> None:
    """Ctrl-C, then the same call again (as in a REPL): the graph completes, instead of
    failing forever as 'skipped'. A body that kept running in a thread is not run again;
    one whose worker process was terminated is."""
    log = str(tmp_path)
    with Graph() as g:
        slow = P.logged_nap(log, "slow", 0.8)
        P.identity(slow)
    with CtrlC(lambda: bool(P.runs(log)), "signal"):
        with pytest.raises(KeyboardInterrupt):
            g.resolve(executor=kind, inline_tiny=False)
    _absorb_late_interrupt()
    try:
        values = g.resolve(executor=kind)
    except TcgError as exc:
        pytest.fail(f"the second resolve failed: {exc}")
    assert values == ["slow", "slow"]
    expected_runs = 1 if kind == "threads" else 2
    assert P.runs(log) == {"slow": expected_runs}

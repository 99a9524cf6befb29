"""The data plane of ``executor="processes"``: values stay in the worker that made them,
big buffers cross through shared memory, and nothing is left behind.

Where a behaviour is about values (right answers), it is proven on every executor; what
is about processes only (which worker, shared files, a killed worker) says so.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tcg_core import (
    NodeError,
    ProcessesExecutor,
    SerializationError,
    TcgError,
    resolve,
)
from tcg_core._executors._processes import ProcessesAdapter
from tests.core import _nodes_for_data as D
from tests.core._nodes_for_processes import runs

pytestmark = pytest.mark.timeout(120)

MB = 1_000_000


def shared_dirs() -> set[str]:
    """The run directories of the data plane that exist now (in /dev/shm or the temp dir)."""
    from tcg_core._executors._shared import run_directories

    return {name for name, _ in run_directories()}


@pytest.fixture
def no_leak() -> Any:
    """Fails the test if it leaves a shared directory of its own behind."""
    before = shared_dirs()
    yield
    deadline = time.monotonic() + 10  # a run closed without cancel removes its files
    while (left := shared_dirs() - before) and time.monotonic() < deadline:
        time.sleep(0.05)  # once its last worker has stopped (asserted, not timed)
    mine = {d for d in left if d.startswith(f"tcg-data-{os.getpid()}-")}
    assert not mine, f"left behind: {mine}"


# -- right values on every executor ---------------------------------------------------------

def test_a_chain_of_big_arrays_gives_the_same_values_everywhere(every_executor: Any,
                                                              no_leak: None) -> None:
    x = D.zeros(3 * MB // 8 * 8)  # 3 MB: over the shared-memory threshold
    for _ in range(4):
        x = D.inc(x)
    total, last = resolve(D.total(x), x, executor=every_executor)
    assert total == 4.0 * 3 * MB // 8 * 8
    assert isinstance(last, np.ndarray) and last.shape == (3 * MB // 8 * 8,)
    assert float(last[0]) == 4.0
    assert last.flags.writeable  # the caller's value is theirs to change


def test_a_fan_over_one_big_input_gives_the_same_values_everywhere(every_executor: Any,
                                                                 no_leak: None) -> None:
    base = D.inc(D.zeros(2 * MB))
    sums = resolve(*[D.total(D.inc(base)) for _ in range(4)], executor=every_executor)
    assert list(sums) == [4.0 * MB] * 4


@pytest.mark.filterwarnings("ignore:Sending large graph")  # Dask's advice, not a failure
def test_a_big_argument_from_the_caller_arrives_whole(every_executor: Any,
                                                     no_leak: None) -> None:
    data = np.arange(2 * MB, dtype=np.float64)
    got = list(resolve(*[D.total(data) for _ in range(3)], executor=every_executor))
    assert got == [float(data.sum())] * 3
    assert data[0] == 0.0  # the caller's array is untouched


def test_nout_items_of_big_arrays(every_executor: Any, tmp_path: Path, no_leak: None) -> None:
    array, pid = D.made_at(2 * MB, str(tmp_path))
    assert resolve(D.total(array), pid, executor=every_executor)[0] == \
        float(np.arange(2 * MB, dtype=np.float64).sum())


def test_bytearrays_cross_too(every_executor: Any, no_leak: None) -> None:
    assert list(resolve(D.length(D.blob(3 * MB)), executor=every_executor)) == [3 * MB]


def test_a_body_changing_its_input_in_place_changes_its_own_copy_on_processes(
        no_leak: None) -> None:
    # Processes only: a value mapped from shared memory is copy-on-write. Two consumers
    # in different processes: one writes into its input, the other reads the original.
    # (On one executor in one process the object is shared, as on serial and threads;
    # check_mutation=True catches either.)
    data = np.ones(2 * MB)
    changed, seen = resolve(D.mutate_first(data), D.first(data), executor="processes",
                            max_workers=2)
    assert changed == -1.0
    assert seen in (1.0, -1.0)  # the same worker may run both, one after the other
    assert data[0] == 1.0  # never the caller's own array


# -- values stay where they were made (processes only: which worker runs what) --------------

def test_a_consumer_runs_on_the_worker_that_holds_its_input(no_leak: None) -> None:
    # Processes only: Dask decides placement itself; threads share one memory.
    x, pids = D.zeros(4 * MB), []
    for _ in range(5):
        x, pid = D.step(x)
        pids.append(pid)
    found = list(resolve(D.total(x), *pids, executor="processes", max_workers=2))
    assert found[0] == 5.0 * 4 * MB
    assert len(set(found[1:])) == 1, found  # the chain never left its worker


def test_only_what_the_caller_needs_comes_back(no_leak: None) -> None:
    adapter = ProcessesAdapter.configured(ProcessesExecutor(max_workers=2), None)

    def chain() -> Any:  # the caller keeps no future of the arrays
        x = D.zeros(4 * MB)
        for _ in range(5):
            x = D.inc(x)
        return D.total(x)

    assert list(resolve(chain(), executor=adapter)) == [5.0 * 4 * MB]
    traffic = adapter.pool.traffic
    assert traffic["fetched"] == 0  # the total is small: it came back with its reply
    assert traffic["exported"] == 0  # no array left the worker that made it
    assert traffic["shared"] == 0  # nothing was written to shared memory


def test_a_future_the_caller_holds_is_fetched_once(no_leak: None) -> None:
    adapter = ProcessesAdapter.configured(ProcessesExecutor(max_workers=2), None)
    x = D.inc(D.zeros(4 * MB))
    assert list(resolve(D.total(x), executor=adapter)) == [4.0 * MB]
    assert adapter.pool.traffic["fetched"] == 1
    assert float(x.node.value[0]) == 1.0  # it came back with the run


def test_a_value_that_does_not_pickle_stays_usable_where_it_was_made(no_leak: None) -> None:
    # Processes only: on threads and serial nothing pickles; Dask moves values itself.
    # (The caller holds no future of the unpicklable value, so it never has to move.)
    def count() -> list[Any]:
        return list(resolve(D.n_of(D.unpicklable(3)), executor="processes", max_workers=1))

    assert count() == [3]


def test_a_value_that_does_not_pickle_fails_by_name_when_it_must_come_back(
        no_leak: None) -> None:
    with pytest.raises(NodeError) as info:
        resolve(D.unpicklable(3), executor="processes", max_workers=1)
    assert isinstance(info.value.__cause__, SerializationError) or \
        "cannot be pickled" in str(info.value)
    assert "unpicklable" in str(info.value) and "return plain data" in str(info.value)


def test_a_held_input_shows_in_a_failing_nodes_call(no_leak: None) -> None:
    with pytest.raises(NodeError) as info:
        resolve(D.fail_on(D.zeros(2 * MB)), executor="processes", max_workers=1)
    assert "bad array of 2000000 items" in str(info.value)


# -- the threshold ----------------------------------------------------------------------------

def test_processes_executor_checks_its_settings() -> None:
    with pytest.raises(TcgError, match="share_above"):
        ProcessesExecutor(share_above=0)
    with pytest.raises(TcgError, match="max_workers"):
        ProcessesExecutor(max_workers=0)
    with pytest.raises(TcgError, match="max_workers"):
        ProcessesExecutor(max_workers=True)  # type: ignore[arg-type]


@pytest.mark.parametrize("share_above", [1, 1 << 40])
def test_the_threshold_is_honoured(share_above: int, no_leak: None) -> None:
    executor = ProcessesExecutor(max_workers=2, share_above=share_above)
    adapter = ProcessesAdapter.configured(executor, None)
    data = np.arange(300_000, dtype=np.float64)  # 2.4 MB, sent by the caller
    assert list(resolve(D.total(data), executor=adapter)) == [float(data.sum())]
    written = adapter.pool.traffic["shared"]
    assert (written >= data.nbytes) if share_above == 1 else written == 0


def test_processes_executor_is_an_executor_resolve_accepts(no_leak: None) -> None:
    assert list(resolve(D.total(D.zeros(10)), executor=ProcessesExecutor(max_workers=1))) == [0.0]


# -- a worker that dies loses only what it held -------------------------------------------------

def test_a_killed_holder_s_value_is_recomputed_once(tmp_path: Path, no_leak: None) -> None:
    # Processes only: SIGKILL of a worker process (threads and serial have none; Dask
    # recomputes on its own terms).
    array, pid = D.made_at(2 * MB, str(tmp_path))
    gate = D.kill(pid)
    got = list(resolve(D.after(array, gate), executor="processes", max_workers=2))
    assert got == [float(np.arange(2 * MB, dtype=np.float64).sum())]
    assert runs(str(tmp_path)) == {"made_at": 2}  # made, lost, made again: once


def test_a_lost_value_that_cannot_be_recomputed_fails_its_consumer_by_name(
        tmp_path: Path, no_leak: None) -> None:
    array, pid = D.made_once(2 * MB, str(tmp_path))
    with pytest.raises(NodeError) as info:
        resolve(D.after(array, D.kill(pid)), executor="processes", max_workers=2)
    message = str(info.value)
    assert "node 'after' failed" in message
    assert "made_once" in message and "recomputing it" in message
    assert "will not run again" in message


# -- nothing is left behind ---------------------------------------------------------------------

def test_no_shared_file_outlives_a_failing_node(no_leak: None) -> None:
    with pytest.raises(NodeError):
        resolve(D.fail_on(D.inc(D.zeros(2 * MB))), D.total(D.zeros(2 * MB)),
                executor="processes", max_workers=2)


def test_no_shared_file_outlives_a_timeout(no_leak: None) -> None:
    with pytest.raises(NodeError, match="timeout"):
        resolve(D.stuck(D.zeros(2 * MB)), executor="processes", max_workers=2)


def test_no_shared_file_outlives_ctrl_c(sigint: None, tmp_path: Path, no_leak: None) -> None:
    import _thread

    def interrupt_once_started() -> None:
        for _ in range(2000):
            if runs(str(tmp_path)):
                _thread.interrupt_main()
                return
            time.sleep(0.01)

    threading.Thread(target=interrupt_once_started, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        resolve(D.sleeps(D.inc(D.zeros(2 * MB)), str(tmp_path)), executor="processes",
                max_workers=2)


def test_no_shared_file_outlives_the_interpreter(tmp_path: Path) -> None:
    # The resolve runs in a daemon thread; the main thread exits while a body sleeps.
    script = tmp_path.parent / f"{tmp_path.name}-exits.py"
    script.write_text(
        "import threading, time, sys\n"
        f"sys.path.insert(0, {str(Path.cwd())!r})\n"
        "from tests.core import _nodes_for_data as D\n"
        "from tcg_core import resolve\n"
        "if __name__ == '__main__':\n"
        f"    log = {str(tmp_path)!r}\n"
        "    t = threading.Thread(target=resolve, args=(D.sleeps(D.zeros(2_000_000), log),),\n"
        "                         kwargs={'executor': 'processes'}, daemon=True)\n"
        "    t.start()\n"
        "    while not [n for n in __import__('os').listdir(log) if n.startswith('sleeps')]:\n"
        "        time.sleep(0.01)\n"
        "    from tcg_core._executors._shared import _LIVE\n"
        "    print(sorted(_LIVE))\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60, cwd=Path.cwd())
    assert done.returncode == 0, done.stderr
    made = eval(done.stdout.strip().splitlines()[-1])
    assert made, "the run had made its directory"
    assert not any(os.path.exists(path) for path in made)


# -- a ProcessesExecutor kept up across resolves (processes only: it is their pool) ------------

def test_a_kept_executor_reuses_its_workers_and_keeps_no_value_past_a_resolve(
        no_leak: None) -> None:
    with ProcessesExecutor(max_workers=2) as pool:
        first = set(resolve(*[D.where(D.zeros(2 * MB)) for _ in range(4)], executor=pool))
        second = set(resolve(*[D.where(D.zeros(2 * MB)) for _ in range(4)], executor=pool))
        workers = pool._pool  # the one pool both resolves ran on
        assert {pid for pid, _ in first} | {pid for pid, _ in second} <= {
            s.process.pid for s in workers.slots}
        assert workers.holders == {}  # every value of both resolves was dropped
    assert pool._pool is None and "not started" in repr(pool)


def test_a_timeout_on_a_kept_executor_leaves_it_its_size(no_leak: None) -> None:
    with ProcessesExecutor(max_workers=2) as pool:
        with pytest.raises(NodeError, match="timeout"):
            resolve(D.stuck(D.zeros(10)), executor=pool)
        assert list(resolve(D.total(D.zeros(10)), executor=pool)) == [0.0]
        live = [s for s in pool._pool.slots if s.alive]
        deadline = time.monotonic() + 10
        while len(live) > 2 and time.monotonic() < deadline:  # the stuck one is ending
            time.sleep(0.05)
            live = [s for s in pool._pool.slots if s.alive]
        assert len(live) == 2


def test_ctrl_c_on_a_kept_executor_leaves_it_working(sigint: None, tmp_path: Path,
                                                    no_leak: None) -> None:
    import _thread

    def interrupt_once_started() -> None:
        for _ in range(2000):
            if runs(str(tmp_path)):
                _thread.interrupt_main()
                return
            time.sleep(0.01)

    with ProcessesExecutor(max_workers=2) as pool:
        threading.Thread(target=interrupt_once_started, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            resolve(D.sleeps(D.zeros(2 * MB), str(tmp_path)), executor=pool)
        assert list(resolve(D.total(D.inc(D.zeros(2 * MB))), executor=pool)) == [2.0 * MB]


def test_shutting_a_kept_executor_down_under_a_resolve_fails_it_by_name(
        tmp_path: Path, no_leak: None) -> None:
    pool = ProcessesExecutor(max_workers=2).start()
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            resolve(D.sleeps(D.zeros(10), str(tmp_path)), executor=pool)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    while not runs(str(tmp_path)):
        time.sleep(0.01)
    pool.shutdown()
    thread.join(30)
    assert not thread.is_alive()
    assert "node 'sleeps' failed" in str(outcome[0])
    assert "ProcessesExecutor was shut down" in str(outcome[0])
    # shut down, it works as executor="processes": each resolve starts its own
    assert list(resolve(D.total(D.zeros(10)), executor=pool)) == [0.0]


def test_a_forked_child_does_not_use_its_parents_kept_workers(no_leak: None) -> None:
    with ProcessesExecutor(max_workers=1) as pool:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through the pipe
            try:
                got = resolve(D.total(D.zeros(10)), executor=pool)
                os.write(write, repr(list(got)).encode())
            finally:
                os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        assert os.read(read, 100) == b"[0.0]"
        assert list(resolve(D.total(D.zeros(10)), executor=pool)) == [0.0]


def test_directories_of_killed_resolves_are_swept(tmp_path: Path) -> None:
    # A resolve's process killed outright (SIGKILL) runs no cleanup: the next process
    # that starts a pool removes its directory, and leaves a live process's alone.
    from tcg_core._executors._shared import PREFIX, _base_dir

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = Path(_base_dir()) / f"{PREFIX}{int(gone.stdout)}-stale"
    live = Path(_base_dir()) / f"{PREFIX}{os.getpid()}-mine"
    dead.mkdir()
    live.mkdir()
    try:
        done = subprocess.run(
            [sys.executable, "-c", "from tcg_core import node; import operator\n"
             "if __name__ == '__main__':\n"
             "    print(node(operator.add)(1, 2).resolve(executor='processes'))"],
            capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert done.stdout.strip() == "3", done.stderr
        assert not dead.exists()
        assert live.exists()
    finally:
        for path in (dead, live):
            if path.exists():
                path.rmdir()


def test_more_workers_than_a_kept_executor_has_are_refused(no_leak: None) -> None:
    with ProcessesExecutor(max_workers=1) as pool:
        with pytest.raises(TcgError, match=r"max_workers=3.*1 worker processes"):
            resolve(D.total(D.zeros(10)), executor=pool, max_workers=3)
        assert list(resolve(D.total(D.zeros(10)), executor=pool, max_workers=1)) == [0.0]

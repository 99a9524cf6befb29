"""Every node form pickles; on processes and Dask, code a user ships without thinking
(lambdas, closures, local functions, partials, callable objects, builtins) runs; what
still cannot cross is named; dead workers and unloadable exceptions are said plainly."""

from __future__ import annotations

import functools
import importlib.util
import logging
import operator
import pickle
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from tcg_core import Node, NodeError, RemoteError, SerializationError, node

pytestmark = pytest.mark.timeout(120)

# "dask" needs the optional extra (pip install -e '.[dask]'): skipped without it.
DASK = pytest.param("dask", marks=pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None, reason="needs pytest-tcg[dask]"))

EXECUTORS = ["processes", DASK]


@node
def module_level(x: int) -> int:
    return x + 1


class Scale:
    def __init__(self, k: int) -> None:
        self.k = k

    def __call__(self, x: int) -> int:
        return self.k * x


class NeedsTwo(Exception):
    """Pickles (with its args), but cannot be rebuilt from them: unpickling fails."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a}/{b}")


@node
def raises_unloadable() -> None:
    raise NeedsTwo("shop", "b")


def test_every_node_form_pickles() -> None:
    for future in (node(divmod)(7, 2), Node()(divmod)(7, 2), module_level(1),
                   node(name="dm")(divmod)(7, 2)):
        clone = pickle.loads(pickle.dumps(future))
        assert clone.resolve(executor="serial") == future.resolve(executor="serial")
    assert pickle.loads(pickle.dumps(module_level)) is module_level  # by name


@pytest.mark.parametrize("executor", EXECUTORS)
def test_builtins_lambdas_closures_partials_and_callable_objects_run(executor: str) -> None:
    offset = 5

    def local(x: int) -> int:
        return x + offset  # a closure

    forms: list[tuple[Any, tuple[Any, ...], Any]] = [
        (node(divmod), (7, 2), (3, 1)),
        (node(lambda x: x * 3), (2,), 6),
        (node(local), (1,), 6),
        (node(functools.partial(operator.mul, 4)), (3,), 12),
        (node(Scale(10)), (3,), 30),
    ]
    for nodefn, args, expected in forms:
        assert nodefn(*args).resolve(executor=executor) == expected, nodefn


def test_what_cannot_cross_is_named_with_the_real_reason() -> None:
    lock = threading.Lock()

    def uses_lock(x: int) -> int:
        with lock:
            return x

    with pytest.raises(NodeError) as info:
        node(uses_lock)(1).resolve(executor="processes")
    cause = info.value.__cause__
    assert isinstance(cause, SerializationError)
    text = str(cause)
    assert "'uses_lock'" in text
    assert "closure variable 'lock'" in text
    assert "lock" in text.split("cannot be pickled", 1)[1]


def _dask_process_workers() -> Any:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                       dashboard_address="127.0.0.1:0", host="127.0.0.1",
                                       silence_logs=logging.CRITICAL)
    return cluster, distributed.Client(cluster, set_as_default=False)


@pytest.mark.parametrize("executor", ["processes", "dask-process-workers"])
def test_an_exception_that_cannot_be_unpickled_arrives_with_its_type_and_traceback(
        executor: str) -> None:
    cluster = client = None
    if executor == "dask-process-workers":  # in-process workers never unpickle it
        cluster, client = _dask_process_workers()
    try:
        with pytest.raises(NodeError) as info:
            raises_unloadable().resolve(executor=client or executor)
    finally:
        if client is not None:
            client.close()
            cluster.close()
    cause = info.value.__cause__
    assert isinstance(cause, RemoteError), repr(cause)
    assert cause.remote_type.endswith("NeedsTwo")
    assert cause.remote_message == "shop/b"
    assert "raises_unloadable" in cause.remote_traceback
    assert "died" not in str(info.value)


def test_a_missing_main_guard_is_said_plainly(tmp_path: Path) -> None:
    script = tmp_path / "pipeline_script.py"
    script.write_text(textwrap.dedent("""
        from tcg_core import node

        @node
        def one():
            return 1

        print(one().resolve(executor="processes", max_workers=1))
    """))
    root = Path(__file__).resolve().parents[2]
    from tcg_core._executors._shared import _alive, run_directories

    before = set(run_directories())
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=100, cwd=tmp_path, env={"PYTHONPATH": str(root),
                                                          "PATH": "/usr/bin:/bin"})
    assert done.returncode != 0
    assert "no 'if __name__ == \"__main__\":' guard" in done.stderr, done.stderr[-3000:]
    assert str(script) in done.stderr
    # Each worker ran the script too and started a resolve that failed while starting:
    # none of those left its shared-memory directory behind.
    assert not [d for d, pid in set(run_directories()) - before if not _alive(pid)]




def test_a_nout_node_made_by_a_plain_call_keeps_its_kind_across_pickling() -> None:
    split = node(nout=2)(divmod)
    clone = pickle.loads(pickle.dumps(split))
    assert type(clone) is type(split)
    low, high = clone(7, 2)
    assert (low.resolve(executor="processes"), high.resolve(executor="serial")) == (3, 1)

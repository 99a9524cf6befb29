"""What a Dask worker runs for a handed-over node (``_executors._remote``), without Dask:
inputs filled in from the task's dependencies, the blame every error carries, ``nout=``
checked where the value is, and the registry the resolve collects timings from."""

from __future__ import annotations

import pickle
import traceback
from typing import Any

import pytest

from tcg_core import node
from tcg_core._executors import _remote
from tcg_core._executors._remote import Remote, RemoteCall, TaskFailed, run_task, take


@node
def add(a: int, b: int) -> int:
    return a + b


@node
def total(xs: list[int], extra: dict[str, int]) -> int:
    return sum(xs) + extra["c"]


@node
def fails(x: int) -> int:
    raise ValueError(f"bad {x}")


def _call(func: Any, args: tuple[Any, ...], slots: tuple[Remote, ...] = (), *,
          token: str = "t", nout: int | None = None) -> RemoteCall:
    return RemoteCall("k-1", getattr(func, "name", "f"), func, args, None, slots, token,
                      nout, None, None)


def test_inputs_on_the_cluster_are_filled_in_from_the_tasks_dependencies() -> None:
    a, b, c = Remote("a", "a#1"), Remote("b", "b#2"), Remote("c", "c#3")
    call = pickle.loads(pickle.dumps(_call(total, ([a, b], {"c": c}), (a, b, c))))
    assert run_task(call, 2, 40, 100) == 142


def test_an_item_of_a_value_on_the_cluster_is_read_on_the_worker() -> None:
    pair = Remote("pair", "pair#1")
    assert run_task(_call(add, (pair[0], pair[1]), (pair,)), (1, 2)) == 3


def test_every_error_carries_the_key_of_the_task_that_raised_it_beside_it() -> None:
    with pytest.raises(TaskFailed) as info:
        run_task(_call(fails, (3,)))
    error, key, (start, end, worker) = info.value.args
    assert (type(error), str(error), key) == (ValueError, "bad 3", "k-1")
    assert start <= end and worker
    # Nothing is written on the user's exception: it pickles, compares and prints as
    # it would without tcg.
    assert vars(error) == {}
    assert info.value.outcome().raised_by == "k-1"
    assert "fails" in "".join(traceback.format_tb(info.value.__traceback__))


def test_nout_is_checked_on_the_worker() -> None:
    with pytest.raises(TaskFailed, match=r"nout=3\) function 'add' returned int 3") as info:
        run_task(_call(add, (1, 2), nout=3))
    assert type(info.value.error) is TypeError


def test_when_and_where_a_body_ran_waits_in_the_registry_until_taken() -> None:
    assert run_task(_call(add, (1, 2), token="reg")) == 3
    ((key, (start, end, worker, kids)),) = take("reg")
    assert key == "k-1" and start <= end and worker and kids is None
    assert take("reg") == []


def test_entries_nobody_collected_are_dropped_once_stale(
        monkeypatch: pytest.MonkeyPatch) -> None:
    run_task(_call(add, (1, 2), token="old"))
    monkeypatch.setattr(_remote, "STALE_AFTER", -1.0)
    run_task(_call(add, (1, 2), token="new"))
    assert take("old") == [] and len(take("new")) == 1

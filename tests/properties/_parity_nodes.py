"""Module-level nodes of every kind for the executor-parity property (process and Dask
workers import them). Each notes its start in ``log_dir`` (so body runs can be
counted) and returns its number plus its inputs' values."""

from __future__ import annotations

import time
from typing import Any

from tcg_core import node
from tests.core._nodes_for_processes import note_run


def _value(label: str, inputs: tuple[int, ...]) -> int:
    return int(label[1:]) + sum(inputs)


@node
def plain(log_dir: str, label: str, *inputs: int) -> int:
    note_run(log_dir, label)
    return _value(label, inputs)


@node
async def asynchronous(log_dir: str, label: str, *inputs: int) -> int:
    note_run(log_dir, label)
    return _value(label, inputs)


@node
def nested(log_dir: str, label: str, *inputs: int) -> Any:
    note_run(log_dir, label)
    return plain(log_dir, label + "0", *inputs)  # a child: label n3 → n30


@node
def failing(log_dir: str, label: str, *inputs: int) -> int:
    note_run(log_dir, label)
    raise ArithmeticError(f"planned failure of {label}")


@node(cache=True)
def cached(log_dir: str, label: str, *inputs: int) -> int:
    note_run(log_dir, label)
    return _value(label, inputs)


@node(pure=True)
def pure(log_dir: str, label: str, *inputs: int) -> int:
    note_run(log_dir, label)
    return _value(label, inputs)


@node
def replaced(log_dir: str, label: str, *inputs: int) -> int:
    raise RuntimeError("the real body of a replaced node ran")


def fake(log_dir: str, label: str, *inputs: int) -> int:
    """The double for ``replaced``: runs where the test is, on every executor."""
    note_run(log_dir, label)
    return _value(label, inputs)


@node(timeout=0.2)
def timed_out(log_dir: str, label: str, *inputs: int) -> int:
    note_run(log_dir, label)
    time.sleep(1.5)  # always past its timeout: the node fails with NodeTimeoutError
    return _value(label, inputs)


KINDS = {"plain": plain, "async": asynchronous, "nested": nested, "failing": failing,
         "cached": cached, "pure": pure, "replaced": replaced, "timed_out": timed_out}

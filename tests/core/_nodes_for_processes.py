"""Module-level nodes (and two process helpers) for tests whose bodies run in other processes.

A process worker finds a ``@node`` function by module and name, so these live at the top
level of an importable module. Test files import this module as
``from tests.core import _nodes_for_processes as P`` (the repository root is on
``sys.path`` through ``pythonpath = ["."]``), and ``test_pickles_by_reference`` in
``test_processes.py`` checks that a worker process can find them.

Side effects that must be seen across processes (how often a body ran) are written to
files under a directory the test passes in (its own ``tmp_path``): nothing here is shared
between tests.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from tcg_core import node

# -- plain nodes ---------------------------------------------------------------------------


@node
def add(a: int, b: int) -> int:
    return a + b


@node
def identity(x: Any) -> Any:
    return x


@node
def pid_of(*after: Any) -> int:
    return os.getpid()


@node
def boom(x: Any) -> int:
    raise ValueError(f"bad input {x}")


@node
def middle(x: int) -> int:
    return add(boom(x), 1)  # type: ignore[no-any-return]


@node
def top(x: int) -> int:
    """``top › middle › boom``: the grandchild raises."""
    return middle(x)  # type: ignore[no-any-return]


@node
def nap(x: Any, seconds: float, *after: Any) -> Any:
    time.sleep(seconds)
    return x


# -- nodes that leave a trace on disk (one file per run) -----------------------------------


def note_run(log_dir: str, label: str) -> None:
    """Record one run of ``label``: a new uniquely named file, so concurrent writers never
    clash and a second run of the same label is visible as a second file."""
    directory = Path(log_dir)
    name = f"{label}@{os.getpid()}-{threading.get_ident()}-{time.perf_counter_ns()}"
    (directory / name).touch(exist_ok=False)


def runs(log_dir: str) -> dict[str, int]:
    """How many times each label ran, from the files ``note_run`` left."""
    counts: dict[str, int] = {}
    for entry in os.listdir(log_dir):
        label = entry.split("@", 1)[0]
        counts[label] = counts.get(label, 0) + 1
    return counts


@node
def logged_nap(log_dir: str, label: str, seconds: float, *after: Any) -> str:
    note_run(log_dir, label)
    time.sleep(seconds)
    return label


# -- gates: bodies that wait until the test lets them end -----------------------------------
# "resolve() gave control back without waiting for a body" is asserted as an order of events,
# never as a wall-clock bound: the body cannot end before the test opens its gate, so a
# resolve that returned while ``ended(log_dir)`` is still empty did not wait for it.

GATE_CAP = 90.0  # bounds a forgotten gate's life (pytest-timeout reports a real hang first)


def _gate_dir(log_dir: str) -> Path:
    """Beside the log directory, so ``runs(log_dir)`` counts only the bodies' starts."""
    return Path(f"{log_dir}.gate")


def open_gate(log_dir: str) -> None:
    """Let every gated body of this log end (idempotent)."""
    gate = _gate_dir(log_dir)
    gate.mkdir(exist_ok=True)
    (gate / "open").touch()


def ended(log_dir: str) -> list[str]:
    """Labels of the gated bodies that have ended, whatever process ran them."""
    gate = _gate_dir(log_dir)
    if not gate.exists():
        return []
    return sorted(e.split("@", 1)[0] for e in os.listdir(gate) if "@" in e)


@node
def gated_nap(log_dir: str, label: str, *after: Any) -> str:
    """Notes its start, waits until ``open_gate(log_dir)``, then notes its end."""
    return _gated(log_dir, label)


def _gated(log_dir: str, label: str) -> str:
    note_run(log_dir, label)
    gate = _gate_dir(log_dir)
    wait_until(lambda: (gate / "open").exists(), GATE_CAP, step=0.01)
    gate.mkdir(exist_ok=True)
    (gate / f"{label}@{os.getpid()}-{time.perf_counter_ns()}").touch()
    return label


@node(timeout=1.0)
def gated_hang(log_dir: str) -> str:
    """Never returns within its timeout: a gated body (label ``hang``)."""
    return _gated(log_dir, "hang")


def run_starts(log_dir: str) -> list[tuple[int, str]]:
    """``(perf_counter_ns, label)`` of every run, in time order (the clock is system-wide
    on Linux, so times from worker processes compare)."""
    found = []
    for entry in os.listdir(log_dir):
        label, rest = entry.split("@", 1)
        found.append((int(rest.rsplit("-", 1)[1]), label))
    return sorted(found)


@node
def logged_parent(log_dir: str) -> str:
    """Returns the future of a child it creates: the child must run exactly once."""
    note_run(log_dir, "parent")
    return logged_nap(log_dir, "child", 0.0)  # type: ignore[no-any-return]


@node
def logged_boom(log_dir: str, label: str, *after: Any) -> None:
    note_run(log_dir, label)
    raise RuntimeError(f"{label} broke")


@node(cost=1000)
def urgent_boom(log_dir: str, label: str) -> None:
    """Fails at once; its cost hint makes the scheduler start it before cheaper nodes."""
    note_run(log_dir, label)
    raise RuntimeError(f"{label} broke")


@node(retries=2)
def flaky(log_dir: str, fail_times: int) -> str:
    """Fails its first ``fail_times`` runs, counted on disk so process workers agree."""
    note_run(log_dir, "flaky")
    if runs(log_dir)["flaky"] <= fail_times:
        raise ConnectionError("transient failure")
    return "recovered"


@node
def dag_node(log_dir: str, label: str, fail: bool, nested: bool, *inputs: int) -> int:
    """One node of a random DAG (tests/properties): value = its number plus its inputs'.

    ``nested`` computes the value in a child node instead, so failures can come from
    inside a nesting level too.
    """
    note_run(log_dir, label)
    if nested:
        return dag_child(log_dir, label + ".child", fail, *inputs)  # type: ignore[no-any-return]
    if fail:
        raise ArithmeticError(f"planned failure of {label}")
    return int(label.split(".")[0][1:]) + sum(inputs)


@node
def dag_child(log_dir: str, label: str, fail: bool, *inputs: int) -> int:
    note_run(log_dir, label)
    if fail:
        raise ArithmeticError(f"planned failure of {label}")
    return int(label.split(".")[0][1:]) + sum(inputs)


# -- bad input for process workers ---------------------------------------------------------


@node
def takes_anything(x: Any) -> str:
    return "ran"


@node
def returns_a_lock() -> Any:
    return threading.Lock()


# -- dying and hanging workers -------------------------------------------------------------


@node
def die(x: Any) -> None:
    os._exit(13)


@node
def die_after(seconds: float) -> None:
    time.sleep(seconds)
    os._exit(13)


@node(retries=1)
def die_with_retries(x: Any) -> None:
    os._exit(13)


@node
def die_once(marker: str) -> str:
    """Kills its worker the first time (``marker`` does not exist yet), then succeeds."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os._exit(13)
    return "survived"


@node(timeout=1.0)
def hang(seconds: float = 60.0) -> str:
    """Never returns within its timeout (the sleep bounds a leaked worker's life)."""
    time.sleep(seconds)
    return "woke up"


# -- bodies that resolve inside their worker -----------------------------------------------


@node
def resolves_inside(x: int) -> int:
    return add(x, 1).resolve() * 10  # type: ignore[no-any-return]


# -- process helpers -----------------------------------------------------------------------


def child_pids() -> set[int]:
    """Live child processes of this process (Linux ``/proc``; empty set elsewhere)."""
    me = os.getpid()
    found: set[int] = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces, so split after ')'.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[0] != "Z" and int(fields[1]) == me:
            found.add(int(entry))
    return found


def settled(records: Any, seconds: float = 30.0) -> bool:
    """True once no record is ``running`` any more (within ``seconds``).

    After a resolve stops, a body still running in a thread may keep its node ``running``
    until the body returns and its outcome is recorded; it must not stay so forever.
    """
    records = list(records)
    return wait_until(lambda: all(r.state != "running" for r in records), seconds)


def wait_until(predicate: Any, seconds: float, step: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``seconds`` pass; returns its last value."""
    give_up = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() >= give_up:
            return bool(value)
        time.sleep(step)


# -- the seed's nested pipeline (for executors on other machines or processes) -------------


@node
def subtract(a: int, b: int) -> int:
    return a - b


@node
def multiply(a: int, b: int, c: int) -> int:
    return a * b * c


@node
def pipeline(a: int, b: int, c: int, d: int) -> int:
    """``pipeline › add``, ``pipeline › subtract``, ``pipeline › multiply``."""
    return multiply(add(a, b), c, subtract(c, d))  # type: ignore[no-any-return]


# -- exceptions that stop a resolve, and errors that change between attempts ---------------


@node(retries=2)
def stops_once(log_dir: str, kind: str) -> str:
    """Raises ``kind`` (``"exit"``: SystemExit, ``"interrupt"``: KeyboardInterrupt) on
    its first run only; ``retries=2`` must not retry it."""
    note_run(log_dir, "stops")
    if runs(log_dir)["stops"] == 1:
        raise SystemExit(3) if kind == "exit" else KeyboardInterrupt
    return "ran again"


@node(retries=2)
def fails_differently(log_dir: str) -> str:
    """Fails three times, with a different exception each time."""
    note_run(log_dir, "differently")
    attempt = runs(log_dir)["differently"]
    raise [ValueError("first"), KeyError("second"), OSError("third")][attempt - 1]


# -- input mutation (check_mutation=True) --------------------------------------------------


@node
def fresh_list() -> list[str]:
    return []


@node
def append_to(items: list[str], item: str) -> int:
    """Changes its argument: the bug check_mutation finds."""
    items.append(item)
    return len(items)


@node
def count_with(items: list[str], item: str) -> int:
    """The same without changing its argument."""
    return len([*items, item])


@node
def pair(a: object, b: object) -> tuple[object, object]:
    return (a, b)


@node(timeout=30.0)
def timed_nap(x: Any, seconds: float) -> Any:
    """A node with a timeout it keeps: the Dask hand-over sends it only once its inputs
    are done, and lets no consumer go ahead of it."""
    time.sleep(seconds)
    return x


@node
def page_of(n: int) -> list[int]:
    """A sub-pipeline per page: ``n`` children ``add`` and one ``identity`` collecting them,
    so instances of one parent hold different children."""
    return identity([add(i, 1) for i in range(n)])  # type: ignore[no-any-return]


# Order checks over outcomes that a repr or == judges wrongly (tests/plugin/test_order_*).

@node
def failing_child(items: list[str]) -> int:
    raise ValueError(f"no rows in {items!r}")


@node
def nested_boom(items: list[str]) -> Any:
    """Always fails the same way; the message names the failing call by its node id."""
    return failing_child(items)


@node
def nan_pair(items: list[str]) -> tuple[float, list[float]]:
    return (float("nan"), [float("nan"), float(len(items))])


@node
def long_array(a: int, b: int) -> Any:
    """An array whose repr is shortened: a and b sit in the elided middle."""
    import numpy

    values = numpy.zeros(2000)
    values[1000], values[1001], values[0] = a, b, numpy.nan
    return values


@node
def long_frame(a: int, b: int) -> Any:
    import pandas

    column = [0.0] * 2000
    column[1000], column[1001] = a, b
    return pandas.DataFrame({"x": column})


@node
def fan_children(n: int) -> int:
    """A parent with n children (identity(0..n-1)), none of which it waits for."""
    return pair(n, [identity(i) for i in range(n)])


@node(timeout=1.0)
def timed_parent(log_dir: str, x: int) -> Any:
    """A parent whose body returns at once; its child waits at the gate, past any
    deadline the parent's body could have, until the test opens it."""
    return identity_after_gate(log_dir, x)


@node
def identity_after_gate(log_dir: str, x: int) -> int:
    _gated(log_dir, "child")
    return x


@node
def region_total(rows: list[int]) -> int:
    if not rows:
        raise ValueError("no rows for region")
    return sum(rows)


@node
def region_report(region: str, rows: list[int]) -> Any:
    return region_total(rows)


@node
def daily(regions: dict[str, list[int]]) -> Any:
    return [region_report(name, rows) for name, rows in regions.items()]


@node
def forever(n: int) -> Any:
    return forever(n + 1)


_STAMPS: list[str] = []


@node
def stamp(label: str) -> int:
    """Order-dependent through module state, not through an argument."""
    _STAMPS.append(label)
    return len(_STAMPS)

"""Module-level nodes, values and a scheduler plugin for ``test_dask_handover.py``.

Process workers find a ``@node`` function by module and name, so these live at the top
level of an importable module (as in ``_nodes_for_processes``).

``Marked`` is a value that notes every process it is unpickled in (``REVIVED``, per
process): on a process-worker cluster, a tag in the test process's list means that
value travelled to the client. ``GraphLog`` is a scheduler plugin that keeps what every
``update-graph`` brought: which client sent it, its keys and their Dask dependencies
(a ``LocalCluster``'s scheduler runs in the test process, so the log is read directly).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tcg_core import node

# --doctest-modules imports every module under tests/: skip this one without the extra.
SchedulerPlugin = pytest.importorskip("distributed.diagnostics.plugin").SchedulerPlugin

#: tags of the ``Marked`` values unpickled in this process
REVIVED: list[str] = []
_LOCK = threading.Lock()


def _revive(tag: str) -> Marked:
    with _LOCK:
        REVIVED.append(tag)
    return Marked(tag)


class Marked:
    """A value that records where it is unpickled."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __reduce__(self) -> tuple[Any, ...]:
        return (_revive, (self.tag,))


class GraphLog(SchedulerPlugin):
    """Every ``update-graph`` the scheduler received: ``(client id, {key: deps})``."""

    name = "tcg-graph-log"

    def __init__(self) -> None:
        self.graphs: list[tuple[str, dict[str, set[str]]]] = []

    def update_graph(self, scheduler: Any, *, client: str, keys: Any, tasks: Any,
                     **kwargs: Any) -> None:
        found = {str(key): {str(dep.key) for dep in scheduler.tasks[key].dependencies}
                 for key in tasks if key in scheduler.tasks}
        self.graphs.append((client, found))

    def sent_by(self, prefix: str) -> list[tuple[str, dict[str, set[str]]]]:
        """The graphs holding tasks whose key starts with ``prefix`` (a node's name)."""
        return [(who, {k: d for k, d in keys.items() if k.startswith(prefix)})
                for who, keys in self.graphs
                if any(k.startswith(prefix) for k in keys)]


# -- nodes -------------------------------------------------------------------------------


@node
def marked(tag: str) -> Marked:
    return Marked(tag)


@node
def relabel(value: Marked, tag: str) -> Marked:
    return Marked(f"{value.tag}>{tag}")


@node
def tag_of(value: Marked) -> str:
    return value.tag


@node
def hop_start(n: int) -> int:
    return n


@node
def hop(n: int) -> int:
    return n + 1


@node
def hop_parent(n: int) -> int:
    hop_child(n)  # created and not returned: it must still run (and be recorded)
    return hop_child(n + 10)  # type: ignore[return-value]


@node
def hop_child(n: int) -> int:
    return n * 2


@node
def outer(n: int) -> int:
    return inner(n)  # type: ignore[return-value]


@node
def inner(n: int) -> int:
    hop_child(n)
    return hop_parent(n)  # type: ignore[return-value]


@node
def top(n: int) -> int:
    return middle(n)  # type: ignore[return-value]


@node
def middle(n: int) -> int:
    return hop(boom(n))  # type: ignore[return-value]


@node
def boom(n: int) -> int:
    raise ValueError(f"bad input {n}")  # the body's line: tracebacks must show it


@node
def plus(a: int, b: int) -> int:
    return a + b


@node(retries=2)
def flaky(marker: str) -> int:
    """Fails on its first two attempts (counted in files: attempts run in workers)."""
    from pathlib import Path

    path = Path(marker)
    count = int(path.read_text()) if path.exists() else 0
    path.write_text(str(count + 1))
    if count < 2:
        raise RuntimeError(f"attempt {count + 1} fails")
    return count


@node(retries=1)
def always_fails(n: int) -> int:
    raise KeyError(f"never {n}")


@node(timeout=0.3)
def stuck(n: int) -> int:
    time.sleep(600)  # far past the test's own timeout: only the node's timeout ends it
    return n


@node(nout=2)
def split(n: int) -> tuple[int, int]:
    return n, n * 10


@node
def total(values: dict[str, int]) -> int:
    return sum(values.values())

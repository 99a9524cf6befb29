"""Messages that say why, first (issue 22): each one the fix a user needed, found as a
class. Each test fails on 0.2's message."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tcg_core import NodeError, NodeFailures, TcgError, resolve
from tests.core import _nodes_for_processes as P

pytestmark = pytest.mark.timeout(120)


def test_repeated_calls_are_told_apart_by_their_enclosing_calls(every_executor: Any) -> None:
    regions = {"east": [], "west": [], "north": [1]}
    with pytest.raises(NodeFailures) as info:
        resolve(P.daily(regions), executor=every_executor, keep_going=True)
    text = str(info.value)
    # Both failing calls are region_total([]): which region each was for is what a
    # reader needs, and the parent's call says it.
    assert "inside: region_report#" in text
    assert "('east', [])" in text and "('west', [])" in text


def test_a_runaway_recursions_headline_stays_short() -> None:
    with pytest.raises(NodeError) as info:
        resolve(P.forever(0), executor="serial")
    headline = str(info.value).splitlines()[0]
    assert "more" in headline and len(headline) < 600, headline
    assert info.value.path.count("forever") > 100  # the attribute keeps the whole path


@pytest.mark.parametrize("where", ["result", "argument"])
def test_what_could_not_be_pickled_is_named_first(where: str) -> None:
    # Processes only: nothing is pickled on serial or threads, and Dask pickles with
    # its own serialisers and messages (covered in test_dask.py).
    future = P.returns_a_lock() if where == "result" else P.identity(threading.Lock())
    with pytest.raises(NodeError) as info:
        resolve(future, executor="processes")
    headline = str(info.value).splitlines()[0]
    said = "the value it returned" if where == "result" else "its arguments"
    assert said in headline and "cannot pickle '_thread.lock' object" in headline, headline


def test_a_script_read_from_stdin_says_why_workers_die(tmp_path: Path) -> None:
    script = ("from tcg_core import node, resolve\n"
              "@node\n"
              "def inc(x):\n"
              "    return x + 1\n"
              "print(resolve(inc(1), executor='processes'))\n")
    done = subprocess.run([sys.executable, "-"], input=script, capture_output=True,
                          text=True, cwd=tmp_path, timeout=120, check=False)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()
    message = "\n".join(last[-3:])
    assert "'<stdin>', which is not a file it can read" in message, done.stderr[-2000:]
    assert "save the script to a .py file" in message


@pytest.mark.parametrize(("options", "hint"), [
    ({"max_worker": 2}, "(did you mean 'max_workers'?)"),
    ({"executer": "threads"}, "(did you mean 'executor'?)"),
    ({"executor": "thread"}, "(did you mean 'threads'?)"),
])
def test_a_near_miss_gets_a_did_you_mean(options: dict[str, Any], hint: str) -> None:
    with pytest.raises((TypeError, TcgError)) as info:
        resolve(P.identity(1), **options)
    assert hint in str(info.value)

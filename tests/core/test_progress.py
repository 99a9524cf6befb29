"""The progress bar: drawn on a terminal (a real pseudo-terminal here), silent when
stderr is not one, counting nodes known as bodies add children."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from typing import Any

import pytest

from tcg_core import NodeFailures, ProgressBar, node, progress, resolve
from tests.core import _nodes_for_cache as C

pytestmark = pytest.mark.timeout(120)

SCRIPT = (
    "import tcg_core\n"
    "from tests.core import _nodes_for_cache as C\n"
    "print(tcg_core.resolve(C.fan(3), C.inc(C.inc(0)), progress=True, executor='threads'))\n"
)


def _run(stderr: Any) -> subprocess.CompletedProcess[bytes]:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return subprocess.run([sys.executable, "-c", SCRIPT], cwd=root, stdout=subprocess.PIPE,
                          stderr=stderr, timeout=60, check=True)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("columns", [100, 0], ids=["sized", "unsized"])
def test_the_bar_renders_in_a_pseudo_terminal(columns: int) -> None:
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    try:
        result = _run(slave)
        os.close(slave)
        slave = -1
        chunks = []
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the other end is closed: everything was read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        if slave != -1:
            os.close(slave)
        os.close(master)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert result.stdout.strip() == b"([1, 2, 3], 2)"
    # fan, its 3 children (known only once fan ran), and two incs: 6 of 6, with elapsed
    assert "tcg:" in text and "6/6" in text and "node/s" in text, text


def test_nothing_is_printed_when_stderr_is_not_a_terminal() -> None:
    result = _run(subprocess.PIPE)
    assert result.stderr == b""


def test_the_bar_counts_children_and_failures_and_names_running_nodes() -> None:
    out = io.StringIO()
    bar = progress(file=out, always=True)
    seen: list[dict[int, str]] = []

    @node
    def look() -> int:
        seen.append(dict(bar.running))
        return 1

    @node
    def boom() -> int:
        raise ValueError("no")

    with bar, pytest.raises(NodeFailures):
        resolve(C.fan(2), look(), boom(), executor="serial", keep_going=True)
    assert "look" in seen[0].values()  # its name is among the running ones
    assert (bar.known, bar.finished, bar.failed) == (5, 5, 1)
    text = out.getvalue()
    assert "5/5" in text and "failed: 1" in text, text


def test_progress_checks_its_options() -> None:
    with pytest.raises(TypeError, match=r"progress\(\): always must be True or False"):
        ProgressBar(always=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"progress\(\): file must be a text stream"):
        progress(file=5)  # type: ignore[arg-type]


@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_a_bar_reused_by_two_resolves_counts_each_from_zero(executor: str) -> None:
    """It ended the second resolve at 5/15: the first one's nodes were still counted."""
    out = io.StringIO()
    bar = progress(file=out, always=True)
    with bar:
        resolve(C.fan(8), executor=executor)
        first = (bar.known, bar.finished)
        resolve(C.fan(3), executor=executor)
    assert first[0] == first[1] > 0
    assert bar.known == bar.finished < first[0]
    drawn = out.getvalue()
    assert f"{bar.known}/{bar.known}" in drawn
    assert f"/{first[0] + bar.known}" not in drawn  # the old total, both resolves summed

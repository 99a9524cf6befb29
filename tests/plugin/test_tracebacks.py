"""A failing node's traceback opens with the user's code (issue 22): tcg's own frames
are left out, as pytest leaves out its own, and ``--full-trace`` shows them."""

from __future__ import annotations

import re

import pytest

from .conftest import RunPytest

TESTS = """
from tcg_core import node

@node
def region_total(rows):
    if not rows:
        raise ValueError("no rows for region")
    return sum(rows)

@node
def shop(regions):
    return [region_total(r) for r in regions]

def test_shop(tcg_resolve):
    assert tcg_resolve(shop([[1], []])) == [1, 0]
"""


def _frames(text: str) -> list[str]:
    """The ``file:line: Error`` lines closing each frame pytest prints."""
    return re.findall(r"^(\S+\.py):\d+: \w+$", text, flags=re.MULTILINE)


@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_the_users_body_and_test_line_are_the_only_frames_shown(
        project: pytest.Pytester, run_both: RunPytest, executor: str) -> None:
    # Dask is left out: its worker frames are Dask's, which pytest already shows as a
    # library's; the cause chain comes back the same way as from processes.
    project.makepyfile(test_shop=TESTS)
    result = run_both(f"--tcg-executor={executor}")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "tcg_core/" not in text and "pytest_tcg/" not in text, text
    if executor == "processes":  # a worker's traceback arrives as text, user frames only
        assert "tcg_core.WorkerTraceback: \nTraceback (most recent call last):" in text
        assert 'test_shop.py", line 6, in region_total' in text
        assert "concurrent/futures" not in text
    else:
        assert _frames(text) == ["test_shop.py", "test_shop.py"], text
    assert text.index('raise ValueError("no rows for region")') < text.index(
        "assert tcg_resolve(shop")
    assert "E       tcg_core.NodeError: node 'region_total' failed (shop › region_total)" \
        in text


def test_full_trace_shows_tcgs_frames(project: pytest.Pytester, run: RunPytest) -> None:
    project.makepyfile(test_shop=TESTS)
    result = run("--full-trace")
    result.assert_outcomes(failed=1)
    assert "tcg_core/" in result.stdout.str()

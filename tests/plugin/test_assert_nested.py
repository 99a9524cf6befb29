"""``assert_nested``: the nesting tree, exact or subset, with the actual tree on failure."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_tcg import assert_nested
from tcg_core import Future, node

from .conftest import RunPytest


@node
def _add(a: int, b: int) -> int:
    return a + b


@node
def add(a: int, b: int) -> Any:
    return _add(a, b)


@node
def subtract(a: int, b: int) -> int:
    return a - b


@node
def multiply(a: int, b: int, c: int) -> int:
    return a * b * c


@node
def pipeline(a: int, b: int, c: int, d: int) -> Any:
    return multiply(add(a, b), c, subtract(c, d))


@pytest.fixture
def ran() -> Future[int]:
    f: Future[int] = pipeline(10, 2, 5, 6)
    assert f.resolve(executor="threads") == -60
    return f


def test_exact_tree(ran: Future[int]) -> None:
    assert_nested(ran, {"pipeline": ["add", "subtract", "multiply"], "add": ["_add"]})
    assert_nested(ran, {"pipeline": {"multiply", "subtract", "add"}, "add": "_add"})


def test_subset_mode(ran: Future[int]) -> None:
    assert_nested(ran, {"pipeline": ["add"]}, exact=False)
    with pytest.raises(AssertionError, match="add: not expected to have children, but has _add"):
        assert_nested(ran, {"pipeline": ["add", "subtract", "multiply"]})


def test_failure_shows_what_differs_and_the_tree(ran: Future[int]) -> None:
    with pytest.raises(AssertionError) as info:
        assert_nested(ran, {"pipeline": ["add", "divide", "multiply"], "add": ["_add"],
                            "main": ["pipeline"]})
    assert str(info.value) == "\n".join([
        "nesting differs from the expected tree:",
        "  pipeline: missing children: divide; unexpected children: subtract",
        "  main: no node has this name",
        "actual nesting tree:",
        "  pipeline",
        "  ├── add",
        "  │   └── _add",
        "  ├── subtract",
        "  └── multiply",
    ])


def test_subset_mode_reports_only_missing_children(ran: Future[int]) -> None:
    with pytest.raises(AssertionError, match=r"  add: missing children: _add \(x2\)\n"):
        assert_nested(ran, {"add": ["_add", "_add", "_add"]}, exact=False)


def test_before_the_run_there_is_no_nesting() -> None:
    with pytest.raises(AssertionError) as info:
        assert_nested(pipeline(1, 2, 3, 4), {"pipeline": ["add"]})
    assert str(info.value).endswith("actual nesting tree:\n  (no node has children)\n"
                                    "  top-level nodes without children: pipeline")


def test_user_sees_the_tree(project: pytest.Pytester, run: RunPytest) -> None:
    project.makepyfile(test_nest="""
        from pytest_tcg import assert_nested
        from tcgpipes import pipeline

        def test_nest(tcg_resolve):
            f = pipeline(10, 2, 5, 6)
            tcg_resolve(f)
            assert_nested(f, {"pipeline": ["plus", "minus"]})
    """)
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "E       AssertionError: nesting differs from the expected tree:",
        "E         pipeline: unexpected children: times",
        "E         plus: not expected to have children, but has _add",
        "E       actual nesting tree:",
        "E         pipeline",
        "E         ├── plus",
        "E         │   └── _add",
        "E         ├── minus",
        "E         └── times",
    ])

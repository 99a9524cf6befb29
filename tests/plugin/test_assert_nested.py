"""``assert_nested``: the nesting tree, exact or subset, with the actual tree on failure."""

from __future__ import annotations

import re
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


PAGES = """
from pytest_tcg import assert_nested
from tcg_core import node

@node
def parse(page):
    return page

@node
def ocr(page):
    return page

@node
def layout(page):
    return page

@node
def render(page):
    text = ocr(parse(page)) if page == 1 else parse(page)
    return layout(text)

@node
def book(pages):
    return [render(i) for i in range(pages)]

def test_every_instance(tcg_resolve):
    f = book(3)
    assert tcg_resolve(f) == [0, 1, 2]
    assert_nested(f, {"book": ["render"] * 3, "render": ["parse", "layout"]}, exact=False)
    assert_nested(f, {"book": ["render"] * 3, "render": ["parse", "layout"]})

def test_instance_by_instance(tcg_resolve):
    f = book(3)
    tcg_resolve(f)
    # Listed in any order: each matches a different render.
    assert_nested(f, {"book": ["render"] * 3, "render#1": ["parse", "ocr", "layout"],
                      "render#2": ["parse", "layout"], "render#3": ["layout", "parse"]})

def test_one_more_instance_than_listed(tcg_resolve):
    f = book(3)
    tcg_resolve(f)
    assert_nested(f, {"book": ["render"] * 3, "render#1": ["parse", "layout"],
                      "render#2": ["parse", "layout"]})

def test_a_listed_instance_that_no_node_matches(tcg_resolve):
    f = book(3)
    tcg_resolve(f)
    assert_nested(f, {"book": ["render"] * 3, "render#1": ["parse", "crop", "layout"],
                      "render#2": ["parse", "layout"], "render#3": ["parse", "layout"]})
"""


def test_repeated_parents_are_checked_per_instance(project: pytest.Pytester,
                                                   run_both: RunPytest) -> None:
    project.makepyfile(test_pages=PAGES)
    result = run_both()
    result.assert_outcomes(passed=1, failed=3)
    text = result.stdout.str()
    # The plain name says what every render holds: the odd one is named by its path.
    found = re.findall(r"render \[(\d) of 3\] \(book › render#(\d)\): unexpected children: "
                       r"ocr", text)
    assert len(found) == 1 and found[0][0] == found[0][1], text
    assert "render: not expected" not in text
    odd = found[0][0]
    result.stdout.fnmatch_lines([
        f"E         render [{odd} of 3] (book › render#{odd}): not listed, but has children "
        "layout, ocr, parse",
    ])
    result.stdout.fnmatch_lines([
        f"E         render#1: no render has these children; the closest, render [{odd} of 3] "
        f"(book › render#{odd}): missing children: crop; unexpected children: ocr",
    ])
    # The tree shows the same instance numbers as the messages.
    result.stdout.fnmatch_lines([f"E         *── render#{odd}", "E         *── layout",
                                 "E         *── ocr"])


# -- the meaning of a repeated parent's name changed in 0.2 (CHANGELOG.md) -----------------


def _two_pages(executor: Any) -> Any:
    from tcg_core import Graph
    from tests.core import _nodes_for_processes as P

    with Graph() as g:
        P.page_of(1)
        P.page_of(2)
    assert g.resolve(executor=executor) == [[1], [1, 2]]
    return g


@pytest.mark.timeout(120)
def test_a_name_listing_the_children_of_all_instances_together_passes_with_a_warning(
        every_executor: Any) -> None:
    """0.1 compared a repeated parent's children all together; 0.2 compares each
    instance. A suite written for 0.1 keeps passing for one minor version, warned."""
    g = _two_pages(every_executor)
    with pytest.warns(DeprecationWarning, match=r"'page_of#1': \[\.\.\.\]") as caught:
        assert_nested(g, {"page_of": ["add", "add", "add", "identity", "identity"]})
    assert "until 0.3" in str(caught[0].message)
    assert caught[0].filename == __file__  # points at the test's own line


@pytest.mark.timeout(120)
def test_what_each_instance_holds_passes_without_a_warning(every_executor: Any) -> None:
    import warnings

    g = _two_pages(every_executor)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_nested(g, {"page_of#1": ["add", "identity"],
                          "page_of#2": ["add", "add", "identity"]})


def test_a_listing_matching_neither_meaning_fails_without_a_warning() -> None:
    import warnings

    g = _two_pages("serial")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AssertionError, match="page_of"):
            assert_nested(g, {"page_of": ["add", "identity"]})

"""A test's graph dies with the test (issue 20): a test double answering in one test
never answers in the next (through a ``pure=True`` node's memo, which the session kept
alive by keeping every test's futures), and the values a test made are freed when it
ends, so a session's memory stays flat however many large values its tests make.

Run plain and under ``-n 1`` (one worker runs both tests in order, as a plain run does),
on serial, threads and processes."""

from __future__ import annotations

import pytest

LEAK = '''
import gc
import weakref

from tcg_core import node

REFS = []


class Big:
    def __init__(self, size):
        self.payload = bytearray(size)


@node(pure=True)
def load(name):
    return f"real {name}"


@node
def make_big(size):
    return Big(size)


def test_a_double_in_the_first_test(tcg_mock, tcg_resolve):
    tcg_mock({load: "fake"})
    assert tcg_resolve(load("a")) == "fake"


def test_the_next_test_gets_the_real_node(tcg_resolve):
    assert tcg_resolve(load("a")) == "real a"


def test_a_large_value(tcg_resolve):
    REFS.append(weakref.ref(tcg_resolve(make_big(1_000_000))))


def test_it_is_freed_when_its_test_ends():
    gc.collect()
    assert REFS and REFS[0]() is None, "the previous test's value is still alive"
'''


@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
@pytest.mark.parametrize("workers", [None, "1"], ids=["plain", "n1"])
def test_nothing_of_a_test_reaches_the_next_one(project: pytest.Pytester, executor: str,
                                                workers: str | None) -> None:
    project.makepyfile(test_leak=LEAK)
    args = ["-p", "no:cacheprovider", "-p", "no:randomly", f"--tcg-executor={executor}"]
    if workers:
        args += ["-n", workers]
    result = project.runpytest_subprocess(*args)
    result.assert_outcomes(passed=4)

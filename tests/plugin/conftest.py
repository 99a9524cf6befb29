"""Helpers for the plugin's end-to-end tests: a module of small pipelines for the pytester
projects, and a ``run`` fixture that runs pytest in them, with or without ``-n 2``."""

from __future__ import annotations

# In-process pytester runs drop the modules they imported when they end. A process pool
# pickles concurrent.futures.process._process_worker by name, so if a run's import of
# that module were dropped, the next run's pool would find a different function under
# the name and fail to start. Importing them here keeps one copy for the whole session.
import concurrent.futures.process  # noqa: F401
import multiprocessing.forkserver  # noqa: F401
from collections.abc import Callable
from typing import Any

import pytest

# The same goes for tcg_core and the plugin's lazily imported modules: a run that
# imported them first would take its Future class with it, and the next run's assertions
# would no longer recognise futures made by a fresh copy.
import pytest_tcg._assertions
import pytest_tcg._fixtures._objects
import pytest_tcg._report._hooks  # noqa: F401
import tcg_core  # noqa: F401

#: Written as ``tcgpipes.py`` into each pytester project: module-level nodes, so they
#: pickle for process workers too.
PIPES = '''
import time
from tcg_core import node


@node
def inc(x):
    return x + 1


@node
def add(a, b):
    return a + b


@node
def twice(x):
    return add(inc(x), inc(x))


@node
def nap(x, seconds=0.05):
    time.sleep(seconds)
    return x


@node
def _add(a, b):
    return a + b


@node
def plus(a, b):
    return _add(a, b)


@node
def minus(a, b):
    return a - b


@node
def times(a, b, c):
    return a * b * c


@node
def pipeline(a, b, c, d):
    return times(plus(a, b), c, minus(c, d))


def done(future):
    """Resolved: a snapshot is of a graph that has run (nested nodes included)."""
    future.resolve()
    return future
'''

RunPytest = Callable[..., pytest.RunResult]


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester project holding ``tcgpipes.py``.

    The inner runs must print what they print on a developer's machine: with ``CI`` set
    (as CI sets it) pytest stops shortening the summary lines, and a message the tests
    count would then appear twice."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BUILD_NUMBER", raising=False)
    pytester.makepyfile(tcgpipes=PIPES)
    return pytester


def _runner(pytester: pytest.Pytester, xdist: bool) -> RunPytest:
    def run(*args: Any, **kwargs: Any) -> pytest.RunResult:
        base = ["-p", "no:cacheprovider", "-W", "error", "--strict-markers"]
        if xdist:
            return pytester.runpytest_subprocess("-n", "2", *base, *args, **kwargs)
        # In process, pytest_tcg is imported already, so the inner run cannot rewrite its
        # asserts and says so; a fresh interpreter (xdist, subprocess) does not.
        return pytester.runpytest(*base, "-W", "ignore::pytest.PytestAssertRewriteWarning",
                                  *args, **kwargs)

    return run


@pytest.fixture
def run(project: pytest.Pytester) -> RunPytest:
    """Run pytest in the project in this process (fast; no xdist)."""
    return _runner(project, xdist=False)


@pytest.fixture(params=["plain", "xdist"])
def run_both(request: pytest.FixtureRequest, project: pytest.Pytester) -> RunPytest:
    """Run pytest in the project, once in process and once with ``-n 2``."""
    return _runner(project, xdist=request.param == "xdist")


@pytest.fixture
def run_sub(project: pytest.Pytester) -> RunPytest:
    """Run pytest in a subprocess (entry-point loading, environment changes)."""
    def run(*args: Any, **kwargs: Any) -> pytest.RunResult:
        return project.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error",
                                            "--strict-markers", *args, **kwargs)

    return run

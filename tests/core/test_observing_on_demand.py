"""A resolve observes (callbacks, the result cache, verbose lines) only when its own graph
needs it: a ``cache=True`` or ``verbose=True`` node function defined anywhere else in
the process used to put every later resolve on the observing loop, for good (issue 19).
A plain run that meets such a call mid-run, made by a body, starts observing there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tcg_core import CacheWarning, node, resolve
from tcg_core._scheduler._observed import ObservedRun
from tests.core import _nodes_for_cache as C

pytestmark = pytest.mark.timeout(120)


def _doubled(x: int) -> int:
    return 2 * x


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    folder = tmp_path / "runs"
    folder.mkdir()
    return folder


@pytest.fixture
def cached_elsewhere() -> Iterator[Any]:
    """A ``cache=True`` node function alive while the test runs, used by no graph."""
    yield node(cache=True)(_doubled)


@pytest.fixture
def observed_starts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the nodes an observing loop started (``ObservedRun.start`` and its
    inline path), in order."""
    seen: list[str] = []
    start, run_inline = ObservedRun.start, ObservedRun.run_inline

    def spy_start(self: ObservedRun, rec: Any) -> None:
        seen.append(rec.name)
        start(self, rec)

    def spy_inline(self: ObservedRun, rec: Any, spec: Any) -> None:
        if self.announced is not rec:
            seen.append(rec.name)
        run_inline(self, rec, spec)

    monkeypatch.setattr(ObservedRun, "start", spy_start)
    monkeypatch.setattr(ObservedRun, "run_inline", spy_inline)
    return seen


def _plain_chain() -> Any:
    return C.inc(C.inc(C.inc(1)))


def test_a_cache_node_defined_elsewhere_leaves_a_plain_resolve_unobserved(
        every_executor: Any, cached_elsewhere: Any, observed_starts: list[str]) -> None:
    assert resolve(_plain_chain(), executor=every_executor) == (4,)
    assert observed_starts == []
    assert cached_elsewhere._hooks


def test_a_graph_with_a_cached_call_is_observed_and_served_from_the_cache(
        every_executor: Any, cache: Path, runs: Path, observed_starts: list[str]) -> None:
    assert resolve(C.square(str(runs), C.inc(2)), executor=every_executor) == (9,)
    assert observed_starts == ["inc", "square"]
    again = C.square(str(runs), C.inc(2))
    assert resolve(again, executor=every_executor) == (9,)
    assert again.node.cached and C.runs_of(runs, "square") == 1


@pytest.mark.parametrize("executor", ["serial", "threads", "shuffled"])
def test_a_cached_child_made_by_a_body_starts_the_observing_loop_there(
        executor: str, cache: Path, runs: Path, observed_starts: list[str]) -> None:
    from tcg_core import ShuffledExecutor

    chosen: Any = ShuffledExecutor(seed=3) if executor == "shuffled" else executor
    assert resolve(C.square_parent(str(runs), 4), executor=chosen) == (16,)
    assert observed_starts == ["square"]  # the parent ran before it was needed
    again = C.square_parent(str(runs), 4)
    assert resolve(again, executor=chosen) == (16,)
    assert C.runs_of(runs, "square") == 1
    [child] = again.node.children
    assert child.cached


def test_a_cached_child_on_kept_processes_runs_and_says_its_cache_is_not_used(
        cache: Path, runs: Path) -> None:
    # Its values stay in the worker processes, so the run cannot store or look up one:
    # it runs the call and says so, instead of ignoring the option silently.
    with pytest.warns(CacheWarning, match=r"node 'square' .* executor='processes'"):
        assert resolve(_kept_parent(str(runs)), executor="processes") == (16,)


def _kept_parent(runs: str) -> Any:
    return C.square_parent(runs, 4)


def test_a_verbose_child_prints_its_lines_on_a_plain_run(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert resolve(C.makes_a_verbose_child(3), executor="serial") == (4,)
    assert "[tcg] makes_a_verbose_child › loud: done" in capsys.readouterr().out


@pytest.mark.parametrize("executor", ["serial", "threads"])
def test_a_mutation_checked_run_starts_observing_and_still_checks(
        executor: str, cache: Path, runs: Path) -> None:
    from tcg_core import InputMutationError

    assert resolve(C.square_parent(str(runs), 5), executor=executor,
                   check_mutation=True) == (25,)
    again = C.square_parent(str(runs), 5)
    assert resolve(again, executor=executor, check_mutation=True) == (25,)
    assert C.runs_of(runs, "square") == 1 and again.node.children[0].cached
    with pytest.raises(InputMutationError):
        resolve(C.appends_then_caches(str(runs), [1]), executor=executor, check_mutation=True)

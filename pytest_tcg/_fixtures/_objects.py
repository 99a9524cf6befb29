"""What the fixtures hand to a test: a recording graph, a resolver, a snapshot checker.

Kept apart from ``_fixtures`` so that loading the plugin does not import ``tcg_core``:
only a test that asks for one of these fixtures pays for it.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, overload

import pytest

from tcg_core import Future, Graph, GraphModel, is_future, resolve

from .._graphs import GraphLike, as_model, futures_of
from .._naming import file_name_part, names_stem
from .._snapshots._snapshot import (
    difference,
    dump,
    mismatch_message,
    missing_message,
    read,
    structure_of,
    write_atomically,
)
from .._state import item_state, state_of
from .._stats import Stats
from ._executor import ExecutorChoice, choose_executor, create_executor

__all__ = ["TcgGraph", "TcgResolve", "TcgSessionResolve", "TcgSnapshot"]

T = TypeVar("T")


class TcgGraph(Graph):
    """What ``tcg_graph`` gives a test: a recording ``Graph`` whose ``resolve()`` uses the
    test's executor by default.

    >>> def test_shape(tcg_graph: TcgGraph) -> None:  # doctest: +SKIP
    ...     with tcg_graph:
    ...         inc(inc(1))
    ...     assert tcg_graph.resolve() == [2, 3]
    """

    def __init__(self, executor: Callable[[], Any], *, check_mutation: bool = False) -> None:
        super().__init__()
        self._test_executor = executor
        self._check_mutation = check_mutation  #: --tcg-check-mutation

    def resolve(self, executor: Any = None, **options: Any) -> list[Any]:
        if self._check_mutation:
            options.setdefault("check_mutation", True)
        return super().resolve(self._test_executor() if executor is None else executor,
                               **options)


class TcgResolve:
    """What ``tcg_resolve`` gives a test: resolves futures or graphs with the test's
    executor and keeps them for the test's diagram. One future gives its value (typed
    as the future's), one Graph the list of its values, several targets a tuple.

    >>> def test_inc(tcg_resolve: TcgResolve) -> None:  # doctest: +SKIP
    ...     assert tcg_resolve(inc(1)) == 2
    """

    def __init__(self, item: pytest.Item | None, executor: Callable[[], Any], *,
                 check_mutation: bool = False) -> None:
        self._item = item
        self._executor = executor
        self._check_mutation = check_mutation  #: --tcg-check-mutation

    @property
    def executor(self) -> Any:
        """The test's executor (the ``tcg_executor`` fixture)."""
        return self._executor()

    def __repr__(self) -> str:
        # pytest's assertion text shows it: ``where 4 = tcg_resolve(<Future add#5 done>)``
        return "tcg_resolve"

    def _test(self) -> pytest.Item | None:
        """The test whose diagram records what is resolved."""
        return self._item

    @overload
    def __call__(self, target: Future[T], /, **options: Any) -> T: ...
    @overload
    def __call__(self, target: Graph, /, **options: Any) -> list[Any]: ...
    @overload
    def __call__(self, target: Any, /, *more: Any, **options: Any) -> Any: ...
    # mypy cannot match ``**options`` of the overloads to this one's (a known quirk).
    def __call__(self, *targets: Any, **options: Any) -> Any:  # type: ignore[misc]
        __tracebackhide__ = True
        if not targets:
            raise TypeError("tcg_resolve() needs a future, a Graph or a list of futures")
        if options.get("executor") is None:
            options["executor"] = self.executor
        if self._check_mutation:
            options.setdefault("check_mutation", True)
        item = self._test()
        if item is not None:
            state = item_state(item)
            for target in targets:
                state.add(target)
        everything = [f for target in targets for f in futures_of(target)]
        resolve(*everything, **options)  # one run, so shared nodes run once
        values = [self._value(target, options) for target in targets]
        return values[0] if len(values) == 1 else tuple(values)

    @staticmethod
    def _value(target: Any, options: dict[str, Any]) -> Any:
        if is_future(target):
            return target.resolve(**options)
        if isinstance(target, Graph):
            return [f.resolve(**options) for f in target.futures]
        return [TcgResolve._value(t, options) for t in target]


class TcgSessionResolve(TcgResolve):
    """What ``tcg_session_resolve`` gives: ``tcg_resolve`` for a whole session: the same
    calls, with
    the executor of the test running now (its marker, else the options), one pool per
    choice kept for the session, and each resolve recorded in that test's diagram. Being
    session-scoped, Hypothesis' health check for function-scoped fixtures never fires."""

    def __init__(self, config: pytest.Config) -> None:
        super().__init__(None, lambda: None,
                         check_mutation=state_of(config).settings.check_mutation)
        self._config = config
        self._pools: dict[tuple[Any, int | None], tuple[Any, Callable[[], None] | None]] = {}

    def _test(self) -> pytest.Item | None:
        return state_of(self._config).current

    def __repr__(self) -> str:
        return "tcg_session_resolve"

    @property
    def executor(self) -> Any:
        """The executor the running test asked for, made once per session."""
        item = self._test()
        settings = state_of(self._config).settings
        if settings.shuffle is not None and item is not None:  # as tcg_executor does
            from tcg_core import ShuffledExecutor

            from .._config import test_seed

            return ShuffledExecutor(seed=test_seed(settings.shuffle, item.nodeid))
        choice = choose_executor(item, settings) if item is not None else ExecutorChoice(
            settings.executor or "threads", settings.workers, "--tcg-executor")
        key = (choice.executor if isinstance(choice.executor, str) else id(choice.executor),
               choice.workers)
        if key not in self._pools:
            self._pools[key] = create_executor(choice)
        return self._pools[key][0]

    def close(self) -> None:
        """Shut down the pools this session made."""
        for _, close in self._pools.values():
            if close is not None:
                close()
        self._pools.clear()


class TcgSnapshot:
    """Compares a graph's structure with the test's snapshot file; see ``tcg_snapshot``."""

    def __init__(self, item: pytest.Item, update: bool, stats: Stats) -> None:
        self._item = item
        self._update = update
        self._stats = stats

    def path(self, name: str | None = None) -> Path:
        """The snapshot file for ``name`` (the test's own file when ``None``)."""
        item = self._item
        test_name = names_stem(item.nodeid.partition("::")[2] or item.name)
        suffix = "" if name is None else "." + _check_name(name)
        folder = Path(item.path).parent / "__tcg_snapshots__" / Path(item.path).stem
        return folder / f"{test_name}{suffix}.json"

    def __call__(self, graph: GraphLike = None, *, name: str | None = None) -> None:
        __tracebackhide__ = True
        state = item_state(self._item)
        if name is None:
            state.snapshot_calls += 1
            if state.snapshot_calls > 1:
                name = str(state.snapshot_calls)
        model = self._model(graph)
        _refuse_unfinished("tcg_snapshot", model)
        self.check(model, self.path(name))

    def _model(self, graph: GraphLike) -> GraphModel:
        if graph is not None:
            return as_model(graph)
        model = item_state(self._item).model()
        if model is None:
            pytest.fail("tcg_snapshot() found no graph for this test: build it in the "
                        "tcg_graph fixture, resolve it with tcg_resolve, or pass it: "
                        "tcg_snapshot(graph)", pytrace=False)
        return model

    def check(self, model: GraphModel, path: Path) -> None:
        __tracebackhide__ = True
        self._stats.snapshot_used.append(str(path))
        actual = structure_of(model)
        stored, problem = read(path)
        if self._update:
            if stored is None or difference(stored, actual) is not None:
                write_atomically(path, dump(actual))
                self._stats.snapshots_written += 1
            else:
                self._stats.snapshots_passed += 1
            return
        if problem is not None:
            # A corrupt file fails this test alone, with one line (and is simply
            # rewritten under --tcg-snapshot-update).
            self._stats.snapshots_failed += 1
            pytest.fail(f"graph snapshot {self._shown(path)} is unreadable ({problem}); "
                        "delete it or run pytest with --tcg-snapshot-update to rewrite it",
                        pytrace=False)
        if stored is None:
            self._stats.snapshots_failed += 1
            pytest.fail(missing_message(self._shown(path)), pytrace=False)
        diff = difference(stored, actual)
        if diff is not None:
            self._stats.snapshots_failed += 1
            pytest.fail(mismatch_message(self._shown(path), diff), pytrace=False)
        self._stats.snapshots_passed += 1

    def _shown(self, path: Path) -> str:
        root = self._item.config.rootpath
        try:
            return str(path.relative_to(root))
        except ValueError:
            return str(path)


def _refuse_unfinished(where: str, model: GraphModel) -> None:
    """Warn of a check of a graph that has not (all) run: the nodes its bodies create
    exist only once they run, so a snapshot taken now holds the outer nodes alone, and
    passes later against a graph that has lost its insides. Deprecated in 0.3 (a
    ``DeprecationWarning``, so a suite that relied on it is told, not broken); an error
    from 0.4."""
    unfinished = [rec for rec in model.nodes if rec.state not in ("done", "failed",
                                                                 "skipped")]
    if unfinished:
        import warnings

        names = ", ".join(f"{rec.name} ({rec.state})" for rec in unfinished[:5])
        more = f" and {len(unfinished) - 5} more" if len(unfinished) > 5 else ""
        warnings.warn(DeprecationWarning(
            f"{where}() got a graph that has not run to the end: {names}{more}. Nodes "
            "created by bodies exist only once they run, so the snapshot may hold the "
            "outer nodes alone: resolve it first (tcg_resolve(...) or graph.resolve()). "
            "Deprecated since 0.3; from 0.4 this fails"), stacklevel=3)


def _check_name(name: str) -> str:
    return file_name_part("snapshot", name)


# Reprs and tracebacks name them where test authors import them from.
for _public in (TcgGraph, TcgResolve, TcgSessionResolve, TcgSnapshot):
    _public.__module__ = "pytest_tcg"
del _public

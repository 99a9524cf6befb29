"""pytest-tcg: test computation-graph pipelines with pytest.

The plugin (``pytest_tcg.plugin``, loaded through the ``pytest11`` entry point ``tcg``)
adds the fixtures ``tcg_graph``, ``tcg_resolve``, ``tcg_executor``, ``tcg_snapshot`` and
``tcg_mock`` (typed ``TcgGraph``, ``TcgResolve``, ``TcgSnapshot``, ``TcgMock``), the
marker ``@pytest.mark.tcg(executor=..., workers=...)`` and the
``--tcg-*`` options.
The assertions below work with or without it. Hypothesis strategies live in
``pytest_tcg.strategies``.

Its rooms: ``plugin`` (the hooks, each a call into ``_session.TcgSession``, which owns
the session), ``_options``/``_settings``/``_config`` (the options table, what it asked
for, the parsers), and the feature folders ``_fixtures/``, ``_assertions/`` (pure),
``_snapshots/``, ``_report/`` and ``_coverage/``; ``docs/explanation/how-it-works.md``
has the map.

>>> from tcg_core import node
>>> from pytest_tcg import assert_graph_shape
>>> @node
... def inc(x):
...     return x + 1
>>> assert_graph_shape(inc(inc(1)), {"inc#2": {"inc#1"}})
"""

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._assertions import (
        OrderAssertionError,
        SpeedupAssertionError,
        assert_graph_shape,
        assert_nested,
        assert_order_independent,
        assert_parallel_speedup,
        assert_ran_in_parallel,
        assert_simulated_speedup,
    )
    from ._assertions._timing import SpeedupReport
    from ._fixtures._mock import TcgMock
    from ._fixtures._objects import TcgGraph, TcgResolve, TcgSessionResolve, TcgSnapshot
    from ._fixtures._regression import TcgRegression

__all__ = [
    "assert_graph_shape", "assert_nested", "assert_ran_in_parallel",
    "assert_parallel_speedup", "assert_simulated_speedup", "SpeedupReport",
    "SpeedupAssertionError", "assert_order_independent", "OrderAssertionError",
    "TcgGraph", "TcgResolve", "TcgSessionResolve", "TcgSnapshot", "TcgMock", "TcgRegression",
]

#: The fixtures' types, for annotating tests (``def test_x(tcg_resolve: TcgResolve)``).
_FIXTURE_TYPES = {"TcgGraph": "_fixtures._objects", "TcgResolve": "_fixtures._objects",
                  "TcgSessionResolve": "_fixtures._objects", "TcgSnapshot": "_fixtures._objects",
                  "TcgMock": "_fixtures._mock", "TcgRegression": "_fixtures._regression"}


__version__: str  # read from the installed distribution (pyproject.toml holds the number)


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("pytest-tcg")
    # Loaded on first use: the plugin imports this package in every pytest run, and a
    # run that never asserts on a graph should not pay for the assertion helpers.
    if name in _FIXTURE_TYPES:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_FIXTURE_TYPES[name]}"), name)
    if name == "SpeedupReport":
        from ._assertions._timing import SpeedupReport

        return SpeedupReport
    if name in __all__:
        from . import _assertions

        return getattr(_assertions, name)
    raise AttributeError(f"module 'pytest_tcg' has no attribute {name!r}")

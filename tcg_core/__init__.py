"""tcg_core: lazy computation graphs of plain Python functions, run in parallel.

Its rooms (``docs/explanation/how-it-works.md`` follows one ``resolve()`` through them):
``_node``/``_signature`` (``@node`` and its calls), ``_record``/``_refs``/``_future``/
``_graph`` (a call's record and what it refers to, the user's ``Future``, the graph
model), ``_values`` (futures inside values), ``_options`` (checked options),
``_scheduler/`` (one resolve: its state, the lifecycle's transitions and their table,
the loop, and one run per way of running), ``_executors/`` (where bodies run),
``_context`` (what a body sees; an outcome on its way back), ``_callbacks``/
``_progress``/``_logs``/``_cache`` (observing a resolve, the result cache),
``_export/``/``_simulate`` (diagrams, traces, a simulated schedule).

>>> from tcg_core import node
>>> @node
... def add(a, b):
...     return a + b
>>> add(add(1, 2), 4).resolve()
7
"""

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from typing import TYPE_CHECKING, Any

from ._cache import CacheWarning, cache_dir
from ._callbacks import Callback, CallbackWarning
from ._errors import (
                      CycleError,
                      DependencyError,
                      InputMutationError,
                      NodeError,
                      NodeFailures,
                      NodeTimeoutError,
                      RecursionDepthError,
                      RemoteError,
                      ReplacementError,
                      ResolveCancelled,
                      SerializationError,
                      TcgError,
)
from ._executors import (
    DEFAULT_THREAD_WORKERS,
    ProcessesExecutor,
    ShuffledExecutor,
    ThreadsExecutor,
)
from ._future import Future, Graph, is_future, resolve
from ._graph import GraphModel
from ._logs import LogCallback
from ._node import MultiNodeFunction, Node, NodeFunction, PureNodeFunction, node
from ._options import DEFAULT_MAX_DEPTH
from ._progress import ProgressBar, progress
from ._record import NodeRecord, NodeState
from ._scheduler import Override, override
from ._simulate import Schedule, simulate
from ._values import register_container

# The exporters load on first use: ``import tcg_core`` stays cheap (the pytest plugin
# imports it in every test session).
_EXPORTERS = ("load_json", "save", "to_chrome_trace", "to_dot", "to_json", "to_mermaid",
              "to_networkx", "to_pydot")

if TYPE_CHECKING:
    from ._export import (
        load_json,
        save,
        to_chrome_trace,
        to_dot,
        to_json,
        to_mermaid,
        to_networkx,
        to_pydot,
    )


__version__: str  # read from the installed distribution (pyproject.toml holds the number)


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("pytest-tcg")
    if name in _EXPORTERS:
        from . import _export

        return getattr(_export, name)
    raise AttributeError(f"module 'tcg_core' has no attribute {name!r}")


__all__ = [
    "node", "Node", "NodeFunction", "MultiNodeFunction", "Future", "is_future", "resolve",
    "Graph", "GraphModel", "NodeRecord", "NodeState", "DEFAULT_MAX_DEPTH", "ThreadsExecutor",
    "DEFAULT_THREAD_WORKERS", "ProcessesExecutor",
    "ShuffledExecutor", "simulate", "Schedule", "override", "Override",
    "TcgError", "NodeError", "NodeFailures", "NodeTimeoutError", "DependencyError",
    "InputMutationError", "RecursionDepthError", "ReplacementError", "CycleError",
    "SerializationError", "ResolveCancelled", "RemoteError",
    "to_networkx", "to_pydot", "to_dot", "to_mermaid", "to_json", "load_json",
    "to_chrome_trace", "save", "Callback", "CallbackWarning", "LogCallback", "ProgressBar",
    "progress", "CacheWarning", "cache_dir", "PureNodeFunction",
    "register_container",
]

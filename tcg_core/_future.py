"""The user's two handles on a graph: ``Future`` (one call) and ``Graph`` (a recording).

They sit above the scheduler and call down into it; the scheduler only knows their
low base class (``Handle``). ``Future.graph`` and ``Graph`` need each other, so they
share this module.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar, overload

from ._context import RecordingFrame, enter, leave
from ._graph import GraphModel
from ._options import ResolveOptions
from ._record import Handle, NodeRecord, NodeState
from ._scheduler import resolve_handles
from ._values import scan_futures, substitute

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._options import ResolveKeywords, RunKeywords

__all__ = ["Future", "Graph", "ItemFuture", "is_future", "require_futures", "resolve"]

R = TypeVar("R")


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"

    def __reduce__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()

_HOW_TO_USE = ("resolve it first (value = f.resolve()) or pass it to a @node function, "
               "which receives the value")


class Future(Handle, Generic[R]):
    """The lazy result of calling a ``@node`` function.

    Nothing runs until ``resolve()``. Pass a future to another node to make it an input.

    >>> from tcg_core import node
    >>> @node
    ... def add(a, b):
    ...     return a + b
    >>> total = add(add(1, 2), 3)
    >>> total
    <Future add#... pending>
    >>> total.resolve()
    6
    """

    __slots__ = ("_graph",)

    _graph: Graph  #: the Graph that recorded this future, if one did

    def __init__(self, record: NodeRecord) -> None:
        self._record = record
        self._value = UNSET
        record._future = self

    # -- the user's handle ---------------------------------------------------------------
    @property
    def node(self) -> NodeRecord:
        """The graph record of the call this future stands for."""
        return self._record

    @property
    def name(self) -> str:
        """The node's name (the function's, unless ``@node(name=...)`` said otherwise)."""
        return self._record.name

    @property
    def state(self) -> str:
        """The node's lifecycle state: one of ``tcg_core.NodeState``'s values."""
        return self._record.state

    def done(self) -> bool:
        """True once the value is available."""
        return self._record.state == NodeState.DONE and self._value is not UNSET

    @property
    def graph(self) -> Graph:
        """The ``Graph`` this future belongs to: the one that recorded it (``with
        Graph() as g:``), else a graph of every node it reaches through inputs,
        children and parents.

        >>> from tcg_core import Graph, node
        >>> @node
        ... def one():
        ...     return 1
        >>> one().graph.nodes[0].name
        'one'
        >>> with Graph() as g:
        ...     a = one()
        >>> a.graph is g
        True
        """
        recorded = getattr(self, "_graph", None)
        return recorded if recorded is not None else Graph([self])

    def resolve(self, executor: Any = None, **options: Unpack[RunKeywords]) -> R:
        """Run what this future needs and return its value (see ``tcg_core.resolve``).

        >>> from tcg_core import node
        >>> @node
        ... def double(x):
        ...     return 2 * x
        >>> double(21).resolve(executor="serial")
        42
        """
        checked = ResolveOptions.check("resolve()", {"executor": executor, **options})
        value: R = resolve_handles([self], checked)[0]
        return value

    def __getitem__(self, key: Any) -> Future[Any]:
        """A lazy item access: ``f[0]`` is a future of ``f``'s value ``[0]``."""
        return ItemFuture(self, key)

    # -- a future used as a value is a mistake: say how to do it instead ------------------
    def _misuse(self, what: str) -> NoReturn:
        raise TypeError(f"a Future ({self._record.name!r}) {what}; {_HOW_TO_USE}")

    def __bool__(self) -> bool:
        self._misuse("has no truth value")

    def __len__(self) -> int:
        self._misuse("has no length until it is resolved; use @node(nout=N) to unpack "
                     "N outputs")

    def __iter__(self) -> NoReturn:
        self._misuse("cannot be iterated; use @node(nout=N) to unpack N outputs, or f[i]")

    def __index__(self) -> int:
        self._misuse("is not a number")

    def __int__(self) -> int:
        self._misuse("is not a number")

    def __float__(self) -> float:
        self._misuse("is not a number")

    def __contains__(self, item: object) -> bool:
        self._misuse("has no items to search")

    # ``f == 1`` would otherwise be a silent False; identity comparison stays available
    # through ``is``, and hashing by identity keeps futures usable as dict keys and in sets
    # (a dict compares keys with ``==`` only when their hashes are equal, and distinct
    # live objects never share an identity hash).
    def __eq__(self, other: object) -> bool:
        self._misuse("cannot be compared with '==' before it is resolved (to compare "
                     "futures themselves, use 'is')")

    def __ne__(self, other: object) -> bool:
        self._misuse("cannot be compared with '!=' before it is resolved (to compare "
                     "futures themselves, use 'is not')")

    def __hash__(self) -> int:  # by identity, so futures still work as dict keys
        return object.__hash__(self)

    def __repr__(self) -> str:
        rec = self._record
        return f"<Future {rec.name}#{rec.id} {rec.state}>"

    def __getstate__(self) -> tuple[Any, Any]:
        return (self._record, self._value)

    def __setstate__(self, state: tuple[Any, Any]) -> None:
        self._record, self._value = state
        if self._record._future is None and self._record.state == NodeState.PENDING:
            self._record._future = self


def _refuse_operator(symbol: str) -> Callable[..., NoReturn]:
    def refuse(self: Future[Any], *other: Any) -> NoReturn:
        self._misuse(f"cannot be used with {symbol!r} before it is resolved")
    return refuse


for _dunder, _symbol in [
    ("add", "+"), ("sub", "-"), ("mul", "*"), ("truediv", "/"), ("floordiv", "//"),
    ("mod", "%"), ("pow", "**"), ("matmul", "@"), ("and", "&"), ("or", "|"), ("xor", "^"),
    ("lshift", "<<"), ("rshift", ">>"),
]:
    setattr(Future, f"__{_dunder}__", _refuse_operator(_symbol))
    setattr(Future, f"__r{_dunder}__", _refuse_operator(_symbol))
for _dunder, _symbol in [("lt", "<"), ("le", "<="), ("gt", ">"), ("ge", ">="),
                         ("neg", "unary -"), ("pos", "unary +"), ("abs", "abs()"),
                         ("invert", "~")]:
    setattr(Future, f"__{_dunder}__", _refuse_operator(_symbol))


class ItemFuture(Future[Any]):
    """``base[key]``, computed when ``base`` is."""

    __slots__ = ("_base", "_key")

    def __init__(self, base: Future[Any], key: Any) -> None:
        self._record = base._record
        self._value = UNSET
        self._base = base  #: the future whose value is indexed
        self._key = key  #: the index

    def _get(self) -> Any:
        return self._base._get()[self._key]

    def done(self) -> bool:
        return self._base.done()

    @property
    def graph(self) -> Graph:
        return self._base.graph

    def __repr__(self) -> str:
        return f"<Future {self._record.name}#{self._record.id}[{self._key!r}] " \
               f"{self._record.state}>"

    def __getstate__(self) -> tuple[Any, Any]:
        return (self._base, self._key)

    def __setstate__(self, state: Any) -> None:
        self._base, self._key = state
        self._record = self._base._record
        self._value = UNSET


def is_future(obj: object) -> bool:
    """True for the futures ``@node`` calls return.

    >>> from tcg_core import is_future, node
    >>> is_future(node(abs)(-1)), is_future(1)
    (True, False)
    """
    return isinstance(obj, Future)


def require_futures(objs: tuple[Any, ...], where: str) -> list[Future[Any]]:
    """Check every object is a Future, with a message that shows the fix."""
    futures = []
    for obj in objs:
        if not isinstance(obj, Future):
            hint = ""
            if getattr(type(obj), "_tcg_node", False) is True:
                hint = f" Call it first: {obj.name}(...) returns a Future."
            elif callable(obj):
                hint = " It looks like a function: decorate it with @node and call it."
            raise TypeError(f"{where} takes futures returned by calling a @node function, "
                            f"not {type(obj).__name__} {obj!r:.60}.{hint}")
        futures.append(obj)
    return futures


T1 = TypeVar("T1")
T2 = TypeVar("T2")
T3 = TypeVar("T3")
T4 = TypeVar("T4")


# Precise tuples for the common few futures; more (or anything else) is a tuple of Any.
@overload
def resolve(f1: Future[T1], /, **options: Unpack[ResolveKeywords]) -> tuple[T1]: ...
@overload
def resolve(f1: Future[T1], f2: Future[T2], /,
            **options: Unpack[ResolveKeywords]) -> tuple[T1, T2]: ...
@overload
def resolve(f1: Future[T1], f2: Future[T2], f3: Future[T3], /,
            **options: Unpack[ResolveKeywords]) -> tuple[T1, T2, T3]: ...
@overload
def resolve(f1: Future[T1], f2: Future[T2], f3: Future[T3], f4: Future[T4], /,
            **options: Unpack[ResolveKeywords]) -> tuple[T1, T2, T3, T4]: ...
@overload
def resolve(*futures: Any, **options: Unpack[ResolveKeywords]) -> tuple[Any, ...]: ...


def resolve(*objs: Any, **options: Unpack[ResolveKeywords]) -> tuple[Any, ...]:
    """Resolve futures, or structures holding futures, in one run; returns a tuple with
    one value per argument: a future's value, or the structure rebuilt with every future
    replaced by its value (through every container kind tcg traverses, see
    ``register_container``). Anything else comes back as it is.

    ``executor`` is ``"threads"`` (default), ``"serial"``, ``"processes"``, ``"dask"``,
    a ``tcg_core.ThreadsExecutor``, a ``tcg_core.ShuffledExecutor`` (a seeded random
    order, to find order bugs), any ``concurrent.futures.Executor`` or a
    ``distributed.Client``. ``max_workers`` caps how many bodies run at once;
    ``keep_going`` finishes every branch a failure does not touch; ``max_depth``
    bounds nesting (runaway recursion); ``inline_tiny`` lets nodes measured to take
    microseconds run without a thread hand-off; ``check_mutation`` fails a node whose
    body changed one of its arguments (``InputMutationError``).

    >>> from tcg_core import node, resolve
    >>> @node
    ... def square(x):
    ...     return x * x
    >>> resolve(square(2), square(3), executor="serial")
    (4, 9)
    >>> resolve({"a": square(1), "b": [square(2), 3]}, executor="serial")
    ({'a': 1, 'b': [4, 3]},)
    """
    checked = ResolveOptions.check("resolve()", options)
    handles: list[Handle] = []
    plain = True
    for obj in objs:
        if isinstance(obj, Future):
            handles.append(obj)
            continue
        plain = False
        if getattr(type(obj), "_tcg_node", False) is True or callable(obj):
            require_futures((obj,), "resolve()")  # a function not called: say so
        scan_futures(obj, handles)
    values = resolve_handles(handles, checked) if handles else []
    if plain:
        return tuple(values)
    return tuple([substitute(obj) for obj in objs])


class Graph(GraphModel):
    """A graph that records every future created inside ``with Graph() as g:``.

    Futures are recorded whether or not anything consumes them, and ``g.resolve()``
    runs them all. Nodes created inside node bodies are reached as children. One Graph
    may be entered in several threads at once: each thread's entry is its own, and the
    futures of all of them are recorded.

    >>> from tcg_core import Graph, node
    >>> @node
    ... def inc(x):
    ...     return x + 1
    >>> with Graph() as g:
    ...     a = inc(1)
    ...     b = inc(a)
    ...     unused = inc(10)
    >>> g.resolve(executor="serial")
    [2, 3, 11]
    >>> len(g.nodes), b.resolve()
    (3, 3)
    """

    def __init__(self, futures: list[Future[Any]] | None = None) -> None:
        super().__init__()
        self._frame = RecordingFrame(self)  #: where futures created inside are recorded
        if futures:
            self._frame.futures.extend(futures)

    @classmethod
    def of(cls, *futures: Future[Any]) -> Graph:
        """A graph of the given futures and everything they reach.

        >>> from tcg_core import Graph, node
        >>> len(Graph.of(node(abs)(-1)).nodes)
        1
        """
        return cls(require_futures(futures, "Graph.of()"))

    def __enter__(self) -> Graph:
        enter(self._frame)
        return self

    def __exit__(self, *exc: object) -> None:
        leave(self._frame)

    def _seed_records(self) -> list[NodeRecord]:
        return [f._record for f in self._frame.futures] + self._seeds

    @property
    def futures(self) -> list[Future[Any]]:
        """The futures recorded directly in this graph, in creation order."""
        return list(self._frame.futures)

    def add(self, *futures: Future[Any]) -> None:
        """Record futures created elsewhere.

        >>> from tcg_core import Graph, node
        >>> g = Graph()
        >>> g.add(node(abs)(-2))
        >>> g.resolve()
        [2]
        """
        self._frame.futures.extend(require_futures(futures, "Graph.add()"))

    def resolve(self, executor: Any = None, **options: Unpack[RunKeywords]) -> list[Any]:
        """Resolve every recorded future in one run; returns their values in order."""
        checked = ResolveOptions.check("Graph.resolve()", {"executor": executor, **options})
        return resolve_handles(list(self._frame.futures), checked)

    def value(self, name: str) -> Any:
        """The value of the one recorded future whose node is called ``name``."""
        matches = [f for f in self._frame.futures if f._record.name == name]
        if len(matches) != 1:
            raise LookupError(f"{len(matches)} recorded futures named {name!r}")
        return matches[0].resolve()

    # -- views (each delegates to an exporter that reads the graph model only) -----------
    def to_networkx(self, **options: Any) -> Any:
        """A ``networkx.DiGraph`` of data edges; node attributes name/parent/state/duration."""
        from ._export import to_networkx

        return to_networkx(self, **options)

    def to_pydot(self, **options: Any) -> Any:
        """A ``pydot.Dot`` with nested nodes drawn as clusters inside their parent."""
        from ._export import to_pydot

        return to_pydot(self, **options)

    def to_dot(self, **options: Any) -> str:
        """Graphviz DOT text (clusters for nesting)."""
        from ._export import to_dot

        return to_dot(self, **options)

    def to_mermaid(self, **options: Any) -> str:
        """Mermaid flowchart text (subgraphs for nesting)."""
        from ._export import to_mermaid

        return to_mermaid(self, **options)

    def to_json(self, **options: Any) -> str:
        """JSON text of nodes, edges, nesting and timings (load with ``tcg_core.load_json``)."""
        from ._export import to_json

        return to_json(self, **options)

    def to_chrome_trace(self) -> str:
        """The execution timeline as Trace Event Format JSON (Perfetto, chrome://tracing)."""
        from ._export import to_chrome_trace

        return to_chrome_trace(self)

    def save(self, path: str | Path) -> Path:
        """Write the graph; the format comes from the extension (see ``tcg_core.save``)."""
        from ._export import save

        return save(self, path)

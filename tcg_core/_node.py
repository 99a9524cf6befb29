"""``@node`` and ``Future``: calling a node records a call instead of running it."""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from typing import Any, Generic, NoReturn, TypeVar, overload

from ._context import current_frame
from ._graph import NodeRecord, NodeState

__all__ = ["Future", "Node", "NodeFunction", "is_future", "node", "scan_futures", "substitute"]

R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

_CONTAINERS = (list, tuple, set, frozenset, dict)


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"

    def __reduce__(self) -> str:
        return "_UNSET"


_UNSET: Any = _Unset()

_HOW_TO_USE = ("resolve it first (value = f.resolve()) or pass it to a @node function, "
               "which receives the value")


class Future(Generic[R]):
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

    __slots__ = ("__weakref__", "_record", "_value")

    def __init__(self, record: NodeRecord) -> None:
        self._record = record
        self._value: Any = _UNSET
        record._handle = self

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
        """``pending``, ``running``, ``done``, ``failed`` or ``skipped``."""
        return self._record.state

    def done(self) -> bool:
        """True once the value is available."""
        return self._record.state == NodeState.DONE and self._value is not _UNSET

    @property
    def graph(self) -> Any:
        """The ``Graph`` this future belongs to: every node it reaches through inputs,
        children and parents.

        >>> from tcg_core import node
        >>> @node
        ... def one():
        ...     return 1
        >>> one().graph.nodes[0].name
        'one'
        """
        from ._recorder import Graph

        return Graph([self])

    def resolve(self, executor: Any = None, **options: Any) -> R:
        """Run what this future needs and return its value (see ``tcg_core.resolve``).

        >>> from tcg_core import node
        >>> @node
        ... def double(x):
        ...     return 2 * x
        >>> double(21).resolve(executor="serial")
        42
        """
        from ._scheduler import resolve_futures

        value: R = resolve_futures([self], executor=executor, **options)[0]
        return value

    def _get(self) -> Any:
        return self._value

    def __getitem__(self, key: Any) -> Future[Any]:
        """A lazy item access: ``f[0]`` is a future of ``f``'s value ``[0]``."""
        return _ItemFuture(self, key)

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

    def __repr__(self) -> str:
        rec = self._record
        return f"<Future {rec.name}#{rec.id} {rec.state}>"

    def __getstate__(self) -> tuple[Any, Any]:
        return (self._record, self._value)

    def __setstate__(self, state: tuple[Any, Any]) -> None:
        self._record, self._value = state
        if self._record._handle is None and self._record.state == NodeState.PENDING:
            self._record._handle = self


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


class _ItemFuture(Future[Any]):
    """``base[key]``, computed when ``base`` is."""

    __slots__ = ("_base", "_key")

    def __init__(self, base: Future[Any], key: Any) -> None:
        self._record = base._record
        self._value = _UNSET
        self._base = base
        self._key = key

    def _get(self) -> Any:
        return self._base._get()[self._key]

    def done(self) -> bool:
        return self._base.done()

    def __repr__(self) -> str:
        return f"<Future {self._record.name}#{self._record.id}[{self._key!r}] " \
               f"{self._record.state}>"

    def __getstate__(self) -> tuple[Any, Any]:
        return (self._base, self._key)

    def __setstate__(self, state: Any) -> None:
        self._base, self._key = state
        self._record = self._base._record
        self._value = _UNSET


def is_future(obj: object) -> bool:
    """True for the futures ``@node`` calls return."""
    return isinstance(obj, Future)


def scan_futures(obj: Any, found: list[Future[Any]]) -> None:
    """Append every future inside ``obj`` (through lists, tuples, sets and dicts)."""
    cls = obj.__class__
    if cls is Future or cls is _ItemFuture or isinstance(obj, Future):
        found.append(obj)
    elif cls in _CONTAINERS:
        if cls is dict:
            for key, value in obj.items():
                scan_futures(key, found)
                scan_futures(value, found)
        else:
            for item in obj:
                scan_futures(item, found)


def substitute(obj: Any) -> Any:
    """``obj`` with every future replaced by its value (containers are rebuilt)."""
    cls = obj.__class__
    if cls is Future:
        return obj._value
    if cls is tuple:
        return tuple([substitute(item) for item in obj])
    if cls is list:
        return [substitute(item) for item in obj]
    if cls is dict:
        return {substitute(k): substitute(v) for k, v in obj.items()}
    if cls is set or cls is frozenset:
        return cls(substitute(item) for item in obj)
    if isinstance(obj, Future):
        return obj._get()
    return obj


def _make_binder(func: Callable[..., Any]) -> Callable[..., None] | None:
    """A no-op function with ``func``'s parameters, so a wrong call fails at the call site
    with Python's own message, at a fraction of ``Signature.bind``'s cost."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    params, star_done, pos_only_seen = [], False, False
    for p in sig.parameters.values():
        if p.kind is p.POSITIONAL_ONLY:
            pos_only_seen = True
        elif pos_only_seen:
            params.append("/")
            pos_only_seen = False
        if p.kind is p.KEYWORD_ONLY and not star_done:
            params.append("*")
            star_done = True
        if p.kind is p.VAR_POSITIONAL:
            params.append(f"*{p.name}")
            star_done = True
        elif p.kind is p.VAR_KEYWORD:
            params.append(f"**{p.name}")
        else:
            params.append(p.name + ("=None" if p.default is not p.empty else ""))
    if pos_only_seen:
        params.append("/")
    namespace: dict[str, Any] = {}
    exec(f"def _binder({', '.join(params)}):\n    pass", namespace)
    binder = namespace["_binder"]
    # Python names the function in TypeErrors: make it the user's, not ours.
    name = getattr(func, "__name__", type(func).__name__)
    binder.__name__ = binder.__qualname__ = name
    binder.__defaults__ = getattr(func, "__defaults__", None)
    binder.__kwdefaults__ = getattr(func, "__kwdefaults__", None)
    return binder  # type: ignore[no-any-return]


def _argument_names(func: Callable[..., Any]) -> tuple[list[str], str | None]:
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return [], "args"
    positional = [p.name for p in sig.parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    star = next((p.name for p in sig.parameters.values() if p.kind is p.VAR_POSITIONAL), None)
    return positional, star


def _positional_arity(func: Callable[..., Any]) -> tuple[int, int]:
    """How many positional arguments make a valid call on their own: ``(1, 0)``
    (none do) when a keyword-only parameter has no default."""
    sig = inspect.signature(func)
    low = high = 0
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            high += 1
            low += p.default is p.empty
        elif p.kind is p.VAR_POSITIONAL:
            high = sys.maxsize
        elif p.kind is p.KEYWORD_ONLY and p.default is p.empty:
            return 1, 0
    return low, high


class NodeFunction(Generic[R]):
    """A function decorated with ``@node``: calling it returns a ``Future``.

    ``func`` is the undecorated function, for direct unit tests.

    >>> from tcg_core import node
    >>> @node
    ... def add(a, b):
    ...     return a + b
    >>> add.func(1, 2)
    3
    >>> add(1, 2).resolve()
    3
    """

    _tcg_node = True

    name: str

    def __init__(self, func: Callable[..., R], *, name: str | None = None,
                 nout: int | None = None, cost: float | None = None, retries: int = 0,
                 timeout: float | None = None) -> None:
        if not callable(func):
            raise TypeError(f"@node decorates a function, not {type(func).__name__}")
        if isinstance(func, NodeFunction):
            raise TypeError(f"{func.name!r} is already a @node; decorate it once")
        if nout is not None and (not isinstance(nout, int) or nout < 1):
            raise ValueError(f"nout must be a positive int, got {nout!r}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries!r}")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if cost is not None and cost < 0:
            raise ValueError(f"cost must be >= 0, got {cost!r}")
        functools.update_wrapper(self, func)
        self.func = func
        self.name = name or getattr(func, "__name__", None) or type(func).__name__
        self.nout = nout
        self.cost = cost
        self.retries = retries
        self.timeout = timeout
        self.mean_duration: float | None = None
        self._binder = _make_binder(func)
        self._positional, self._star = _argument_names(func)
        self._n_named = len(self._positional)
        self._name_tuples: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._labels_by_count: dict[int, tuple[str, ...]] = {}
        self._min_args, self._max_args = _positional_arity(func) if self._binder else (1, 0)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs or not self._min_args <= len(args) <= self._max_args:
            if self._binder is not None:  # else the call is valid by its arity alone
                self._binder(*args, **kwargs)
        for arg in args:
            if arg.__class__ is not Future:
                record = self._record_call(args, kwargs)
                break
        else:
            # Only plain futures, passed by position: the common case needs no scan.
            if kwargs:
                record = self._record_call(args, kwargs)
            else:
                labels = (self._labels_by_count.get(len(args))
                          or self._labels_for_count(len(args)))
                # A lone future is kept as itself: a tuple per node would be one more
                # object for every full GC collection to rescan while the graph grows.
                record = NodeRecord(self, args[0] if len(args) == 1 else args, None, None,
                                    labels)
        future: Future[Any] = Future(record)
        frame = current_frame()
        if frame is not None:
            frame.futures.append(future)
        if self.nout is not None:
            return tuple(_ItemFuture(future, i) for i in range(self.nout))
        return future

    def _record_call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> NodeRecord:
        """The record of a call whose arguments may hold futures anywhere."""
        inputs: list[NodeRecord] = []
        names: list[str] = []
        for index, arg in enumerate(args):
            cls = arg.__class__
            if cls is Future:
                inputs.append(arg._record)
                names.append(self._positional_name(index))
            elif cls in _CONTAINERS or isinstance(arg, Future):
                found: list[Future[Any]] = []
                scan_futures(arg, found)
                inputs.extend(f._record for f in found)
                names.extend([self._positional_name(index)] * len(found))
        for key, arg in kwargs.items():
            found = []
            scan_futures(arg, found)
            inputs.extend(f._record for f in found)
            names.extend([key] * len(found))
        labels = tuple(names)
        labels = self._name_tuples.setdefault(labels, labels)  # share equal tuples
        return NodeRecord(self, args, kwargs or None, tuple(inputs), labels)

    def _labels_for_count(self, count: int) -> tuple[str, ...]:
        labels = tuple(self._positional_name(i) for i in range(count))
        labels = self._name_tuples.setdefault(labels, labels)
        self._labels_by_count[count] = labels
        return labels

    def _positional_name(self, index: int) -> str:
        positional = self._positional
        if index < len(positional):
            return positional[index]
        # Labels of *args are made once and shared: a node per call must stay small.
        while index >= len(positional):
            positional.append(f"{self._star or 'args'}[{len(positional) - self._n_named}]")
        return positional[index]

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        return functools.partial(self, instance)

    def __reduce__(self) -> str:
        # Pickle by reference: module-level nodes travel to process workers by name.
        return str(getattr(self, "__qualname__", self.name))

    def __repr__(self) -> str:
        return f"<node {self.name}>"

    def record_duration(self, seconds: float) -> None:
        """Fold a measured duration into the running mean the scheduler plans with."""
        mean = self.mean_duration
        self.mean_duration = seconds if mean is None else 0.8 * mean + 0.2 * seconds


@overload
def node(func: Callable[..., R], /) -> NodeFunction[R]: ...
@overload
def node(*, name: str | None = None, nout: int | None = None, cost: float | None = None,
         retries: int = 0, timeout: float | None = None
         ) -> Callable[[Callable[..., R]], NodeFunction[R]]: ...


def node(func: Callable[..., R] | None = None, /, *, name: str | None = None,
         nout: int | None = None, cost: float | None = None, retries: int = 0,
         timeout: float | None = None) -> Any:
    """Make a function lazy: calling it returns a ``Future`` and runs nothing.

    Use it bare (``@node``) or with options: ``name`` (shown in graphs), ``nout``
    (the call returns that many futures), ``cost`` (a relative duration hint for
    scheduling), ``retries`` (extra attempts after a failure) and ``timeout`` (seconds).

    >>> from tcg_core import node
    >>> @node(nout=2)
    ... def divmod_(a, b):
    ...     return divmod(a, b)
    >>> q, r = divmod_(7, 2)
    >>> (q.resolve(), r.resolve())
    (3, 1)
    """
    options = dict(name=name, nout=nout, cost=cost, retries=retries, timeout=timeout)
    if func is None:
        return lambda f: NodeFunction(f, **options)  # type: ignore[arg-type]
    if isinstance(func, str):
        raise TypeError("@node takes options by keyword: @node(name='...')")
    return NodeFunction(func, **options)  # type: ignore[arg-type]


class Node:
    """The seed's spelling of ``@node``: ``@Node()`` or ``@Node(name="...")``.

    >>> from tcg_core import Node
    >>> @Node()
    ... def hello():
    ...     return "hi"
    >>> hello().resolve()
    'hi'
    """

    def __init__(self, *, name: str | None = None, nout: int | None = None,
                 cost: float | None = None, retries: int = 0,
                 timeout: float | None = None) -> None:
        self._options = dict(name=name, nout=nout, cost=cost, retries=retries, timeout=timeout)

    def __call__(self, func: Callable[..., R]) -> NodeFunction[R]:
        if not callable(func):
            raise TypeError("use Node() with parentheses: @Node() then def ...")
        return NodeFunction(func, **self._options)  # type: ignore[arg-type]


def require_futures(objs: tuple[Any, ...], where: str) -> list[Future[Any]]:
    """Check every object is a Future, with a message that shows the fix."""
    futures = []
    for obj in objs:
        if not isinstance(obj, Future):
            hint = ""
            if callable(obj) and not isinstance(obj, NodeFunction):
                hint = " It looks like a function: decorate it with @node and call it."
            elif isinstance(obj, NodeFunction):
                hint = f" Call it first: {obj.name}(...) returns a Future."
            raise TypeError(f"{where} takes futures returned by calling a @node function, "
                            f"not {type(obj).__name__} {obj!r:.60}.{hint}")
        futures.append(obj)
    return futures

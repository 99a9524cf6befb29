"""``@node``: calling a node function records a call (a ``Future``) instead of running it."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import dataclasses
import functools
import inspect
import sys
import warnings
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from ._assignment import guard_assignments
from ._cache import check_cacheable
from ._callbacks import needs_hooks, note_hooks
from ._context import RecordingFrame, current_frame, run_coroutine
from ._future import Future, ItemFuture
from ._options import NodeOptions
from ._pure import pure_key
from ._record import PLAIN_CALL, Handle, NodeRecord
from ._signature import (
    argument_names,
    defaults_hold_futures,
    is_async,
    make_binder,
    positional_arity,
    refuse_generator,
)
from ._values import PLAIN, Refused, scan_arguments

__all__ = ["MultiNodeFunction", "Node", "NodeFunction", "PureNodeFunction", "make_node_function",
           "node"]

R = TypeVar("R")
P = ParamSpec("P")


def _rebuild(cls: type[NodeFunction[..., Any]], func: Callable[..., Any],
             options: NodeOptions) -> NodeFunction[..., Any]:
    return cls(func, options)


_DURATIONS_MOVED = ("NodeFunction.mean_duration and record_duration are deprecated and "
                    "removed in 0.4: each resolve measures its bodies' durations afresh, so "
                    "nothing is learned across resolves; give @node(cost=...) to rank a "
                    "node above others")


class NodeFunction(Generic[P, R]):
    """A function decorated with ``@node``: calling it returns a ``Future``.

    ``func`` is the undecorated function, for direct unit tests. An ``async def``
    function is awaited when the node runs: its value is the node's value.

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

    func: Callable[P, R]  #: the undecorated function
    body: Callable[..., Any]  #: what a worker calls (``func``, or an async one run to the end)
    is_async: bool  #: an ``async def`` body

    def __init__(self, func: Callable[P, R], options: NodeOptions | None = None) -> None:
        options = options or NodeOptions()
        self._options = options
        # First: it copies the function's __dict__, which must not overwrite what follows.
        functools.update_wrapper(self, func)
        #: shown in graphs and errors
        self.name = options.name or getattr(func, "__name__", None) or type(func).__name__
        self._install(func)
        self._decorated = func  #: the function @node was given (a module node ships by name)
        self.nout: int | None = options.nout  #: a call returns this many futures
        self.cost: float | None = options.cost  #: relative duration hint for scheduling
        self.retries: int = options.retries  #: extra attempts after a failure
        self.timeout: float | None = options.timeout  #: seconds a body may run
        #: use the result cache (None: as the resolve says)
        self.cache: bool | None = options.cache
        self.cache_key: Any = options.cache_key  #: a version folded into the cache key
        self.pure: bool = options.pure  #: identical calls in one graph share one node
        self.verbose: bool = options.verbose  #: print a line per node
        if options.cache:
            check_cacheable(func, self.name)
        #: its calls need the observing loop (cache=True, verbose=True): see _callbacks;
        #: the one field of a node function the scheduler reads by name (its claim)
        self._hooks: bool = False
        note_hooks(self, needs_hooks(options.cache, options.verbose))
        self._name_tuples: dict[tuple[str, ...], tuple[str, ...]] = {}
        #: from here on, assigning a public attribute is checked (see _assignment)
        self._made = True

    def _install(self, func: Callable[P, R]) -> None:
        """Make ``func`` the body: at construction, and when a user assigns ``.func``."""
        if not callable(func):
            raise TypeError(f"@node decorates a function, not {type(func).__name__}")
        if isinstance(func, NodeFunction):
            raise TypeError(f"{func.name!r} is already a @node; decorate it once")
        refuse_generator(func, self.name)
        fields = self.__dict__  # derived attributes refuse assignment (see _assignment)
        fields["func"] = func  #: the undecorated function
        fields["__wrapped__"] = func
        #: an ``async def`` body: executors await it (the threads one on its event loop)
        fields["is_async"] = is_async(func)
        #: what a worker calls: ``func``, or for an async one, ``func`` run to completion
        fields["body"] = (functools.partial(run_coroutine, func)  # type: ignore[arg-type]
                          if fields["is_async"] else func)
        self._binder = make_binder(func)
        self._positional, self._star = argument_names(func)
        self._n_named = len(self._positional)
        self._min_args, self._max_args = positional_arity(func) if self._binder else (1, 0)
        #: a parameter's default holds a future: calls pass defaults explicitly, so the
        #: future is an input and the body gets its value
        self._future_defaults = defaults_hold_futures(func)
        if self._future_defaults:
            self._min_args, self._max_args = 1, 0  # every call takes the binding branch
        self._labels_by_count: dict[int, tuple[str, ...]] = {}  # from the parameters' names

    # Arguments are typed Any, not P: a future stands in for its value anywhere, which
    # Python's typing cannot say of a ParamSpec. The binder checks the call at runtime.
    def __call__(self, *args: Any, **kwargs: Any) -> Future[R]:
        if kwargs or not self._min_args <= len(args) <= self._max_args:
            if self._binder is not None:  # else the call is valid by its arity alone
                self._binder(*args, **kwargs)
            if self._future_defaults:
                bound = inspect.signature(self.func).bind(*args, **kwargs)
                bound.apply_defaults()
                args, kwargs = bound.args, bound.kwargs
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
                record = NodeRecord(self, args[0] if len(args) == 1 else args, PLAIN_CALL,
                                    None, labels)
        future: Future[Any] = Future(record)
        frame = current_frame()
        if frame is not None:
            frame.futures.append(future)
            if frame.__class__ is RecordingFrame:
                future._graph = frame.graph
        if self.nout is not None:
            # Typed as the Future: a nout node's R is the tuple of its outputs' values.
            return tuple(ItemFuture(future, i) for i in range(self.nout))  # type: ignore[return-value]
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
            elif cls not in PLAIN:
                name = self._positional_name(index)
                found = self._scan_argument(name, arg)
                inputs.extend(f._record for f in found)
                names.extend([name] * len(found))
        for key, arg in kwargs.items():
            found = self._scan_argument(key, arg)
            inputs.extend(f._record for f in found)
            names.extend([key] * len(found))
        labels = tuple(names)
        labels = self._name_tuples.setdefault(labels, labels)  # share equal tuples
        return NodeRecord(self, args, kwargs or None, tuple(inputs), labels)

    def _scan_argument(self, name: str, arg: Any) -> list[Handle]:
        found: list[Handle] = []
        try:
            scan_arguments(arg, found)
        except Refused as exc:
            raise TypeError(f"{self.name}(): argument {name!r} {exc}") from None
        return found

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

    def named(self, label: str) -> Callable[..., Any]:
        """This node, for one call that carries its own ``label``: shown beside the name
        in errors (``node 'parse_rows' [parse shop/b] failed``), diagrams and JSON, and
        kept as ``record.label``, so calls of one function can be told apart.

        >>> from tcg_core import node
        >>> @node
        ... def parse(text):
        ...     return text.split(",")
        >>> future = parse.named("parse shop/b")("x,y")
        >>> future.node.label, future.resolve()
        ('parse shop/b', ['x', 'y'])
        """
        if not isinstance(label, str) or not label:
            raise TypeError(f"{self.name}.named(): label must be a non-empty str, not "
                            f"{type(label).__name__} {label!r:.60}")

        def call(*args: Any, **kwargs: Any) -> Any:
            made = self(*args, **kwargs)
            first = made[0] if self.nout is not None else made
            first._record.label = label
            return made

        call.__name__ = call.__qualname__ = f"{self.name}.named({label!r})"
        return call

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        return functools.partial(self, instance)

    def __reduce__(self) -> str | tuple[Any, ...]:
        # A module-level node travels by name (cheap, and the worker's copy keeps its own
        # measured durations); any other (node(divmod), a local function, a lambda) is
        # rebuilt from its function and options, which cloudpickle ships by value.
        module = sys.modules.get(getattr(self, "__module__", None) or "")
        qualname = getattr(self, "__qualname__", None)
        # A replaced body (step.func = fake) must run in the worker too: by value.
        if module is not None and qualname is not None and self.func is self._decorated:
            target: Any = module
            for part in qualname.split("."):
                target = getattr(target, part, None)
            if target is self:
                return str(qualname)
        options = dataclasses.replace(self._options, name=self.name)
        return (_rebuild, (type(self), self.func, options))

    def __repr__(self) -> str:
        return f"<node {self.name}>"

    @property
    def mean_duration(self) -> None:
        """Deprecated, always ``None``: each resolve measures durations afresh (an
        earlier resolve, another test's, no longer changes how a later one runs);
        give ``cost=`` to rank a node. Removed in 0.4.

        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     print(NodeFunction(abs, NodeOptions()).mean_duration)
        None
        """
        warnings.warn(_DURATIONS_MOVED, DeprecationWarning, stacklevel=2)
        return None

    def record_duration(self, seconds: float) -> None:
        """Deprecated, does nothing (see ``mean_duration``). Removed in 0.4."""
        warnings.warn(_DURATIONS_MOVED, DeprecationWarning, stacklevel=2)


guard_assignments(NodeFunction)


class MultiNodeFunction(NodeFunction[P, R]):
    """A node made with ``nout=N``: a call returns a tuple of N futures, one per item of
    the value (``R`` is the whole value's type).

    >>> from tcg_core import node
    >>> @node(nout=2)
    ... def halves(x: int) -> tuple[int, int]:
    ...     return x // 2, x - x // 2
    >>> low, high = halves(5)
    >>> (low.resolve(), high.resolve())
    (2, 3)
    """

    if TYPE_CHECKING:  # NodeFunction.__call__ already returns the tuple at runtime
        def __call__(self, *args: Any, **kwargs: Any  # type: ignore[override]
                     ) -> tuple[Future[Any], ...]: ...


if TYPE_CHECKING:  # what type checkers see of nout=2, 3, 4 nodes: each future typed
    A = TypeVar("A")
    B = TypeVar("B")
    C = TypeVar("C")
    D = TypeVar("D")

    class MultiNodeFunction2(MultiNodeFunction[P, tuple[A, B]], Generic[P, A, B]):
        def __call__(self, *args: Any, **kwargs: Any  # type: ignore[override]
                     ) -> tuple[Future[A], Future[B]]: ...

    class MultiNodeFunction3(MultiNodeFunction[P, tuple[A, B, C]], Generic[P, A, B, C]):
        def __call__(self, *args: Any, **kwargs: Any  # type: ignore[override]
                     ) -> tuple[Future[A], Future[B], Future[C]]: ...

    class MultiNodeFunction4(MultiNodeFunction[P, tuple[A, B, C, D]],
                             Generic[P, A, B, C, D]):
        def __call__(self, *args: Any, **kwargs: Any  # type: ignore[override]
                     ) -> tuple[Future[A], Future[B], Future[C], Future[D]]: ...


class PureNodeFunction(NodeFunction[P, R]):
    """A ``@node(pure=True)`` function: a call equal to an earlier one in the same graph
    (the same body, ``with Graph()`` block, or top level while its future lives)
    returns that call's future instead of a new node.

    Arguments are compared by type and value all the way down (``f(1)`` and
    ``f(True)``, ``f(0.0)`` and ``f(-0.0)``, ``f((1,))`` and ``f((True,))`` differ; see
    ``_pure``); a call with an unhashable argument, or one whose comparison raises, is a
    node of its own.

    >>> from tcg_core import node
    >>> @node(pure=True)
    ... def load(name):
    ...     return name.upper()
    >>> load("a") is load("a"), load("a") is load("b")
    (True, False)
    """

    def __init__(self, func: Callable[P, R], options: NodeOptions | None = None) -> None:
        super().__init__(func, options)
        self._top: weakref.WeakValueDictionary[Any, Any] = weakref.WeakValueDictionary()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        key = pure_key(args, kwargs)
        if key is None:
            return super().__call__(*args, **kwargs)
        frame = current_frame()
        if frame is None:
            memo: Any = self._top  # weak: a call nothing holds any more is forgotten
        else:
            memo = frame.pure
            if memo is None:
                memo = frame.pure = {}
            key = (self, key)
        try:
            base = memo.get(key)
        except Exception:  # an argument's __eq__ raised on a hash collision
            return super().__call__(*args, **kwargs)
        if base is None:
            made: Any = super().__call__(*args, **kwargs)
            base = made if self.nout is None else made[0]._base
            try:
                memo[key] = base
            except Exception:  # as above: this call stays a node of its own
                pass
            return made
        if self.nout is None:
            return base
        return tuple(ItemFuture(base, i) for i in range(self.nout))


def make_node_function(func: Callable[..., Any], options: NodeOptions) -> NodeFunction[..., Any]:
    """The ``NodeFunction`` for ``options``: a ``PureNodeFunction`` for ``pure=True``, a
    ``MultiNodeFunction`` for ``nout=``, else a plain one."""
    if options.pure:
        return PureNodeFunction(func, options)
    if options.nout is not None:
        return MultiNodeFunction(func, options)
    return NodeFunction(func, options)


@overload
def node(func: Callable[P, Awaitable[R]], /) -> NodeFunction[P, R]: ...
@overload
def node(func: Callable[P, R], /) -> NodeFunction[P, R]: ...
@overload
def node(*, nout: int, name: str | None = None, cost: float | None = None,
         retries: int = 0, timeout: float | None = None, cache: bool | None = None,
         cache_key: Any = None, pure: bool = False, verbose: bool = False
         ) -> _MultiDecorator: ...
@overload
def node(*, name: str | None = None, nout: None = None, cost: float | None = None,
         retries: int = 0, timeout: float | None = None, cache: bool | None = None,
         cache_key: Any = None, pure: bool = False, verbose: bool = False) -> _Decorator: ...


def node(func: Callable[..., R] | None = None, /, *, name: str | None = None,
         nout: int | None = None, cost: float | None = None, retries: int = 0,
         timeout: float | None = None, cache: bool | None = None, cache_key: Any = None,
         pure: bool = False, verbose: bool = False) -> Any:
    """Make a function lazy: calling it returns a ``Future`` and runs nothing.

    Use it bare (``@node``) or with options: ``name`` (shown in graphs), ``nout``
    (the call returns that many futures), ``cost`` (a relative duration hint for
    scheduling), ``retries`` (extra attempts after a failure), ``timeout`` (seconds),
    ``cache`` (keep results on disk across runs; ``None``: as ``resolve(cache=)`` says),
    ``cache_key`` (a version folded into the cache key), ``pure`` (identical calls in
    one graph share one node) and ``verbose`` (print a line per node).
    Each option is checked here: a wrong one fails at the decorator, not at resolve.

    >>> from tcg_core import node
    >>> @node(nout=2)
    ... def divmod_(a, b):
    ...     return divmod(a, b)
    >>> q, r = divmod_(7, 2)
    >>> (q.resolve(), r.resolve())
    (3, 1)
    """
    if isinstance(func, str):
        raise TypeError("@node takes options by keyword: @node(name='...')")
    options = NodeOptions.check("node()", name=name, nout=nout, cost=cost, retries=retries,
                                timeout=timeout, cache=cache, cache_key=cache_key, pure=pure,
                                verbose=verbose)
    if func is None:
        return _Decorator(options) if nout is None else _MultiDecorator(options)
    return make_node_function(func, options)


class _Decorator:
    """What ``@node(...)`` with options returns: applied to a function, a node."""

    __slots__ = ("_options",)

    def __init__(self, options: NodeOptions) -> None:
        self._options = options

    @overload
    def __call__(self, func: Callable[P, Awaitable[R]], /) -> NodeFunction[P, R]: ...
    @overload
    def __call__(self, func: Callable[P, R], /) -> NodeFunction[P, R]: ...
    def __call__(self, func: Callable[..., Any], /) -> NodeFunction[..., Any]:
        if not callable(func) and isinstance(self, Node):
            raise TypeError("use Node() with parentheses: @Node() then def ...")
        return make_node_function(func, self._options)


class _MultiDecorator(_Decorator):
    """What ``@node(nout=N)`` returns: applied to a function, a ``MultiNodeFunction``."""

    __slots__ = ()

    # A return annotation of 2 to 4 items types each future (``tuple[int, str]``:
    # ``Future[int]``, ``Future[str]``); anything else gives ``Future[Any]`` each.
    @overload  # type: ignore[override]  # more precise than _Decorator's: its subtypes
    def __call__(self, func: Callable[P, Awaitable[tuple[A, B]]], /
                 ) -> MultiNodeFunction2[P, A, B]: ...
    @overload
    def __call__(self, func: Callable[P, Awaitable[tuple[A, B, C]]], /
                 ) -> MultiNodeFunction3[P, A, B, C]: ...
    @overload
    def __call__(self, func: Callable[P, Awaitable[tuple[A, B, C, D]]], /
                 ) -> MultiNodeFunction4[P, A, B, C, D]: ...
    @overload
    def __call__(self, func: Callable[P, Awaitable[R]], /) -> MultiNodeFunction[P, R]: ...
    @overload
    def __call__(self, func: Callable[P, tuple[A, B]], /) -> MultiNodeFunction2[P, A, B]: ...
    @overload
    def __call__(self, func: Callable[P, tuple[A, B, C]], /
                 ) -> MultiNodeFunction3[P, A, B, C]: ...
    @overload
    def __call__(self, func: Callable[P, tuple[A, B, C, D]], /
                 ) -> MultiNodeFunction4[P, A, B, C, D]: ...
    @overload
    def __call__(self, func: Callable[P, R], /) -> MultiNodeFunction[P, R]: ...
    def __call__(self, func: Callable[..., Any], /) -> MultiNodeFunction[..., Any]:
        made = make_node_function(func, self._options)
        return made  # type: ignore[return-value]  # pure=True: a PureNodeFunction, also N futures


class Node(_Decorator):
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
                 timeout: float | None = None, cache: bool | None = None,
                 cache_key: Any = None, pure: bool = False, verbose: bool = False) -> None:
        super().__init__(NodeOptions.check("Node()", name=name, nout=nout, cost=cost,
                                           retries=retries, timeout=timeout, cache=cache,
                                           cache_key=cache_key, pure=pure, verbose=verbose))

"""``resolve(check_mutation=True)``: fail a node whose body changed one of its arguments.

Two consumers of one list that both append to it, or a node that sorts its argument in
place, give results that depend on which node ran first. Such a pipeline passes under
one order and breaks under another; this check finds it under any order.

How: every argument value is fingerprinted just before the body runs and again just
after, in the thread or process that runs the body (so under processes it checks the
copy the body received, and still finds the bug a thread would trip over). A
fingerprint is a digest of the value's pickle, which covers lists, dicts, sets,
bytearrays, dataclasses, numpy arrays and whatever else pickles; immutable scalars are
skipped, and a value that cannot be pickled is skipped with one warning naming its type.

The check plugs in as a ``Run`` subclass chosen by ``_resolve`` only when asked for, so
the default run pays nothing for it: bodies reach it through ``run_inline`` (inline
bodies) and through a wrapping adapter (worker bodies).
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import hashlib
import inspect
import pickle
import threading
import warnings
from dataclasses import dataclass, field
from queue import SimpleQueue
from typing import Any

from .._errors import InputMutationError, TcgError
from .._executors import Adapter
from .._executors._threads import ThreadsAdapter
from .._record import Handle, NodeRecord
from ._run import Run

__all__ = ["CheckedRun", "MutatedInput", "fingerprint"]

#: Values no body can change: not worth a fingerprint.
_IMMUTABLE = frozenset({int, float, complex, str, bytes, bool, type(None), range})

_warned: set[str] = set()
_warned_lock = threading.Lock()


def fingerprint(value: Any) -> bytes | None:
    """A digest that changes when ``value`` (or anything inside it) changes; ``None``
    for values that cannot change or cannot be fingerprinted."""
    if value.__class__ in _IMMUTABLE:
        return None
    try:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # locks, generators, open files, lambdas...
        _warn_once(value, exc)
        return None
    return hashlib.blake2b(data, digest_size=16).digest()


def _warn_once(value: Any, exc: BaseException) -> None:
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    with _warned_lock:
        if kind in _warned:
            return
        _warned.add(kind)
    warnings.warn(f"check_mutation: values of type {kind} cannot be fingerprinted "
                  f"({type(exc).__name__}: {exc}); arguments of that type are not checked",
                  RuntimeWarning, stacklevel=2)


class MutatedInput(TcgError):
    """Raised by a checked body: argument ``key`` (a position or a keyword) changed.
    Only ``CheckedRun`` sees it; it turns it into an ``InputMutationError``."""

    def __init__(self, key: int | str, kind: str) -> None:
        super().__init__(key, kind)
        self.key, self.kind = key, kind


class _CheckedBody:
    """A node's body with a fingerprint of its arguments before and after. It keeps the
    ``NodeFunction`` (which pickles by reference), so process workers can run it."""

    __slots__ = ("spec",)

    def __init__(self, spec: Any) -> None:
        self.spec = spec

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        before = [(key, value, digest) for key, value in _each(args, kwargs)
                  if (digest := fingerprint(value)) is not None]
        result = self.spec.body(*args, **kwargs)  # an async one run to completion
        for key, value, digest in before:
            if fingerprint(value) != digest:
                raise MutatedInput(key, type(value).__name__)
        return result


def _each(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[tuple[int | str, Any]]:
    return [*enumerate(args), *kwargs.items()]


class _CheckedSpec:
    """What the scheduler reads of a ``NodeFunction``, with the checked body as ``func``.
    Measured durations go to the real one."""

    __slots__ = ("_spec", "body", "func")
    #: stands in for a node function: a worker runs its ``body`` (see ``run_body``)
    _tcg_node = True
    #: checked bodies run as plain calls (an async one to completion, on a worker)
    is_async = False

    def __init__(self, spec: Any) -> None:
        self._spec = spec
        self.func = self.body = _CheckedBody(spec)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._spec, name)

    def __reduce__(self) -> tuple[Any, tuple[Any]]:
        return _CheckedSpec, (self._spec,)


class _Specs(dict[Any, _CheckedSpec]):
    """One checked view per node function, made on first use."""

    def __missing__(self, spec: Any) -> _CheckedSpec:
        view = self[spec] = _CheckedSpec(spec)
        return view


class _CheckingAdapter(Adapter):
    """An adapter whose bodies are checked; everything else is the wrapped one's."""

    def __init__(self, inner: Adapter, specs: _Specs) -> None:
        self.inner, self.specs = inner, specs
        self.workers, self.inline, self.isolated = inner.workers, inner.inline, inner.isolated
        self.kills_on_cancel, self.name, self.pick = inner.kills_on_cancel, inner.name, inner.pick

    def submit(self, spec: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None,
               events: SimpleQueue[Any], key: Any) -> None:
        self.inner.submit(self.specs[spec], args, kwargs, events, key)

    def abandon_worker(self) -> bool:
        return self.inner.abandon_worker()

    def mark_replaced(self, names: frozenset[str]) -> None:
        self.inner.mark_replaced(names)

    def close(self, *, cancel: bool) -> None:
        self.inner.close(cancel=cancel)


@dataclass(eq=False)
class CheckedRun(Run):
    """A run whose bodies are checked for changing their arguments."""

    #: one checked view per node function this run met
    specs: _Specs = field(default_factory=lambda: _Specs())

    def __post_init__(self) -> None:
        self.adapter = _CheckingAdapter(self.adapter, self.specs)
        # A timed body under the serial executor runs on this watchdog: check it too.
        self.watchdog = _CheckingAdapter(ThreadsAdapter(1), self.specs)
        super().__post_init__()

    def run_inline(self, rec: NodeRecord, spec: Any) -> None:
        super().run_inline(rec, self.specs[spec])

    def body_raised(self, rec: NodeRecord, exc: BaseException) -> None:
        if isinstance(exc, MutatedInput):
            # Never retried: the input is already changed, a retry would see it so.
            self.fail(rec, mutation_error(rec, exc, self.claimed))
            return
        super().body_raised(rec, exc)


def mutation_error(rec: NodeRecord, found: MutatedInput,
                   claimed: list[NodeRecord]) -> InputMutationError:
    """The error naming the node, the argument it changed and who else consumes it."""
    name = _argument_name(rec, found.key)
    given = _given(rec, found.key)
    source = given._record if isinstance(given, Handle) else None
    if source is not None:
        origin = f"the value of node {source.name!r}"
        others = [r for r in claimed if r is not rec and source in r.inputs]
    else:
        origin = "a value passed to the call"
        others = [r for r in claimed if r is not rec and r._args is not None
                  and any(a is given for a in _top_level(r))]
    if others:
        names = ", ".join(repr(r.name) for r in others[:5])
        more = f" and {len(others) - 5} more" if len(others) > 5 else ""
        shared = (f"; {names}{more} also consume{'s' if len(others) == 1 else ''} it, so "
                  "the results depend on which node runs first")
    else:
        shared = "; no other node of this run consumes it, but a later one would see it changed"
    message = (f"node {rec.name!r} ({rec.path}) changed its argument {name!r} "
               f"({found.kind}, {origin}) while it ran{shared}. Copy the value before "
               f"changing it ({name} = copy.deepcopy({name})) or return a new value "
               "(found by check_mutation=True)")
    err = InputMutationError(message, node=rec, path=rec.path, argument=name, consumers=others)
    err.attempt_errors = [err]
    return err


def _argument_name(rec: NodeRecord, key: int | str) -> str:
    if isinstance(key, str):
        return key
    try:
        func: Any = getattr(rec.spec, "func", None)  # a NodeFunction's undecorated function
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return f"argument {key}"
    for i, param in enumerate(params):
        if param.kind is param.VAR_POSITIONAL:
            return f"{param.name}[{key - i}]"
        if i == key:
            return param.name
    return f"argument {key}"


def _top_level(rec: NodeRecord) -> list[Any]:
    args = rec._args
    values = list(args) if args.__class__ is tuple else [args]
    return values + list((rec._kwargs or {}).values())


def _given(rec: NodeRecord, key: int | str) -> Any:
    """What the call was given for ``key`` (a future, or the plain value)."""
    if isinstance(key, str):
        return (rec._kwargs or {}).get(key)
    args = rec._args
    if args.__class__ is not tuple:
        return args
    return args[key] if key < len(args) else None

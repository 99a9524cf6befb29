"""One record per node call: the states it goes through, and what the graph knows of it.

This is the bottom of the graph model. It knows nothing of execution or drawing: the
scheduler fills records in, the exporters and the pytest plugin read them. ``Handle`` is
the low base class of ``Future``, so that the scheduler can recognise a future (and
read its value) without importing the user's handle class above it.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import itertools
from typing import Any, Final, Literal
from weakref import ref as _weakref

from ._errors import PATH_SEPARATOR
from ._refs import NodeSpec, Owner

__all__ = ["PLAIN_CALL", "Handle", "NodeRecord", "NodeSpec", "NodeState", "Owner", "State",
           "as_state", "describe_chain"]

_ids = itertools.count(1)


#: A node's lifecycle state, as type checkers see it (the values of ``NodeState``).
State = Literal["pending", "ready", "running", "waiting", "done", "failed", "skipped"]


class NodeState:
    """The states of a node's lifecycle (plain strings, so they print and compare simply;
    their type is ``State``). The arrows between them are the scheduler's transition
    table (``tcg_core._scheduler._transitions``).

    ``pending`` → ``ready`` → ``running`` → (``waiting``) → ``done`` | ``failed`` |
    ``skipped``. ``ready``: every input is done and a resolve has queued it. ``running``:
    its body is executing. ``waiting``: its body returned and created children (or
    returned futures); it completes when they do. ``skipped``: an input failed, so it
    never ran. A resolve that stops puts what it had not finished back to ``pending``
    (a ``waiting`` parent stays ``waiting``: the next resolve takes the wait over).
    """

    PENDING: Final = "pending"
    READY: Final = "ready"
    RUNNING: Final = "running"
    WAITING: Final = "waiting"
    DONE: Final = "done"
    FAILED: Final = "failed"
    SKIPPED: Final = "skipped"
    FINISHED: Final[tuple[State, State, State]] = (DONE, FAILED, SKIPPED)


_PENDING: Final = NodeState.PENDING
_STATES: Final[frozenset[str]] = frozenset(
    ("pending", "ready", "running", "waiting", "done", "failed", "skipped"))


def as_state(value: object) -> State:
    """``value`` as a ``State``, or ``ValueError`` (a state read from a file).

    >>> as_state("done")
    'done'
    """
    if isinstance(value, str) and value in _STATES:
        return value  # type: ignore[return-value]  # checked just above
    raise ValueError(f"not a node state: {value!r}; one of {', '.join(sorted(_STATES))}")


class Handle:
    """The part of a ``Future`` the scheduler needs: its record and where its value goes.

    ``Future`` subclasses it and adds the user's API; the scheduler only ever sees this:
    ``_record``, ``_value`` and ``_get()``, its own to read and write.
    """

    __slots__ = ("__weakref__", "_record", "_value")

    _record: NodeRecord  #: the call this handle stands for
    _value: Any  #: the value once the node is done (``_UNSET`` before)

    def _get(self) -> Any:
        """The value this handle stands for (an item future reads its base's)."""
        return self._value


class _PlainCall:
    """The keyword arguments of a call recorded by the build fast path: no keywords,
    and every positional argument a plain future. One shared, falsy object, so the
    scheduler can read a call's values without checking each argument."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "PLAIN_CALL"

    def __reduce__(self) -> str:
        return "PLAIN_CALL"


PLAIN_CALL: Any = _PlainCall()


class _Extra:
    """The fields of a record that most nodes never use, kept out of the record itself
    so a pending node stays small for memory and for the garbage collector."""

    __slots__ = ("attempt_errors", "cached", "call", "children", "label", "order", "parent",
                 "replaced", "result", "returned")

    def __init__(self) -> None:
        #: the node whose body created this one
        self.parent: NodeRecord | None = None
        #: the nodes this node's body created
        self.children: list[NodeRecord] | None = None
        #: False for a child its parent created but did not return
        self.returned = True
        #: what a waiting parent's body returned, until its futures are substituted
        self.result: Any = None
        #: the errors of earlier attempts, oldest first (``retries=``)
        self.attempt_errors: list[BaseException] | None = None
        #: the value came from the result cache: the body did not run
        self.cached = False
        #: the position its body started at in a shuffled run (1 first), else None
        self.order: int | None = None
        #: a test double ran instead of the body (``tcg_core.override``)
        self.replaced = False
        #: this call's own label (``NodeFunction.named``), shown beside the name
        self.label: str | None = None
        #: the call as its error shows it, described once: the arguments are released
        #: when the node finishes, and a later resolve raises the same message again
        self.call: str | None = None


class NodeRecord:
    """What the graph knows of one call of a node.

    Public attributes: ``id`` (unique, stable for the process), ``name``, ``parent``
    (the node whose body created this one, or ``None``), ``children``, ``state`` (see
    ``NodeState``), ``inputs`` (records this node consumes), ``input_names`` (the
    argument each came through), ``start``/``end`` (``time.perf_counter()`` of the body),
    ``worker``, ``label`` (this call's own label, if given), ``error``,
    ``attempt_errors`` (earlier attempts' errors), ``order`` (where a shuffled run
    started it), ``cached`` (the value came from the result cache), ``returned``
    (``False`` for a child its parent created but did not return), ``attempts`` and
    ``value``. Values live on the node's ``Future``, so they are released as soon as
    nothing needs them; ``value`` reaches them while it lives.

    Scheduler-owned, read and written by ``tcg_core._scheduler`` only: ``_run`` (the
    owning resolve), ``_consumers`` and ``_npending`` (its bookkeeping while claimed),
    ``_ran`` (when and where the body ran), ``_future`` and ``_value_ref`` (where the
    value goes), ``_args``, ``_kwargs`` and ``_inputs`` (the call), ``_extra`` and
    ``_more()`` (the rare fields). Ruff's SLF001 allows exactly these (and ``Handle``'s
    part) in the scheduler (``pyproject.toml``).
    """

    # A record is made per call and a graph may hold millions: only what every node
    # needs has a slot of its own. The body's times and worker share one tuple, and
    # rare fields live in a side object (_Extra).
    __slots__ = (
        "_args",
        "_consumers",
        "_extra",
        "_future",
        "_inputs",
        "_kwargs",
        "_npending",
        "_ran",
        "_run",
        "_value_ref",
        "attempts",
        "error",
        "id",
        "input_names",
        "spec",
        "state",
    )

    def __init__(self, spec: NodeSpec, args: Any, kwargs: dict[str, Any] | None,
                 inputs: tuple[NodeRecord, ...] | None, input_names: tuple[str, ...]) -> None:
        #: unique in this process, in creation order
        self.id: int = next(_ids)
        #: the NodeFunction called (name, options, the body)
        self.spec: NodeSpec = spec
        #: one of NodeState's values; written by the scheduler's transitions only
        self.state: State = _PENDING
        #: the records of the futures in the arguments; None: derive them from _args
        self._inputs: tuple[NodeRecord, ...] | None = inputs
        #: the argument each input came through, parallel to inputs
        self.input_names: tuple[str, ...] = input_names
        #: the exception that failed (or skipped) the node, else None
        self.error: BaseException | None = None
        #: how many times the body was started
        self.attempts: int = 0
        #: the call's positional arguments (a tuple, or a lone future argument as
        #: itself); None once the node finished
        self._args: tuple[Any, ...] | Handle | None = args
        #: the call's keyword arguments, None, or PLAIN_CALL (plain futures only)
        self._kwargs: dict[str, Any] | None = kwargs
        #: the resolve that owns the node while it is claimed and unfinished, else None
        self._run: Owner | None = None
        #: (start, end, worker) of the latest attempt, or None before it started
        self._ran: tuple[float | None, float | None, str | None] | None = None
        #: the rare fields, made on first use
        self._extra: _Extra | None = None
        #: the user's Future while the node is unfinished (it receives the value)
        self._future: Handle | None = None
        #: a weak reference to that Future once done: the value lives as long as it does
        self._value_ref: _weakref[Handle] | None = None

    # Set when a run claims the node, and only read by that run. (No __getattr__ to
    # default them: a class with one loses CPython's fast attribute access.)
    #: inputs (or, for a waiting parent, children and returned futures) not yet done
    _npending: int
    #: the records of the owning run that wait on this one
    _consumers: list[NodeRecord] | None

    def __getstate__(self) -> dict[str, Any]:
        # Records cross process boundaries as children a worker's body created: what
        # defines the call, and what already happened to it (a body may have resolved
        # its children itself), never this process's run bookkeeping or the parent.
        return {"spec": self.spec, "inputs": self.inputs,
                "input_names": self.input_names, "_args": self._args, "_kwargs": self._kwargs,
                "state": self.state, "_ran": self._ran, "error": self.error,
                "attempts": self.attempts, "children": self.children,
                "returned": self.returned, "label": self.label,
                "call": self._extra.call if self._extra is not None else None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["spec"], state["_args"], state["_kwargs"],  # type: ignore[misc]
                      state["inputs"], state["input_names"])
        for key in ("state", "_ran", "error", "attempts"):
            setattr(self, key, state[key])
        if state["children"] is not None:
            self.children = state["children"]
            for child in state["children"]:
                child.parent = self
        if not state["returned"]:
            self.returned = False
        if state.get("label") is not None:
            self.label = state["label"]
        if state.get("call") is not None:  # its error's description of the call
            self._more().call = state["call"]

    # -- fields kept off the common path -------------------------------------------------
    @property
    def inputs(self) -> tuple[NodeRecord, ...]:
        """The records this node consumes, one per future in its arguments."""
        inputs = self._inputs
        if inputs is None:
            # A call of plain futures keeps only its arguments until a run or a reader
            # needs the records: objects made while a graph is built are the ones every
            # full collection rescans.
            inputs = self._inputs = inputs_of_plain_call(self._args)
        return inputs

    @inputs.setter
    def inputs(self, value: tuple[NodeRecord, ...]) -> None:
        self._inputs = value

    @property
    def name(self) -> str:
        """The node's name (its function's, unless ``@node(name=...)`` said otherwise)."""
        return self.spec.name

    @property
    def label(self) -> str | None:
        """This call's own label, given with ``some_node.named("...")(...)``, or ``None``."""
        extra = self._extra
        return extra.label if extra is not None else None

    @label.setter
    def label(self, value: str | None) -> None:
        self._more().label = value

    @property
    def start(self) -> float | None:
        """``time.perf_counter()`` when the body started, or ``None``."""
        ran = self._ran
        return ran[0] if ran is not None else None

    @start.setter
    def start(self, value: float | None) -> None:
        self._ran = (value, self.end, self.worker)

    @property
    def end(self) -> float | None:
        """``time.perf_counter()`` when the body ended, or ``None``."""
        ran = self._ran
        return ran[1] if ran is not None else None

    @end.setter
    def end(self, value: float | None) -> None:
        self._ran = (self.start, value, self.worker)

    @property
    def worker(self) -> str | None:
        """Which thread or process ran the body (``"pid:thread"``), or ``None``."""
        ran = self._ran
        return ran[2] if ran is not None else None

    @worker.setter
    def worker(self, value: str | None) -> None:
        self._ran = (self.start, self.end, value)

    def _more(self) -> _Extra:
        extra = self._extra
        if extra is None:
            extra = self._extra = _Extra()
        return extra

    @property
    def parent(self) -> NodeRecord | None:
        """The node whose body created this one, or ``None`` at the top level."""
        extra = self._extra
        return extra.parent if extra is not None else None

    @parent.setter
    def parent(self, value: NodeRecord | None) -> None:
        self._more().parent = value

    @property
    def children(self) -> list[NodeRecord] | None:
        """The nodes this node's body created, or ``None``."""
        extra = self._extra
        return extra.children if extra is not None else None

    @children.setter
    def children(self, value: list[NodeRecord] | None) -> None:
        self._more().children = value

    @property
    def returned(self) -> bool:
        """``False`` for a child its parent's body created but did not return."""
        extra = self._extra
        return extra.returned if extra is not None else True

    @returned.setter
    def returned(self, value: bool) -> None:
        self._more().returned = value

    @property
    def replaced(self) -> bool:
        """``True`` when a replacement (``tcg_core.override``) ran instead of the body."""
        extra = self._extra
        return extra.replaced if extra is not None else False

    @replaced.setter
    def replaced(self, value: bool) -> None:
        self._more().replaced = value

    @property
    def attempt_errors(self) -> list[BaseException]:
        """The errors of the attempts before the latest one, oldest first."""
        extra = self._extra
        return list(extra.attempt_errors or ()) if extra is not None else []

    @property
    def call(self) -> str | None:
        """The call as a failure states it (``parse_rows#12('shop/b', 3)``), set when
        the node failed or was skipped; ``None`` otherwise (its arguments are released
        once it finished, so it is described when its error is made)."""
        extra = self._extra
        return extra.call if extra is not None else None

    @property
    def cached(self) -> bool:
        """``True`` when the value came from the result cache (the body did not run)."""
        extra = self._extra
        return extra.cached if extra is not None else False

    @cached.setter
    def cached(self, value: bool) -> None:
        self._more().cached = value

    @property
    def order(self) -> int | None:
        """The position (1 first) at which a ``ShuffledExecutor`` run started this node's
        body, or ``None`` when no shuffled run started it."""
        extra = self._extra
        return extra.order if extra is not None else None

    @order.setter
    def order(self, value: int | None) -> None:
        self._more().order = value

    @property
    def value(self) -> Any:
        """The node's value, while its future is still referenced somewhere.

        Values are released once nothing needs them; asking then raises ``LookupError``.
        """
        if self.state != NodeState.DONE:
            raise LookupError(f"node {self.name!r} ({self.path}) is {self.state}, it has no value")
        handle = self._value_ref() if self._value_ref is not None else None
        if handle is None:
            raise LookupError(f"the value of {self.name!r} ({self.path}) was released: nothing "
                              "referenced its future any more; keep the future (or record it "
                              "in a Graph) to keep its value")
        return handle._get()

    @property
    def duration(self) -> float | None:
        """Seconds the body ran, or ``None`` if it has not finished."""
        if self.start is None or self.end is None:
            return None
        return self.end - self.start

    @property
    def path(self) -> str:
        """The nesting path, outermost first: ``'pipeline › add › _add'``."""
        return PATH_SEPARATOR.join(r.name for r in self.lineage())

    @property
    def depth(self) -> int:
        """How many parents this node has (0 for a top-level node)."""
        return len(self.lineage()) - 1

    def lineage(self) -> list[NodeRecord]:
        """This node and its parents, outermost first."""
        chain: list[NodeRecord] = []
        record: NodeRecord | None = self
        while record is not None:
            chain.append(record)
            record = record.parent
        chain.reverse()
        return chain

    def is_ancestor_of(self, other: NodeRecord) -> bool:
        """True when ``other`` is this node or nested (at any depth) inside it."""
        record: NodeRecord | None = other
        while record is not None:
            if record is self:
                return True
            record = record.parent
        return False

    @property
    def cost(self) -> float | None:
        """The ``cost=`` hint given to the node's decorator, if any."""
        return getattr(self.spec, "cost", None)

    def __repr__(self) -> str:
        return f"<node {self.name}#{self.id} {self.state}>"


def inputs_of_plain_call(args: Any) -> tuple[NodeRecord, ...]:
    """The input records of a call the build fast path stored as plain futures: a tuple
    of them, a lone one as itself, or ``None`` once the node finished."""
    if args is None:
        return ()
    if args.__class__ is tuple:
        return tuple([f._record for f in args])
    return (args._record,)


def describe_chain(records: list[NodeRecord], limit: int = 8) -> str:
    """A nesting chain for an error message, shortened in the middle when long."""
    names = [r.name for r in records]
    if len(names) > limit:
        names = [*names[:limit // 2], f"... {len(names) - limit} more ...",
                 *names[-limit // 2:]]
    return PATH_SEPARATOR.join(names)

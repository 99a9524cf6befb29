"""The exceptions tcg_core raises.

Every message names the node, its nesting path (``pipeline › add › _add``) and, where
there is one, the fix. The original exception is chained as ``__cause__``.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from collections.abc import Iterable, Sequence

PATH_SEPARATOR = " › "


def did_you_mean(given: str, known: Iterable[str]) -> str:
    """`` (did you mean 'max_workers'?)`` for a near miss among ``known``, else ``""``.

    >>> did_you_mean("max_worker", ["max_workers", "executor"])
    " (did you mean 'max_workers'?)"
    """
    import difflib  # only on an error: `import tcg_core` stays cheap

    close = difflib.get_close_matches(given, list(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def safe_text(exc: BaseException) -> str:
    """``str(exc)``, or a description of why it could not be had: a user's exception
    whose ``__str__`` raises must never break a message, a log line or an export.

    >>> class Hostile(Exception):
    ...     def __str__(self):
    ...         raise RuntimeError
    >>> safe_text(Hostile())
    '<str() of the Hostile raised RuntimeError>'
    """
    try:
        return str(exc)
    except BaseException as broken:  # any failure here must not escape
        return f"<str() of the {type(exc).__name__} raised {type(broken).__name__}>"


class TcgError(Exception):
    """Base class of every error tcg_core raises on purpose."""


class NodeError(TcgError):
    """A node failed while the graph resolved.

    ``node`` is the failed node's record, ``path`` its nesting path and ``__cause__`` the
    exception the node's body raised. ``attempt_errors`` lists the error of every attempt
    (more than one with ``retries=``), oldest first.
    """

    def __init__(self, message: str, *, node: object = None, path: str = "") -> None:
        super().__init__(message)
        self.node = node  #: the failed node's NodeRecord
        self.path = path  #: its nesting path, outermost first
        self.attempt_errors: list[BaseException] = []  #: each attempt's error, oldest first


class InputMutationError(NodeError):
    """A node's body changed one of its arguments (found by ``resolve(check_mutation=True)``).

    ``argument`` names the argument; ``consumers`` lists the other nodes of the run that
    consume the same value, whose results now depend on which ran first.
    """

    def __init__(self, message: str, *, node: object = None, path: str = "",
                 argument: str = "", consumers: Sequence[object] = ()) -> None:
        super().__init__(message, node=node, path=path)
        self.argument: str = argument  #: the name of the argument the body changed
        #: the other records consuming the same value
        self.consumers: list[object] = list(consumers)


class NodeTimeoutError(TcgError, TimeoutError):
    """A node ran longer than its ``timeout=``."""


class NodeFailures(NodeError):
    """Several nodes failed in one ``resolve(keep_going=True)``; ``errors`` lists them all."""

    def __init__(self, errors: Sequence[NodeError]) -> None:
        lines = "\n".join(f"  - {err}" for err in errors)
        count = f"{len(errors)} node{'s' if len(errors) != 1 else ''}"
        super().__init__(f"{count} failed:\n{lines}", node=errors[0].node,
                         path=errors[0].path)
        self.errors: list[NodeError] = list(errors)


class DependencyError(TcgError):
    """A node could not run because an input or a child failed."""


class RecursionDepthError(TcgError, RecursionError):
    """Nodes nested deeper than ``max_depth``: probably unbounded recursion."""


class CycleError(TcgError):
    """A node waits on itself, directly or through its nesting parents."""


class SerializationError(TcgError):
    """A node's function, arguments or result could not be sent to another process."""


class ReplacementError(TcgError, TypeError):
    """A node's replacement (``override``) cannot accept the call the graph makes."""


class ResolveCancelled(TcgError):
    """The resolve was stopped (the executor shut down under it)."""


class ClusterGone(ResolveCancelled):
    """The Dask client closed under a resolve: the resolve stops (as on Ctrl-C), and the
    nodes it had not finished go back to pending for the next resolve."""


class RemoteError(TcgError):
    """An exception raised in a worker process that could not be unpickled here (its
    class is unknown in this process, or it cannot be rebuilt from its arguments).

    ``remote_type`` is its qualified type name, ``remote_message`` its message and
    ``remote_traceback`` the traceback text from the worker.

    >>> err = RemoteError("shop.BadRow", "row 3", "Traceback ...")
    >>> str(err)
    'shop.BadRow: row 3 (raised in a worker process; it could not be unpickled here)'
    """

    def __init__(self, remote_type: str, remote_message: str, remote_traceback: str) -> None:
        super().__init__(f"{remote_type}: {remote_message} (raised in a worker process; it "
                         "could not be unpickled here)")
        self.remote_type = remote_type  #: the original exception's qualified type name
        self.remote_message = remote_message  #: its message
        self.remote_traceback = remote_traceback  #: the traceback text from the worker

    def __reduce__(self) -> tuple[type[RemoteError], tuple[str, str, str]]:
        return RemoteError, (self.remote_type, self.remote_message, self.remote_traceback)


# Tracebacks and reprs name the public module (``tcg_core.NodeError``), where users import
# them from; pickling finds them there too.
for _public in (TcgError, NodeError, InputMutationError, NodeTimeoutError, NodeFailures,
                DependencyError, RecursionDepthError, CycleError, SerializationError,
                ReplacementError, ResolveCancelled, RemoteError):
    _public.__module__ = "tcg_core"
del _public

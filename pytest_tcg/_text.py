"""Text of a user's exception that never raises (pure: no pytest, no tcg_core)."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

__all__ = ["did_you_mean", "first_line", "safe_text"]


def safe_text(exc: BaseException) -> str:
    """``str(exc)``, or why it could not be had: a user's exception whose ``__str__``
    raises must not break a report.

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


def first_line(exc: BaseException) -> str:
    """``"Type: first line of the message"`` (the type alone for an empty message).

    >>> first_line(ValueError("no rows\\nfor region"))
    'ValueError: no rows'
    """
    lines = safe_text(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def did_you_mean(given: str, known: list[str]) -> str:
    """`` (did you mean '--tcg-executor'?)`` for a near miss among ``known``, else ``""``.

    >>> did_you_mean("--tcg-exectuor", ["--tcg-executor", "--tcg-workers"])
    " (did you mean '--tcg-executor'?)"
    """
    import difflib  # only on a mistake: loading the plugin stays cheap

    close = difflib.get_close_matches(given, known, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""

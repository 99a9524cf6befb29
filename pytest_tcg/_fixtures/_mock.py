"""The ``tcg_mock`` fixture: ``tcg_core.override`` for the rest of a test, undone at
teardown, where a replacement that never ran fails the test (a typo must not pass)."""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tcg_core import Override

__all__ = ["TcgMock", "tcg_mock"]


class TcgMock:
    """What ``tcg_mock`` gives a test: call it with replacements, get the ``Override``
    (its ``calls(key)`` lists what each replacement received).

    >>> def test_report(tcg_mock: TcgMock, tcg_resolve) -> None:  # doctest: +SKIP
    ...     o = tcg_mock({fetch: "<html>"})
    ...     tcg_resolve(report("u"))
    ...     assert o.calls(fetch) == [call("u")]
    """

    def __init__(self) -> None:
        self._entered: list[Override] = []

    def __call__(self, replacements: Mapping[Any, Any]) -> Override:
        from tcg_core import override  # on first use: the plugin loads in every run

        try:
            active = override(replacements)
        except TypeError as exc:  # the user called tcg_mock, not override: say so
            raise TypeError(str(exc).replace("override()", "tcg_mock()", 1)) from None
        active.__enter__()
        self._entered.append(active)
        return active

    def undo(self) -> list[str]:
        """Leave every override (innermost first); the names of replacements never run."""
        unused: list[str] = []
        while self._entered:
            active = self._entered.pop()
            active.__exit__(None, None, None)
            unused[:0] = active.unused()
        return unused


TcgMock.__module__ = "pytest_tcg"  # where test authors import it from


@pytest.fixture
def tcg_mock(request: pytest.FixtureRequest) -> Iterator[TcgMock]:
    """``o = tcg_mock({node or name: replacement})`` replaces nodes' bodies (see
    ``tcg_core.override``) in every resolve for the rest of the test, on every executor;
    ``o.calls(node)`` lists the calls. Undone at teardown, where a replacement for a node
    the test never ran fails the test, naming it (unless the test failed already)."""
    mocker = TcgMock()
    failed_before = request.session.testsfailed
    yield mocker
    unused = mocker.undo()
    if unused and request.session.testsfailed == failed_before:
        names = ", ".join(repr(name) for name in unused)
        pytest.fail(f"tcg_mock: the replacement for {names} never ran in this test: is the "
                    "name misspelt, or does the test no longer run that node? Fix the key, "
                    "or remove the replacement", pytrace=False)

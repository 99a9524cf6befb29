"""pytest-tcg's hooks (the ``pytest11`` entry point ``tcg``; disable it with ``-p no:tcg``).

Hooks only: each one calls into the session (``_session.TcgSession``). The options are
one table (``_options``); the fixtures live in ``_fixtures``.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from typing import Any

import pytest

from ._fixtures import (
    tcg_executor,
    tcg_graph,
    tcg_regression,
    tcg_resolve,
    tcg_session_resolve,
    tcg_snapshot,
)
from ._fixtures._executor import MARKER_HELP
from ._fixtures._mock import tcg_mock
from ._options import add_options, check_flag_spelling, check_ini_keys
from ._session import TcgSession, session_of

# Every pytest run in an environment with pytest-tcg loads this module: it imports
# tcg_core, the speedup checks and the diagram writers only when something uses them.

__all__ = ["tcg_executor", "tcg_graph", "tcg_mock", "tcg_regression", "tcg_resolve",
           "tcg_session_resolve", "tcg_snapshot"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """https://docs.pytest.org/en/stable/reference/reference.html#pytest.hookspec.pytest_addoption"""
    add_options(parser)


def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser,
                                  args: list[str]) -> None:
    """The one hook that sees the arguments before they are parsed: a misspelt
    ``--tcg-*`` flag gets a "did you mean"."""
    check_flag_spelling(args)


def pytest_configure(config: pytest.Config) -> None:
    """https://docs.pytest.org/en/stable/reference/reference.html#pytest.hookspec.pytest_configure"""
    config.addinivalue_line("markers", MARKER_HELP)
    check_ini_keys(config)
    TcgSession.start(config)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """https://docs.pytest.org/en/stable/reference/reference.html#pytest.hookspec.pytest_report_header"""
    return session_of(config).header()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """https://docs.pytest.org/en/stable/reference/reference.html#pytest.hookspec.pytest_sessionfinish"""
    session_of(session.config).finish(session)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """https://docs.pytest.org/en/stable/reference/reference.html#pytest.hookspec.pytest_terminal_summary"""
    session_of(config).summary(terminalreporter)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist, in the controller: a worker is about to start."""
    session_of(node.config).configure_node(node)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist, in the controller: a worker ended."""
    session_of(node.config).merge_worker(node)

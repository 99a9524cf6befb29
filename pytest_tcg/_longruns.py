"""Long runs inside tests: a session's result cache, and live progress when asked.

Isolation first: every test session gets a fresh, temporary result cache
(``TCG_CACHE_DIR`` points into it while the session runs, and it is deleted at the
end), so no test ever sees values another session stored. xdist workers share their
controller's folder: the session is one run. ``--tcg-cache-dir DIR`` opts into a
persistent folder instead.

``--tcg-progress`` draws tcg's progress bar for resolves inside tests, after they ran
for ``PROGRESS_DELAY`` seconds. Never while output is captured (only with ``-s``) and
never in xdist workers, which have no terminal.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import os
import shutil
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from ._config import parse_flag

__all__ = ["SESSION_CACHE_ENV", "add_options", "configure"]

#: Tells xdist workers which temporary folder their controller made for the session.
SESSION_CACHE_ENV = "PYTEST_TCG_SESSION_CACHE"
#: A resolve shorter than this (seconds) draws no bar: only long ones are worth it.
PROGRESS_DELAY = 0.5


def _parse_cache_dir(value: str) -> str:
    if not value.strip():
        raise pytest.UsageError("--tcg-cache-dir: expected a folder name")
    return value


def add_options(parser: pytest.Parser, group: Any) -> None:
    """The options of this module, in the plugin's ``tcg`` group, and their ini twins."""
    group.addoption(
        "--tcg-progress", dest="tcg_progress", action="store_true", default=False,
        help="Show a live progress bar for resolves inside tests that run longer than "
             f"{PROGRESS_DELAY}s (needs -s: never while output is captured) "
             "(ini: tcg_progress).")
    group.addoption(
        "--tcg-cache-dir", dest="tcg_cache_dir", metavar="DIR", type=_parse_cache_dir,
        default=None,
        help="Keep tcg's result cache (@node(cache=True)) in DIR across sessions; by "
             "default each session uses a temporary cache of its own (ini: tcg_cache_dir, "
             "relative to the ini file).")
    parser.addini("tcg_progress", "true to turn on --tcg-progress.", default="")
    parser.addini("tcg_cache_dir", "Folder for --tcg-cache-dir (relative to the ini file).",
                  default="")


def _cache_dir(config: pytest.Config) -> str | None:
    """--tcg-cache-dir (relative to where pytest started), else tcg_cache_dir (relative to
    the ini file), else None."""
    chosen = config.getoption("tcg_cache_dir")
    if chosen is not None:
        return os.path.abspath(str(chosen))
    raw = str(config.getini("tcg_cache_dir")).strip()
    if not raw:
        return None
    base = config.inipath.parent if config.inipath is not None else Path.cwd()
    return str((base / os.path.expanduser(raw)).resolve())


def _progress_wanted(config: pytest.Config) -> bool:
    if config.getoption("tcg_progress"):
        return True
    raw = str(config.getini("tcg_progress"))
    try:
        return parse_flag(raw)
    except pytest.UsageError as exc:
        raise pytest.UsageError(f"ini key tcg_progress = {raw!r}: {exc}") from None


def configure(config: pytest.Config) -> None:
    """Point the result cache at this session's folder; register the progress hook."""
    previous = os.environ.get("TCG_CACHE_DIR")
    chosen = _cache_dir(config)
    made: str | None = None
    if chosen is not None:
        folder = chosen
    elif hasattr(config, "workerinput") and os.environ.get(SESSION_CACHE_ENV):
        folder = os.environ[SESSION_CACHE_ENV]
    else:
        folder = made = tempfile.mkdtemp(prefix="tcg-cache-")
    os.environ["TCG_CACHE_DIR"] = folder
    saved_session = os.environ.get(SESSION_CACHE_ENV)
    if made is not None:
        os.environ[SESSION_CACHE_ENV] = made

    def restore() -> None:
        for key, value in (("TCG_CACHE_DIR", previous), (SESSION_CACHE_ENV, saved_session)):
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)

    config.add_cleanup(restore)
    if (_progress_wanted(config) and config.getoption("capture", "fd") == "no"
            and not hasattr(config, "workerinput")):
        config.pluginmanager.register(_Progress(), "tcg-progress")


class _Progress:
    """Draws tcg's progress bar around each test call (``--tcg-progress -s``)."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        from tcg_core import progress

        with progress(delay=PROGRESS_DELAY):
            return (yield)

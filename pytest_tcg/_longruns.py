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

import pytest

from ._options import PROGRESS_DELAY
from ._settings import Settings

__all__ = ["SESSION_CACHE_ENV", "configure"]

#: Tells xdist workers which temporary folder their controller made for the session.
SESSION_CACHE_ENV = "PYTEST_TCG_SESSION_CACHE"


def configure(config: pytest.Config, settings: Settings) -> None:
    """Point the result cache at this session's folder; register the progress hook."""
    previous = os.environ.get("TCG_CACHE_DIR")
    made: str | None = None
    if settings.cache_dir is not None:
        folder = str(settings.cache_dir.resolve())
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
    if (settings.progress and config.getoption("capture", "fd") == "no"
            and not hasattr(config, "workerinput")):
        config.pluginmanager.register(_Progress(), "tcg-progress")


class _Progress:
    """Draws tcg's progress bar around each test call (``--tcg-progress -s``)."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        from tcg_core import progress

        with progress(delay=PROGRESS_DELAY):
            return (yield)

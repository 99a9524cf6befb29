"""Fixtures shared by the engine's tests."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def sigint() -> Iterator[None]:
    """Python's own SIGINT handler (KeyboardInterrupt) for the test, whatever runs pytest."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A result-cache folder of the test's own (``TCG_CACHE_DIR``, undone at teardown)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("TCG_CACHE_DIR", str(folder))
    return folder

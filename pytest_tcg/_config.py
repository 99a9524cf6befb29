"""The checks on the plugin's option values, one parse function per ``--tcg-*`` flag.

Each is the flag's argparse ``type=`` (``_options``); it raises ``pytest.UsageError`` so
a bad value stops pytest with one line naming the flag. An ini value goes through the
same function, so both spellings accept the same things.
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

import hashlib
import shutil

import pytest

__all__ = ["EXECUTORS", "FORMATS", "GRAPHVIZ_HINT", "RANDOM", "default_formats",
           "parse_cache_dir", "parse_dir", "parse_executor", "parse_fail_under", "parse_flag",
           "parse_formats", "parse_packages", "parse_shuffle", "parse_workers", "test_seed"]

#: ``--tcg-shuffle`` without a seed: one is chosen at random (and printed).
RANDOM = "random"

EXECUTORS = ("serial", "threads", "processes", "dask")
#: ``--tcg-graph-format`` names and the file ending each one writes.
FORMATS = {"svg": ".svg", "png": ".png", "dot": ".dot", "mmd": ".mmd", "json": ".json",
           "trace": ".trace.json"}
RENDERED = ("svg", "png")
GRAPHVIZ_HINT = ("Graphviz not found: diagrams saved as .dot and .mmd; install Graphviz "
                 "(apt-get install graphviz, brew install graphviz) to get .svg images")


def parse_executor(value: str) -> str:
    """``--tcg-executor``: one of serial, threads, processes, dask."""
    name = value.strip().lower()
    if name not in EXECUTORS:
        raise pytest.UsageError(f"--tcg-executor: unknown executor {value!r}; "
                                f"use one of {', '.join(EXECUTORS)}")
    return name


def parse_workers(value: str) -> int:
    """``--tcg-workers``: a positive number of workers."""
    try:
        workers = int(value)
    except ValueError:
        workers = 0
    if workers < 1:
        raise pytest.UsageError(f"--tcg-workers: expected a positive whole number, got {value!r}")
    return workers


def parse_formats(value: str) -> tuple[str, ...]:
    """``--tcg-graph-format``: a comma-separated list, e.g. ``svg,mmd``."""
    names = [part.strip().lower().lstrip(".") for part in value.split(",") if part.strip()]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise pytest.UsageError(f"--tcg-graph-format: unknown format {', '.join(unknown)!r}; "
                                f"use a comma-separated list of {', '.join(FORMATS)}"
                                if unknown else "--tcg-graph-format: no format given")
    return tuple(dict.fromkeys(names))


def parse_dir(value: str) -> str:
    """``--tcg-graph-out``: a folder (created when needed)."""
    if not value.strip():
        raise pytest.UsageError("--tcg-graph-out: expected a folder name")
    return value


def parse_cache_dir(value: str) -> str:
    """``--tcg-cache-dir``: a folder."""
    if not value.strip():
        raise pytest.UsageError("--tcg-cache-dir: expected a folder name")
    return value


def parse_packages(value: str) -> list[str]:
    """``--tcg-coverage``: comma-separated importable package names.

    >>> parse_packages("shop, shop.extra")
    ['shop', 'shop.extra']
    """
    names = [part.strip() for part in value.split(",") if part.strip()]
    bad = [n for n in names if not all(p.isidentifier() for p in n.split("."))]
    if not names or bad:
        raise pytest.UsageError(f"--tcg-coverage takes importable package names separated by "
                                f"commas, e.g. shop,shop_extra; got {value!r}")
    return names


def parse_fail_under(value: str) -> float:
    """``--tcg-coverage-fail-under``: a percentage from 0 to 100.

    >>> parse_fail_under("87.5")
    87.5
    """
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 100.0:
        raise pytest.UsageError(f"--tcg-coverage-fail-under takes a percentage from 0 to 100, "
                                f"got {value!r}")
    return number


def parse_shuffle(value: str) -> int | str:
    """``--tcg-shuffle[=SEED]``: a whole number >= 0, or ``random``."""
    text = value.strip().lower()
    if text == RANDOM:
        return RANDOM
    try:
        seed = int(text)
    except ValueError:
        seed = -1
    if seed < 0:
        raise pytest.UsageError(f"--tcg-shuffle: expected a seed (a whole number >= 0) or "
                                f"'random', got {value!r}")
    return seed


def parse_flag(value: str) -> bool:
    """An on/off ini key (``tcg_check_mutation``): true/false, yes/no, on/off, 1/0."""
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise pytest.UsageError(f"expected true or false, got {value!r}")


def test_seed(base: int, nodeid: str) -> int:
    """The ``ShuffledExecutor`` seed of one test under ``--tcg-shuffle=base``: derived
    from the test's id, so it does not depend on which tests run or on which worker.

    >>> test_seed(1, "test_a.py::test_x") == test_seed(1, "test_a.py::test_x")
    True
    """
    digest = hashlib.blake2b(f"{base}/{nodeid}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big")


test_seed.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


def default_formats() -> tuple[tuple[str, ...], str | None]:
    """svg when Graphviz's ``dot`` is on PATH, else dot and mmd plus a hint to print."""
    if shutil.which("dot"):
        return ("svg",), None
    return ("dot", "mmd"), GRAPHVIZ_HINT

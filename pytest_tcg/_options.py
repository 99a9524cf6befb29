"""The plugin's options as one table: each row makes the ``--tcg-*`` flag, its ini key
and the rule that reads them (the flag wins; an ini value goes through the flag's own
parser, so both spellings accept the same things and fail with the same words).

>>> [option.flag for option in OPTIONS][:2]
['--tcg-graph-out', '--tcg-graph-format']
>>> "tcg_snapshot_update" in INI_KEYS  # a flag only, on purpose (see its help)
False
"""

from __future__ import annotations

__tracebackhide__ = True  # pytest leaves tcg's own frames out of a failing test

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from ._config import (
    FORMATS,
    RANDOM,
    parse_cache_dir,
    parse_dir,
    parse_executor,
    parse_fail_under,
    parse_flag,
    parse_formats,
    parse_packages,
    parse_shuffle,
    parse_workers,
)
from ._text import did_you_mean

__all__ = ["GROUP", "INI_KEYS", "OPTIONS", "Option", "add_options", "check_flag_spelling",
           "check_ini_keys", "from_flag", "value"]

GROUP = "tcg"
#: ``--tcg-progress`` draws a bar for a resolve only after it ran this long (seconds).
PROGRESS_DELAY = 0.5


@dataclass(frozen=True)
class Option:
    """One row: a flag, what it takes, and its ini key."""

    flag: str  #: the command-line flag, ``--tcg-...``
    help: str  #: what it does, for ``pytest --help``
    #: what the value is called in the help; ``None``: an on/off flag
    metavar: str | None = None
    #: checks and converts a value given on the command line or in the ini file
    parse: Callable[[str], Any] = str
    #: the value of a flag given without one (``--tcg-shuffle``); None: a value is needed
    bare: Any = None
    #: the ini key's help; ``None``: the flag has no ini key
    ini: str | None = ""

    @property
    def dest(self) -> str:
        """The option's name for ``config.getoption`` and the ini file."""
        return self.flag[2:].replace("-", "_")


OPTIONS: tuple[Option, ...] = (
    Option("--tcg-graph-out", "Save the graph of every test that built one as "
           "DIR/<test id>.<ext>.", "DIR", parse_dir,
           ini="Folder for --tcg-graph-out (relative to the ini file)."),
    Option("--tcg-graph-format", f"Comma-separated formats for --tcg-graph-out, from "
           f"{','.join(FORMATS)}; default svg when Graphviz is installed, else dot,mmd.",
           "FORMATS", parse_formats, ini="Formats for --tcg-graph-format."),
    Option("--tcg-executor", "Executor for tcg_executor/tcg_resolve/tcg_graph: serial, "
           "threads, processes or dask; default threads.", "NAME", parse_executor,
           ini="Default executor for --tcg-executor."),
    Option("--tcg-workers", "Worker count for that executor.", "N", parse_workers,
           ini="Default worker count for --tcg-workers."),
    Option("--tcg-snapshot-update", "Write tcg_snapshot and tcg_regression files from what "
           "the tests build instead of comparing, and remove unused ones. A flag only: an "
           "ini key that always rewrote snapshots would make every check pass.", ini=None),
    Option("--tcg-shuffle", "Make every test's executor a tcg_core.ShuffledExecutor: nodes "
           "run in a random valid order, seeded per test from SEED (random when omitted; "
           "printed in the header and in failing tests' reports).", "SEED", parse_shuffle,
           bare=RANDOM, ini="Seed (or 'random') for --tcg-shuffle."),
    Option("--tcg-check-mutation", "Resolve with check_mutation=True in tcg_resolve, "
           "tcg_session_resolve and tcg_graph: a node whose body changes one of its "
           "arguments fails.", ini="true to turn on --tcg-check-mutation."),
    Option("--tcg-coverage", "Pipeline coverage: which node functions of these packages the "
           "tests ran, and how; a summary, tcg-coverage.json and (with --tcg-graph-out) "
           "coverage.html.", "PKG[,PKG...]", parse_packages,
           ini="Packages for --tcg-coverage."),
    Option("--tcg-coverage-fail-under", "Fail the session when under PCT%% of the node "
           "functions ran.", "PCT", parse_fail_under,
           ini="Percentage for --tcg-coverage-fail-under."),
    Option("--tcg-progress", "Show a live progress bar for resolves inside tests that run "
           f"longer than {PROGRESS_DELAY}s (needs -s: never while output is captured).",
           ini="true to turn on --tcg-progress."),
    Option("--tcg-cache-dir", "Keep tcg's result cache (@node(cache=True)) in DIR across "
           "sessions; by default each session uses a temporary cache of its own.", "DIR",
           parse_cache_dir, ini="Folder for --tcg-cache-dir (relative to the ini file)."),
)

_BY_DEST = {option.dest: option for option in OPTIONS}
#: Every ini key the plugin reads.
INI_KEYS: list[str] = [option.dest for option in OPTIONS if option.ini is not None]


def add_options(parser: pytest.Parser) -> None:
    """Every row's flag (in the ``tcg`` group of ``pytest --help``) and ini key."""
    group = parser.getgroup(GROUP, "tcg: computation-graph pipelines (pytest-tcg)")
    for option in OPTIONS:
        text = option.help if option.ini is None else f"{option.help} (ini: {option.dest})"
        if option.metavar is None:
            group.addoption(option.flag, dest=option.dest, action="store_true",
                            default=False, help=text)
        elif option.bare is not None:
            group.addoption(option.flag, dest=option.dest, metavar=option.metavar,
                            nargs="?", const=option.bare, type=option.parse, default=None,
                            help=text)
        else:
            group.addoption(option.flag, dest=option.dest, metavar=option.metavar,
                            type=option.parse, default=None, help=text)
        if option.ini is not None:
            parser.addini(option.dest, option.ini, default="")


def value(config: pytest.Config, dest: str) -> Any:
    """What the flag ``dest`` says, else its ini key (through the same parser), else
    ``None`` (``False`` for an on/off flag)."""
    option = _BY_DEST[dest]
    given = config.getoption(dest)
    if given not in (None, False) or option.ini is None:
        return given
    raw = str(config.getini(dest) or "").strip()
    parse = parse_flag if option.metavar is None else option.parse
    if not raw:
        return False if option.metavar is None else None
    try:
        return parse(raw)
    except pytest.UsageError as exc:
        raise pytest.UsageError(f"ini key {dest} = {raw!r}: {exc}") from None


def from_flag(config: pytest.Config, dest: str) -> bool:
    """The value of ``dest`` came from the command line (a path in it is relative to
    where pytest started; in the ini file, to the ini file)."""
    return config.getoption(dest) not in (None, False)


def check_flag_spelling(args: list[str]) -> None:
    """A misspelt ``--tcg-*`` flag gets a "did you mean" (argparse would only say it is
    unrecognized)."""
    known = sorted(option.flag for option in OPTIONS)
    for arg in args:
        if arg == "--":
            break
        name = arg.split("=", 1)[0]
        if name.startswith("--tcg") and name not in known:
            raise pytest.UsageError(f"unknown option {name}{did_you_mean(name, known)}; the "
                                    f"tcg options are {', '.join(known)}")


def check_ini_keys(config: pytest.Config) -> None:
    """A misspelt ``tcg_*`` ini key gets a warning with a "did you mean" (pytest's own
    says only that the key is unknown)."""
    for key in sorted(_ini_keys_given(config)):
        if key.startswith("tcg") and key not in INI_KEYS:
            config.issue_config_time_warning(pytest.PytestConfigWarning(
                f"unknown ini key {key!r}{did_you_mean(key, INI_KEYS)}: pytest-tcg ignores "
                f"it; its keys are {', '.join(INI_KEYS)}"), stacklevel=2)


def _ini_keys_given(config: pytest.Config) -> list[str]:
    """The keys the ini file sets. pytest has no public way to list them: 9.x keeps them
    in ``_inicfg`` (its ``inicfg`` is deprecated), 8.x in ``inicfg``; with neither,
    nothing is checked (pytest still warns of an unknown key, without a suggestion)."""
    found = getattr(config, "_inicfg", None)
    if found is None and int(pytest.__version__.split(".")[0]) < 9:
        found = getattr(config, "inicfg", None)
    try:
        return [str(key) for key in (found or {})]
    except Exception:
        return []

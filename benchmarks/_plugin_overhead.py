"""The plugin costs nothing when unused: 2,000 trivial tests with and without ``-p no:tcg``.

The suite is generated in a temporary folder with its own ``pytest.ini`` (so this
repository's configuration does not apply). Both variants run interleaved, alternating
which goes first, after one warm-up run of each; the medians are compared.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from ._common import Check, Options, ScenarioResult, Table, fmt, log, median

NAME = "plugin"
TESTS, PER_FILE = 2_000, 100
TARGET = 0.03  # at most 3% slower with the plugin loaded
VARIANTS = {"plugin loaded": [], "-p no:tcg": ["-p", "no:tcg"]}


def write_suite(folder: Path, tests: int = TESTS, per_file: int = PER_FILE) -> None:
    """``tests`` trivial test functions in files of ``per_file``."""
    (folder / "pytest.ini").write_text("[pytest]\n")
    for start in range(0, tests, per_file):
        body = "".join(f"def test_{i}():\n    assert {i} == {i}\n\n\n"
                       for i in range(start, min(start + per_file, tests)))
        (folder / f"test_suite_{start // per_file:03d}.py").write_text(body)


def _environment() -> dict[str, str]:
    # Bytecode is written as on a developer's machine: the warm-up run compiles, later
    # runs of both variants load .pyc files.
    dropped = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
               "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["PYTHONHASHSEED"] = "0"
    return env


def run_suite(folder: Path, extra: list[str], env: dict[str, str], tests: int = TESTS) -> float:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, "."]
    started = time.perf_counter()
    out = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=600,
                         check=False)
    elapsed = time.perf_counter() - started
    if out.returncode != 0 or f"{tests} passed" not in out.stdout:
        lines = out.stdout.strip().splitlines()[-3:] + out.stderr.strip().splitlines()[-3:]
        tail = " | ".join(lines)
        raise RuntimeError(f"pytest {' '.join(extra)} failed: {tail}")
    return elapsed


def plugin_status() -> dict[str, Any]:
    """Is the ``tcg`` pytest11 entry point registered, and how many hooks does it define?"""
    points = [ep for ep in metadata.entry_points(group="pytest11") if ep.name == "tcg"]
    status: dict[str, Any] = {"registered": bool(points),
                              "module": points[0].value if points else None}
    if points:
        try:
            module = points[0].load()
        except Exception as exc:
            status["import_error"] = repr(exc)
        else:
            status["hooks"] = sorted(n for n in dir(module) if n.startswith("pytest_"))
    return status


def interleaved(folder: Path, pairs: int, env: dict[str, str], tests: int,
                options: Options) -> dict[str, list[float]]:
    """Wall times of both variants, alternating which runs first, after a warm-up."""
    samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for extra in VARIANTS.values():  # warm-up: bytecode, page cache
        run_suite(folder, extra, env, tests)
    names = list(VARIANTS)
    for i in range(pairs):
        log(options, f"plugin overhead: {tests:,} tests, pair {i + 1}/{pairs}")
        for name in names if i % 2 == 0 else names[::-1]:
            samples[name].append(run_suite(folder, VARIANTS[name], env, tests))
    return samples


def run(options: Options) -> ScenarioResult:
    # A run of 2,000 tests takes about a second and varies by a few percent from run to
    # run: enough pairs that the median of their ratios is steadier than the target.
    pairs = max(options.repeats, 15 if options.full else 7)
    env = _environment()
    with tempfile.TemporaryDirectory(prefix="tcg-plugin-bench-") as tmp:
        folder = Path(tmp) / "suite"
        folder.mkdir()
        write_suite(folder)
        samples = interleaved(folder, pairs, env, TESTS, options)
        # The same with one test: what is paid once (imports, configure) rather than per test.
        single = Path(tmp) / "single"
        single.mkdir()
        write_suite(single, tests=1, per_file=1)
        once = interleaved(single, pairs + 2, env, 1, options)
    loaded, without = median(samples["plugin loaded"]), median(samples["-p no:tcg"])
    # Each pair ran back to back under the same machine load: the median of the pairs'
    # ratios resists a slow spell better than the ratio of the two medians.
    overhead = median([a / b for a, b in zip(samples["plugin loaded"], samples["-p no:tcg"],
                                             strict=True)]) - 1
    fixed = median(once["plugin loaded"]) - median(once["-p no:tcg"])
    per_test = (loaded - without - fixed) / TESTS
    status = plugin_status()
    table = Table(f"Plugin overhead: {TESTS:,} trivial tests, {pairs} interleaved pairs "
                  "(wall s incl. interpreter start)",
                  ["variant", "median s", "min s", "max s", "1-test suite median s"],
                  [[name, fmt(median(v), 3), fmt(min(v), 3), fmt(max(v), 3),
                    fmt(median(once[name]), 3)] for name, v in samples.items()])
    table.notes.append(f"overhead {overhead:+.1%} (median of the pairs' ratios) = about "
                       f"{fixed * 1e3:.0f} ms once (the 1-test "
                       f"suite's difference: imports, configure) + {per_test * 1e6:.1f} µs per "
                       f"test; plugin: registered={status['registered']}, "
                       f"hooks={status.get('hooks', status.get('import_error'))}")
    check = Check(f"plugin unused: within {TARGET:.0%} of -p no:tcg",
                  f"{overhead:+.1%} ({fixed * 1e3:.0f} ms once)",
                  overhead <= TARGET)
    data = {"samples": samples, "single_test_samples": once, "overhead": overhead,
            "fixed_s": fixed, "per_test_s": per_test, "plugin": status}
    return ScenarioResult(NAME, data, [table], [check])

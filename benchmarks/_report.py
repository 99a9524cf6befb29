"""Printing tables and checks, and writing the JSON results."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ._common import RESULTS, Check, ScenarioResult, Table

BUSY = 1.5  # a 1-minute load average above this on 2 CPUs means others are running


def header(machine: dict[str, Any], mode: str) -> str:
    load = machine.get("loadavg_at_start")
    warning = (f"\n**Warning: load average {load} at start: other processes share the CPUs; "
               "expect inflated times.**" if load is not None and load > BUSY else "")
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v)
    return (f"# tcg_core benchmarks ({mode})\n"
            f"{machine['date']} · {machine['cpu_count']} CPUs ({machine['cpus_usable']} usable) "
            f"· {machine['memory_gb']} GB · {machine['processor']}\n"
            f"{machine['implementation']} {machine['python']} · {machine['platform']} · "
            f"tcg {machine['tcg_commit'] or '?'} · {versions}\n"
            f"Load average at start: {machine['loadavg_at_start']} (a busy machine slows "
            "thread hand-offs most). Times are medians of repeats unless a note says one run."
            + warning)


def render_table(table: Table) -> str:
    """A GitHub-flavoured markdown table, columns padded for the terminal."""
    cells = [[str(h) for h in table.headers]] + [[str(v) for v in row] for row in table.rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(table.headers))]

    def line(row: list[str]) -> str:
        pairs = enumerate(zip(row, widths, strict=True))
        padded = [v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in pairs]
        return "| " + " | ".join(padded) + " |"

    out = [f"\n## {table.title}\n", line(cells[0]),
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out.extend(line(row) for row in cells[1:])
    out.extend(f"\n_{note}_" for note in table.notes)
    return "\n".join(out)


def render_checks(checks: list[Check]) -> str:
    marks = {True: "MET", False: "MISSED", None: "n/a"}
    table = Table("Targets", ["status", "target", "measured"],
                  [[marks[c.met], c.target, c.measured] for c in checks])
    return render_table(table)


def render(results: list[ScenarioResult], machine: dict[str, Any], mode: str) -> str:
    parts = [header(machine, mode)]
    for result in results:
        before, after = result.load
        parts.append(f"\n# Scenario: {result.name} ({result.seconds:.1f} s; "
                     f"load average {before} → {after})")
        parts.extend(render_table(t) for t in result.tables)
    checks = [c for r in results for c in r.checks]
    if checks:
        parts.append(render_checks(checks))
    return "\n".join(parts) + "\n"


def write_json(results: list[ScenarioResult], machine: dict[str, Any], mode: str,
               out_dir: Path = RESULTS) -> Path:
    """Write ``<date>-<mode>.json`` and ``latest.json``; return the dated path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": machine, "mode": mode,
        "scenarios": {r.name: {"seconds": r.seconds, "load_average": r.load, "data": r.data,
                               "tables": [asdict(t) for t in r.tables],
                               "checks": [asdict(c) for c in r.checks]} for r in results},
    }
    text = json.dumps(payload, indent=1, default=str)
    stamp = machine["date"].replace(":", "").replace("+0000", "Z")[:17]
    path = out_dir / f"{stamp}-{mode.replace(' ', '-')}.json"
    path.write_text(text)
    (out_dir / "latest.json").write_text(text)
    return path

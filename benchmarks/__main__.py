"""``python -m benchmarks``: run the scenarios, print tables, write JSON.

    python -m benchmarks                  # every default scenario, small sizes
    python -m benchmarks --full           # adds million-node runs and more repeats
    python -m benchmarks --only micro     # one scenario (repeat --only for several)
    python -m benchmarks --only profile   # hot paths of tcg_core (not run by default)
    python -m benchmarks --only data      # arrays of hundreds of MB on processes (opt-in)
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from ._common import RESULTS, Options, ScenarioResult, load_average, machine_info
from ._report import render, write_json

#: scenario name -> module; run in this order.
SCENARIOS = {
    "micro": "_micro",
    "makespan": "_makespan",
    "memory": "_memory",
    "scale": "_scale",
    "plugin": "_plugin_overhead",
    "async": "_async",
    "arguments": "_arguments",
    "distributed": "_distributed",
}
#: scenarios run only when asked for with --only.
OPT_IN = {"profile": "_profile", "data": "_data"}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true",
                        help="million-node runs, more repeats (takes long)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        choices=[*SCENARIOS, *OPT_IN], help="run only this scenario")
    parser.add_argument("--repeats", type=int, default=None,
                        help="repeats per measurement (default 3, or 5 with --full)")
    parser.add_argument("--budget", type=float, default=None,
                        help="skip a cell predicted to take longer (s; default 60, 600 full)")
    parser.add_argument("--no-dask", action="store_true", help="leave dask out")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    options = Options(full=args.full,
                      repeats=args.repeats or (5 if args.full else 3),
                      budget=args.budget or (600.0 if args.full else 60.0),
                      dask=not args.no_dask, verbose=not args.quiet)
    names = args.only or list(SCENARIOS)
    mode = ("full" if args.full else "default") + ("" if not args.only else
                                                    " only-" + "-".join(names))
    machine = machine_info()
    results: list[ScenarioResult] = []
    for name in names:
        module = importlib.import_module(f"benchmarks.{SCENARIOS.get(name) or OPT_IN[name]}")
        if options.verbose:
            print(f"[benchmarks] {name} ...", file=sys.stderr, flush=True)
        started, load_before = time.perf_counter(), load_average()
        result: ScenarioResult = module.run(options)
        result.seconds = time.perf_counter() - started
        result.load = (load_before, load_average())
        results.append(result)
        if options.verbose:
            print(f"[benchmarks] {name} done in {result.seconds:.1f} s", file=sys.stderr,
                  flush=True)
    path = write_json(results, machine, mode, args.out)  # first: a closed stdout loses nothing
    print(render(results, machine, mode))
    print(f"JSON: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

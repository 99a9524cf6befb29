"""``async def`` nodes: 1,000 nodes each awaiting ``asyncio.sleep(0.1)``, resolved on the
default executor. The issue's target: well under 2 s (one event loop runs them all at
once; a thread each would take 1,000 / 32 workers x 0.1 s = 3.1 s at best)."""

from __future__ import annotations

import asyncio
import time

from ._common import Check, Options, ScenarioResult, Table, fmt, log, median, repeat_runs

NODES = 1000
SLEEP = 0.1
TARGET = 2.0


def _one_run() -> dict[str, float]:
    from tcg_core import node, resolve

    @node
    async def wait(i: int) -> int:
        await asyncio.sleep(SLEEP)
        return i

    started = time.perf_counter()
    futures = [wait(i) for i in range(NODES)]
    values = resolve(*futures)
    elapsed = time.perf_counter() - started
    assert list(values) == list(range(NODES))
    first_end = min(f.node.end or 0.0 for f in futures)
    overlapping = sum(1 for f in futures if (f.node.start or 0.0) < first_end)
    return {"seconds": elapsed, "overlapping": float(overlapping)}


def run(options: Options) -> ScenarioResult:
    log(options, f"async: {NODES} nodes sleeping {SLEEP}s")
    samples = repeat_runs(_one_run, options.repeats)
    seconds = median([s["seconds"] for s in samples])
    overlapping = median([s["overlapping"] for s in samples])
    table = Table(
        title=f"{NODES} async nodes, each awaiting asyncio.sleep({SLEEP}), default executor",
        headers=["median s", "nodes started before the first ended", "runs"],
        rows=[[fmt(seconds, 3), fmt(overlapping, 0), len(samples)]],
        notes=["one event-loop thread runs every coroutine; they hold no worker thread"])
    check = Check(target=f"{NODES} async nodes sleeping {SLEEP}s finish well under "
                         f"{TARGET:.0f}s on the default executor",
                  measured=f"{seconds:.3f}s", met=seconds < TARGET)
    return ScenarioResult(name="async", data={"seconds": seconds, "samples": samples},
                          tables=[table], checks=[check])

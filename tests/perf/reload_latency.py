"""Measure save -> live latency of FlowDirectory hot reload (not a test).

    .venv/bin/python tests/perf/reload_latency.py [--saves 50]

Each round writes a new version of a flow file and waits for the ``flow.reloaded`` event;
the time from the end of the write to the event is the latency.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from flowmonkey import Engine, Event, EventType, MemoryStore
from flowmonkey.flowdirectory import FlowDirectory

FLOW = """\
id: bench
version: 1.0.{n}
initialStepId: a
steps:
  a: {{type: log, config: {{message: "save {n}"}}, transitions: {{onSuccess: b}}}}
  b: {{type: log}}
"""


async def measure(saves: int) -> list[float]:
    latencies: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(FLOW.format(n=0))
        engine = Engine(MemoryStore())
        arrived: asyncio.Queue[float] = asyncio.Queue()

        def on_event(event: Event) -> None:
            arrived.put_nowait(time.perf_counter())

        engine.events.subscribe(on_event, [EventType.FLOW_RELOADED])
        async with FlowDirectory(tmp, engine):
            for n in range(1, saves + 1):
                path.write_text(FLOW.format(n=n))
                saved = time.perf_counter()
                live_at = await asyncio.wait_for(arrived.get(), 5)
                assert engine.flows.get("bench").version == f"1.0.{n}"
                latencies.append((live_at - saved) * 1000)
                await asyncio.sleep(0.05)  # let the watcher settle between saves
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--saves", type=int, default=50)
    args = parser.parse_args()
    latencies = asyncio.run(measure(args.saves))
    quantiles = statistics.quantiles(latencies, n=100)
    print(
        f"{len(latencies)} saves: p50 {statistics.median(latencies):.1f} ms, p95 {quantiles[94]:.1f} ms, "
        f"max {max(latencies):.1f} ms"
    )


if __name__ == "__main__":
    main()

"""A worker's memory over many executions (a script for the report, not a test).

    .venv/bin/python tests/perf/worker_memory.py [--executions 1000000] [--store URL]

One real ``flowmonkey worker`` runs one-step executions that this process creates in
chunks (never more than a chunk pending, so the store stays small); the worker's resident
memory (``VmRSS``) is read after every ``--every`` executions completed. Flat memory
means nothing the worker keeps grows with the executions it ran.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from flowmonkey import Engine, ExecutionStatus, Flow, open_store
from flowmonkey.bench_flows import FLOW_ID, noop_flow, write_flows
from flowmonkey.coordination import attach_signaler, signaler_for

FLOWMONKEY = str(Path(sys.executable).with_name("flowmonkey"))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=2_000)
    parser.add_argument("--store", help="default: a new SQLite file")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="fm-worker-memory-"))
    flows = root / "flows"
    flows.mkdir()
    write_flows(flows, scenario="steps", steps=1)
    url = args.store or f"sqlite:///{root / 'store.db'}"
    async with open_store(url) as store:
        engine = Engine(store, flows=[Flow.from_dict(noop_flow(1, waits=False))])
        signaler = signaler_for(url)  # as any flowmonkey command: the worker hears of creates
        assert signaler is not None
        await signaler.start(lambda *_: None)
        attach_signaler(engine, signaler)
        worker = await asyncio.create_subprocess_exec(
            FLOWMONKEY, "worker", "--store", url, "--flows", str(flows), "--no-watch", "--quiet",
            "--concurrency", "50",
        )  # fmt: skip
        samples: list[tuple[int, float]] = []
        done, started = 0, time.perf_counter()
        try:
            await asyncio.sleep(2)
            samples.append((0, rss_mb(worker.pid)))
            while done < args.executions:
                created = await asyncio.gather(*(engine.create(FLOW_ID) for _ in range(args.chunk)))
                ids = sorted(c.execution.id for c in created)  # claimed in id order: the last, last
                while (await store.get_execution(ids[-1])).status is not ExecutionStatus.COMPLETED:  # type: ignore[union-attr]
                    await asyncio.sleep(0.05)
                done += len(ids)
                if done % args.every == 0:
                    samples.append((done, rss_mb(worker.pid)))
                    print(f"{done:>9,} executions: worker RSS {samples[-1][1]:.1f} MB", flush=True)
        finally:
            worker.terminate()
            await worker.wait()
            await signaler.stop()
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {"store": url.split(":")[0], "executions": done, "seconds": round(seconds), "rss_mb": samples}
        )
    )


if __name__ == "__main__":
    asyncio.run(main())

"""Measure a bulk retry (or cancel) by filter over many held executions (not a test).

    .venv/bin/python tests/perf/bulk_by_filter.py --store sqlite:///tmp/bulk.db [--count 100000]
    .venv/bin/python tests/perf/bulk_by_filter.py --store postgresql://127.0.0.1/bulkperf --count 100000

One execution is held for real (its handler fails, ``onExhausted: hold``); it is cloned
``--count`` times with one INSERT ... SELECT (ids ``00PERF...``, older than any real one).
A ``flowmonkey worker`` subprocess runs the flow with the handler fixed. Then
``retry --filter 'status:held flow:perf'`` is worked here by :class:`flowmonkey.BulkRun`
while a probe creates a new execution every ``--probe`` seconds and times it to
``completed``: the latency of new work meanwhile, against a baseline taken before. The
resident memory of this process is sampled at every batch.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flowmonkey import (
    BulkRun,
    Engine,
    ExecutionQuery,
    ExecutionStatus,
    attach_signaler,
    cancel_action,
    open_store,
    preview,
    retry_action,
    signaler_for,
)
from flowmonkey.flowdirectory import FlowDirectory

FLOW = """\
id: perf
version: 1.0.0
onExhausted: hold
initialStepId: ship
steps:
  ship: {type: perf-ship, outputKey: shipment, transitions: {onSuccess: done}}
  done: {type: log}
"""
PROBE = """\
id: probe
version: 1.0.0
initialStepId: one
steps:
  one: {type: log}
"""
HANDLER = """\
from flowmonkey import HandlerParams, Result, StepResult, handler


@handler("perf-ship")
async def ship(params: HandlerParams) -> StepResult:
    return Result.{outcome}
"""
BROKEN, FIXED = 'failure("HTTP_ERROR", "down")', 'success({"tracking": "T"})'


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def flows_dir(root: Path, name: str, outcome: str) -> Path:
    directory = root / name
    directory.mkdir()
    (directory / "perf.yaml").write_text(FLOW)
    (directory / "probe.yaml").write_text(PROBE)
    (directory / "perf.py").write_text(HANDLER.replace("{outcome}", outcome))
    return directory


async def held_one(url: str, directory: Path) -> str:
    async with open_store(url) as store:
        engine = Engine(store)
        await FlowDirectory(directory, engine).load()
        execution, _ = await engine.create("perf", {"order": 1})
        held = await engine.run(execution.id)
        assert held.status is ExecutionStatus.HELD, held.status
        return held.id


def clone_sql(columns: list[str], postgres: bool) -> str:
    pad = "lpad(g::text, 20, '0')" if postgres else "substr('00000000000000000000' || g.n, -20, 20)"
    picked = ", ".join(f"'00PERF' || {pad}" if c == "id" else c for c in columns)
    names = ", ".join(columns)
    if postgres:
        return f"INSERT INTO executions ({names}) SELECT {picked} FROM executions, generate_series(1, $2) g WHERE id = $1"
    return (
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?2) "
        f"INSERT INTO executions ({names}) SELECT {picked} FROM executions, g WHERE id = ?1"
    )


async def clone(url: str, execution_id: str, count: int) -> None:
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        columns = [row[1] for row in conn.execute("PRAGMA table_info(executions)")]
        with conn:
            conn.execute(clone_sql(columns, False), (execution_id, count))
        conn.close()
        return
    import asyncpg

    conn = await asyncpg.connect(url)
    rows = await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'executions' "
        "AND table_schema = current_schema() ORDER BY ordinal_position"
    )
    await conn.execute(clone_sql([r[0] for r in rows], True), execution_id, count)
    await conn.execute("ANALYZE executions")
    await conn.close()


class Probe:
    """Creates a probe execution every ``every`` seconds and times it to completed."""

    def __init__(self, engine: Engine, every: float) -> None:
        self.engine, self.every, self.latencies = engine, every, []  # type: ignore[var-annotated]

    async def run(self) -> None:
        while True:
            started = time.perf_counter()
            execution, _ = await self.engine.create("probe", {})
            while True:
                current = await self.engine.get(execution.id)
                if current is not None and current.status is ExecutionStatus.COMPLETED:
                    break
                await asyncio.sleep(0.01)
            self.latencies.append(time.perf_counter() - started)
            await asyncio.sleep(self.every)


def summary(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: none"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{name}: n={len(values)} median={statistics.median(values) * 1000:.0f}ms p95={p95 * 1000:.0f}ms max={ordered[-1] * 1000:.0f}ms"


async def measure(url: str, count: int, every: float, baseline: float, action: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        execution_id = await held_one(url, flows_dir(root, "broken", BROKEN))
        began = time.perf_counter()
        await clone(url, execution_id, count)
        print(f"cloned {count} held executions in {time.perf_counter() - began:.1f}s", flush=True)
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flowmonkey",
                "worker",
                "--store",
                url,
                "--flows",
                str(flows_dir(root, "fixed", FIXED)),
                "--quiet",
                "--no-watch",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            await run_bulk(url, root / "fixed", count, every, baseline, action)
        finally:
            worker.terminate()
            worker.wait(30)


async def run_bulk(url: str, directory: Path, count: int, every: float, baseline: float, action: str) -> None:
    async with open_store(url) as store:
        engine = Engine(store)
        await FlowDirectory(directory, engine).load()
        signaler = signaler_for(url)
        if signaler is not None:
            await signaler.start(lambda *_: None)
            attach_signaler(engine, signaler)
        probe = Probe(engine, every)
        probing = asyncio.create_task(probe.run())
        while not probe.latencies:  # the worker is up
            await asyncio.sleep(0.1)
        probe.latencies.clear()
        await asyncio.sleep(baseline)
        before = list(probe.latencies)
        probe.latencies.clear()
        query = ExecutionQuery(statuses=(ExecutionStatus.HELD,), flow_id="perf")
        plan = await preview(store, query)
        print(f"preview: {plan.count} match, newest {plan.newest_id}", flush=True)
        memory = [rss_mb()]
        last = [0]
        started = time.perf_counter()

        def progress(p: object) -> None:
            memory.append(rss_mb())
            seen = p.seen  # type: ignore[attr-defined]
            if seen - last[0] >= count // 10:
                last[0] = seen
                rate = seen / (time.perf_counter() - started)
                latency = summary("new executions so far", probe.latencies)
                print(f"  {seen}/{plan.count} {rate:.0f}/s rss={memory[-1]:.0f}MB {latency}", flush=True)

        act = retry_action(engine, "perf") if action == "retry" else cancel_action(engine, "perf", "perf")
        result = await BulkRun(store, plan, act, paced=action == "retry", on_progress=progress).run()
        bulk_seconds = time.perf_counter() - started
        during = list(probe.latencies)
        while action == "retry":
            counts = await store.count_executions(ExecutionQuery(flow_id="perf"))
            if counts[ExecutionStatus.COMPLETED] >= plan.count:
                break
            await asyncio.sleep(0.5)
        drained = time.perf_counter() - started
        probing.cancel()
        if signaler is not None:
            await signaler.stop()
        print(f"store {url.split('://')[0]}: {action} {result.done} (refused {sum(result.refused.values())})")
        print(
            f"bulk {bulk_seconds:.1f}s ({result.done / bulk_seconds:.0f}/s, held back {result.paused_seconds:.1f}s); all completed after {drained:.1f}s"
        )
        print(f"rss MB: start {memory[0]:.0f} max {max(memory):.0f} end {memory[-1]:.0f}")
        print(summary("new executions before", before))
        print(summary("new executions during", during))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", required=True)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--action", choices=("retry", "cancel"), default="retry")
    parser.add_argument("--probe", type=float, default=0.5, help="seconds between probe executions")
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds of probes before the bulk")
    args = parser.parse_args()
    os.environ.pop("FLOWMONKEY_REDIS", None)
    asyncio.run(measure(args.store, args.count, args.probe, args.baseline, args.action))


if __name__ == "__main__":
    main()

"""Prune N finished executions while a worker runs on the same store (not a test).

    .venv/bin/python tests/perf/retention_load.py --store sqlite:////tmp/prune.db
    .venv/bin/python tests/perf/retention_load.py --store postgresql://postgres@127.0.0.1/prune_perf

1. Seeds ``--rows`` executions that finished 60 days ago (one history record each) with
   bulk SQL (a recursive CTE on SQLite, ``generate_series`` on PostgreSQL): not the engine.
2. Starts a worker process (a :class:`~flowmonkey.Runtime`, 16 at a time, on a 3-step flow
   of no-op handlers, fed so it never runs dry) that prints its step count every second.
3. Measures the worker alone, then while ``flowmonkey prune --older-than 30d`` runs in its
   own process, then alone again; reports the median steps/s of each phase, their ratio,
   and the prune's duration. On PostgreSQL the database is created and dropped here.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from flowmonkey import Engine, Flow, Result, Runtime, handler, open_store
from flowmonkey.ids import new_id

FLOW = Flow.from_dict(
    {
        "id": "live",
        "initialStepId": "a",
        "steps": {
            "a": {"type": "perf.noop", "transitions": {"onSuccess": "b"}},
            "b": {"type": "perf.noop", "transitions": {"onSuccess": "c"}},
            "c": {"type": "perf.noop"},
        },
    }
)


@handler("perf.noop")
async def noop(params: Any) -> Any:
    return Result.success(None)


# -- seeding ------------------------------------------------------------------------------

SQLITE_SEED = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)
INSERT INTO executions (id, flow_id, flow_version, flow_hash, status, context, created_at, updated_at,
                        revision, step_count, attempt, completed_at, metadata)
SELECT :prefix || printf('%016d', i), 'old-' || (i % 3), '1.0.0', 'h',
       CASE i % 10 WHEN 0 THEN 'failed' WHEN 1 THEN 'cancelled' ELSE 'completed' END,
       '{"order": ' || i || '}', :t, :t, 2, 1, 1, :t, '{}' FROM n
"""
SQLITE_HISTORY = """
INSERT INTO step_records (execution_id, sequence, step_id, attempt, outcome, started_at, finished_at, output)
SELECT id, 1, 'a', 1, 'completed', :t, :t, '{"x": 1}' FROM executions WHERE flow_id LIKE 'old-%'
"""
PG_SEED = """
INSERT INTO executions (id, flow_id, flow_version, flow_hash, status, context, created_at, updated_at,
                        revision, step_count, attempt, completed_at, metadata)
SELECT $1 || lpad(i::text, 16, '0'), 'old-' || (i % 3), '1.0.0', 'h',
       CASE i % 10 WHEN 0 THEN 'failed' WHEN 1 THEN 'cancelled' ELSE 'completed' END,
       jsonb_build_object('order', i), $3, $3, 2, 1, 1, $3, '{}'::jsonb
FROM generate_series(1, $2) AS i
"""
PG_HISTORY = """
INSERT INTO step_records (execution_id, sequence, step_id, attempt, outcome, started_at, finished_at, output)
SELECT id, 1, 'a', 1, 'completed', $1, $1, '{"x": 1}'::jsonb FROM executions WHERE flow_id LIKE 'old-%'
"""


async def seed(url: str, rows: int) -> float:
    """Insert ``rows`` old finished executions with one history record each; seconds taken."""
    finished = datetime.now(UTC) - timedelta(days=60)
    prefix = new_id(int(finished.timestamp() * 1000))[:10]
    async with open_store(url):
        pass  # the schema
    started = time.perf_counter()
    if url.startswith("sqlite"):
        import sqlite3

        path = url.removeprefix("sqlite:///")
        micros = int(finished.timestamp() * 1_000_000)
        with sqlite3.connect(path) as conn:
            conn.execute(SQLITE_SEED, {"rows": rows, "prefix": prefix, "t": micros})
            conn.execute(SQLITE_HISTORY, {"t": micros})
    else:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(PG_SEED, prefix, rows, finished)
            await conn.execute(PG_HISTORY, finished)
            await conn.execute("ANALYZE")
        finally:
            await conn.close()
    return time.perf_counter() - started


# -- the worker ---------------------------------------------------------------------------


async def work(url: str, seconds: float) -> None:
    """Run a worker for ``seconds``, keeping it fed; print the steps done every second."""
    async with open_store(url) as store:
        engine = Engine(store, [noop], [FLOW])
        async with Runtime(engine, concurrency=16) as runtime:
            feeder = asyncio.create_task(feed(engine, runtime))
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                await asyncio.sleep(1.0)
                print(json.dumps({"t": time.time(), "steps": runtime.stats.steps}), flush=True)
            feeder.cancel()


async def feed(engine: Engine, runtime: Runtime) -> None:
    """Keep about 200 executions ahead of the worker."""
    created = 0
    while True:
        backlog = created - runtime.stats.steps // 3
        for _ in range(max(0, 200 - backlog)):
            await engine.create("live")
            created += 1
        await asyncio.sleep(0.05)


# -- the measurement ----------------------------------------------------------------------


def measure(url: str, calm: float) -> dict[str, Any]:
    """Worker alone, with the prune, alone again: median steps/s of each phase."""
    script = [sys.executable, __file__]
    worker = subprocess.Popen(
        [*script, "worker", "--store", url, "--seconds", "3600"], stdout=subprocess.PIPE, text=True
    )
    samples: list[tuple[float, int]] = []

    def read_until(moment: float) -> None:
        assert worker.stdout is not None
        while time.time() < moment:
            line = worker.stdout.readline()
            if not line:
                raise RuntimeError("the worker stopped")
            sample = json.loads(line)
            samples.append((sample["t"], sample["steps"]))

    try:
        read_until(time.time() + 10)  # warm up
        before = (time.time(), time.time() + calm)
        read_until(before[1])
        prune_started = time.time()
        prune = subprocess.Popen(
            [sys.executable, "-m", "flowmonkey", "prune", "--store", url, "--older-than", "30d", "--json"],
            stdout=subprocess.PIPE,
            text=True,
        )
        while prune.poll() is None:
            read_until(time.time() + 1)
        prune_ended = time.time()
        report = json.loads(prune.communicate()[0])
        after = (time.time(), time.time() + calm)
        read_until(after[1])
    finally:
        worker.terminate()
        worker.wait()
    phases = {"before": before, "during": (prune_started, prune_ended), "after": after}
    rates = {name: _rates(samples, *span) for name, span in phases.items()}
    medians = {name: statistics.median(r) if r else 0.0 for name, r in rates.items()}
    alone = statistics.median(rates["before"] + rates["after"])
    return {
        "store": url.split("://")[0],
        "prune_seconds": round(prune_ended - prune_started, 1),
        "pruned": report["executions"]["total"],
        "steps_per_s_median": {k: round(v, 1) for k, v in medians.items()},
        "during_vs_alone": round(medians["during"] / alone, 3) if alone else None,
        "space": report["space"],
    }


def _rates(samples: list[tuple[float, int]], start: float, end: float) -> list[float]:
    inside = [(t, n) for t, n in samples if start <= t <= end]
    return [(n2 - n1) / (t2 - t1) for (t1, n1), (t2, n2) in itertools.pairwise(inside)]


async def _postgres_database(url: str, create: bool) -> None:
    base, _, name = url.rpartition("/")
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="measure", choices=["measure", "worker"])
    parser.add_argument("--store", required=True)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--calm", type=float, default=20.0, help="seconds measured before and after")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    if args.mode == "worker":
        asyncio.run(work(args.store, args.seconds))
        return
    postgres = args.store.startswith("postgres")
    if postgres:
        asyncio.run(_postgres_database(args.store, create=True))
    try:
        seeded = asyncio.run(seed(args.store, args.rows))
        print(f"seeded {args.rows} executions in {seeded:.1f}s", file=sys.stderr)
        print(json.dumps(measure(args.store, args.calm), indent=2))
    finally:
        if postgres:
            asyncio.run(_postgres_database(args.store, create=False))


if __name__ == "__main__":
    main()

"""Cost does not grow with the data: a PostgreSQL store holding N finished executions (and
H history rows each), bulk-generated with SQL, against an empty one.

    python tests/perf/growth.py --executions 1000000 --history 10 [--rounds 2]

Measures, alternating the full and the empty database: ``flowmonkey bench`` steps/s in
process and with one worker; the console's queries on the full one (the first page of
Executions, and the count by status) as p50/p95 over 40 calls; and the resident memory of
the worker before and after a run. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import asyncpg

from flowmonkey.stores import open_store

HERE = Path(__file__).resolve().parents[2]

FILL_EXECUTIONS = """
INSERT INTO executions (id, flow_id, flow_version, flow_hash, status, current_step_id, context,
    created_at, updated_at, revision, step_count, attempt, completed_at, metadata)
SELECT '00' || lpad(i::text, 24, '0'), 'old-' || (i % 20), '1.0.0', 'h',
    CASE WHEN i % 50 = 0 THEN 'failed' WHEN i % 97 = 0 THEN 'cancelled' ELSE 'completed' END,
    's9', '{{"n": 1}}'::jsonb, now() - interval '30 days' + i * interval '1 second',
    now() - interval '30 days' + i * interval '1 second', {history} + 1, {history}, 1,
    now() - interval '30 days' + i * interval '1 second', '{{}}'::jsonb
FROM generate_series({lo}, {hi}) AS i
"""
FILL_HISTORY = """
INSERT INTO step_records (execution_id, sequence, step_id, attempt, outcome, started_at, finished_at, next_step_id)
SELECT '00' || lpad(i::text, 24, '0'), s, 's' || (s - 1), 1, 'completed', now(), now(), 's' || s
FROM generate_series({lo}, {hi}) AS i, generate_series(1, {history}) AS s
"""


async def make_database(dsn: str, executions: int, history: int) -> str:
    name = f"fm_growth_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = urlunparse(urlparse(dsn)._replace(path=f"/{name}"))
    async with open_store(url):
        pass  # the schema
    if executions:
        conn = await asyncpg.connect(url)
        try:
            started = time.perf_counter()
            for start in range(0, executions, 100_000):
                count = min(100_000, executions - start)
                bounds = {"lo": start + 1, "hi": start + count, "history": history}
                await conn.execute(FILL_EXECUTIONS.format(**bounds))
                if history:
                    await conn.execute(FILL_HISTORY.format(**bounds))
            await conn.execute("VACUUM ANALYZE executions")
            await conn.execute("VACUUM ANALYZE step_records")
            print(f"filled {name} in {time.perf_counter() - started:.0f}s", file=sys.stderr)
        finally:
            await conn.close()
    return url


async def drop(dsn: str, url: str) -> None:
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'DROP DATABASE IF EXISTS "{urlparse(url).path[1:]}" WITH (FORCE)')
    await admin.close()


def bench(url: str, workers: int, executions: int) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "flowmonkey.bench",
            "--json",
            "--store",
            url,
            "--workers",
            str(workers),
            "--executions",
            str(executions),
        ],
        capture_output=True,
        text=True,
        cwd=HERE,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


async def console_queries(url: str, calls: int = 40) -> dict[str, Any]:
    async with open_store(url) as store:
        timings: dict[str, list[float]] = {"page": [], "count": []}
        for _ in range(calls):
            started = time.perf_counter()
            await store.list_executions(limit=50)
            timings["page"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            counts = await store.count_executions()
            timings["count"].append((time.perf_counter() - started) * 1000)
    summary: dict[str, Any] = {"total": sum(counts.values())}
    for key, values in timings.items():
        ordered = sorted(values)
        summary[f"{key}_p50_ms"] = round(statistics.median(ordered), 2)
        summary[f"{key}_p95_ms"] = round(ordered[int(len(ordered) * 0.95) - 1], 2)
    return summary


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    full = await make_database(args.dsn, args.executions, args.history)
    empty = await make_database(args.dsn, 0, 0)
    results: dict[str, Any] = {
        "load": os.getloadavg(),
        "executions": args.executions,
        "history": args.history,
    }
    try:
        results["console_full"] = await console_queries(full)
        runs: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for workers in (0, 1):
                for label, url in (("empty", empty), ("full", full)):
                    r = await asyncio.to_thread(bench, url, workers, args.bench_executions)
                    runs.setdefault(f"{label} workers={workers}", []).append(r["steps_per_s"])
                    print(label, workers, r["steps_per_s"], file=sys.stderr, flush=True)
        results["steps_per_s"] = {k: {"median": statistics.median(v), "runs": v} for k, v in runs.items()}
        for workers in (0, 1):
            e = statistics.median(runs[f"empty workers={workers}"])
            f = statistics.median(runs[f"full workers={workers}"])
            results[f"full_over_empty_workers={workers}"] = round(f / e, 3)
    finally:
        await drop(args.dsn, full)
        await drop(args.dsn, empty)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dsn",
        default=os.environ.get("FLOWMONKEY_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--history", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--bench-executions", type=int, default=1000)
    print(json.dumps(asyncio.run(main_async(parser.parse_args())), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

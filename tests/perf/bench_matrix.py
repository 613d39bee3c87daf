"""Run ``flowmonkey bench`` configurations alternately, several rounds, and report medians.

On a shared machine absolute numbers drift with the load; only figures taken in one run,
interleaved, compare. Every PostgreSQL run gets a fresh database, and its
``pg_stat_database`` counters (tuples read and written, blocks) and the WAL written
(``pg_current_wal_lsn``, server-wide, so other users of the server add noise) are read
around it. ``--code DIR`` runs the same matrix with another checkout of ``flowmonkey``
(e.g. the previous commit) as variant B::

    python tests/perf/bench_matrix.py --rounds 3 --executions 2000 \\
        --config steps:0 --config worker:1 --config worker:2 [--code /tmp/fm_base]
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

HERE = Path(__file__).resolve().parents[2]
STATS = "SELECT tup_returned, tup_fetched, tup_inserted, tup_updated, blks_read, blks_hit FROM pg_stat_database WHERE datname = $1"


async def admin(dsn: str, statement: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _stats(dsn: str, name: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        row = await conn.fetchrow(STATS, name)
        wal = await conn.fetchval("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
        return {**dict(row or {}), "wal_bytes": int(wal)}
    finally:
        await conn.close()


def run_bench(code: Path, args: list[str]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run(
        [sys.executable, "-m", "flowmonkey.bench", "--json", *args],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    result: dict[str, Any] = json.loads(out.stdout)
    return result


async def one(
    code: Path, store: str, dsn: str, scenario: str, workers: int, common: list[str]
) -> dict[str, Any]:
    args = [*common, "--scenario", scenario, "--workers", str(workers)]
    if store == "sqlite":
        return await asyncio.to_thread(run_bench, code, args)
    name = f"fm_matrix_{secrets.token_hex(4)}"
    await admin(dsn, f'CREATE DATABASE "{name}"')
    url = urlunparse(urlparse(dsn)._replace(path=f"/{name}"))
    try:
        await asyncio.to_thread(run_bench, code, ["--store", url, "--warmup", "0", "--executions", "1"])
        time.sleep(1.0)  # the statistics collector flushes about once a second
        before = await _stats(dsn, name)
        result = await asyncio.to_thread(run_bench, code, ["--store", url, *args])
        time.sleep(1.5)
        after = await _stats(dsn, name)
    finally:
        await admin(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    steps = (
        result["executions"] * result["steps_per_execution"]
        + result["warmup"] * result["steps_per_execution"]
    )
    result["pg_per_step"] = {k: round((after[k] - before[k]) / steps, 2) for k in after}
    return result


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    variants = {"A": HERE} | ({"B": Path(args.code)} if args.code else {})
    common = ["--executions", str(args.executions), "--concurrency", str(args.concurrency), "--steps", "10"]
    results: dict[str, list[dict[str, Any]]] = {}
    for round_ in range(args.rounds):
        for store in args.stores:
            for config in args.config:
                scenario, workers = config.split(":")
                order = list(variants.items())
                for variant, code in order if round_ % 2 == 0 else reversed(order):  # no side always first
                    key = f"{variant} {store} {scenario} workers={workers}"
                    result = await one(code, store, args.dsn, scenario, int(workers), common)
                    results.setdefault(key, []).append(result)
                    print(
                        key, result["steps_per_s"], result.get("pg_per_step", ""), file=sys.stderr, flush=True
                    )
    summary = {}
    for key, runs in results.items():
        summary[key] = {
            "steps_per_s": statistics.median(r["steps_per_s"] for r in runs),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "round_trips_per_step": statistics.median(r["round_trips_per_step"] for r in runs),
            "runs": [r["steps_per_s"] for r in runs],
        }
        if "pg_per_step" in runs[0]:
            summary[key]["pg_per_step"] = {
                k: statistics.median(r["pg_per_step"][k] for r in runs) for k in runs[0]["pg_per_step"]
            }
    return {"load": os.getloadavg(), "cpus": os.cpu_count(), "summary": summary}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dsn",
        default=os.environ.get("FLOWMONKEY_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--stores", type=lambda s: s.split(","), default=["sqlite", "postgres"])
    parser.add_argument("--config", action="append", default=None, help="SCENARIO:WORKERS, repeatable")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--executions", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--code", default=None, help="another flowmonkey checkout, run as variant B")
    args = parser.parse_args()
    args.config = args.config or ["steps:0", "worker:1", "worker:2"]
    print(json.dumps(asyncio.run(main_async(args)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

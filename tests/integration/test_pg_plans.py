"""On a new PostgreSQL database the store's statements stay on their indexes.

Found with ``flowmonkey bench`` on a fresh database: PostgreSQL read about 200 rows of
``executions`` per committed step in process, and 460 with a worker, against one row
written. Each connection had planned the commit batch while the table was a few pages, as a
sequential scan, and kept that plan (a prepared statement's generic plan lives until the
table is next analyzed): every batch read the whole table, more as it grew. The store's
sessions now plan without sequential scans where an index serves.
"""

from __future__ import annotations

import json
import subprocess
import sys

import asyncpg
import pytest

from flowmonkey.stores._pg_counts import FOLD_LOCK_KEY
from flowmonkey.stores._pg_sql import SQL
from flowmonkey.stores.postgres import PostgresStore

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]

EXECUTIONS, STEPS = 400, 10


async def _rows_scanned(url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT seq_tup_read, n_tup_upd FROM pg_stat_user_tables WHERE relname = 'executions'"
        )
        assert row is not None
        return int(row["seq_tup_read"]), int(row["n_tup_upd"])
    finally:
        await conn.close()


async def test_a_benchmark_on_a_new_database_reads_executions_through_the_index(
    postgres_database: str,
) -> None:
    bench = ["-m", "flowmonkey.bench", "--json", "--store", postgres_database, "--warmup", "10"]
    out = subprocess.run(
        [sys.executable, *bench, "--executions", str(EXECUTIONS), "--steps", str(STEPS)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["executions"] == EXECUTIONS
    # The bench's connections are closed: their statistics are flushed.
    scanned, updated = await _rows_scanned(postgres_database)
    assert updated >= EXECUTIONS * STEPS  # every step was committed
    # Before: about 40 rows read per step at this size (2 scans of the table per batch).
    assert scanned / updated < 1.0, f"{scanned} rows read by sequential scans for {updated} updates"


async def test_a_statement_that_must_scan_is_not_compiled(postgres_database: str) -> None:
    # The fold of the counters has no index to use, so with sequential scans discouraged its
    # estimated cost passes jit_above_cost: each fold compiled itself with LLVM (6% of the
    # server's CPU in a bench). The store's sessions run without JIT.
    async with PostgresStore(postgres_database) as store, store._pool.acquire() as conn:
        plan = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {SQL['fold_counts']}", FOLD_LOCK_KEY)
    assert "Seq Scan" in plan and "JIT" not in plan


async def test_a_setting_the_url_names_is_the_urls(postgres_database: str) -> None:
    url = f"{postgres_database}?jit=on&options=-c%20enable_seqscan%3Don"
    async with PostgresStore(url) as store, store._pool.acquire() as conn:
        assert (await conn.fetchval("SHOW jit"), await conn.fetchval("SHOW enable_seqscan")) == ("on", "on")
    async with PostgresStore(postgres_database) as store, store._pool.acquire() as conn:
        assert (await conn.fetchval("SHOW jit"), await conn.fetchval("SHOW enable_seqscan")) == ("off", "off")

"""The PostgreSQL schema: the numbered migrations of ``sql/postgres/migrations``.

The versions applied are rows of ``flowmonkey_schema_version``. :func:`apply_schema` may
run from many processes at once: each takes the same transaction-scoped advisory lock, so
one applies what is missing and the others then find nothing to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flowmonkey.stores._sql import Migration, check_version, migrations

SCHEMA_LOCK_KEY = 0x466C6F774D6B  # "FlowMk": any constant shared by every FlowMonkey process
MIGRATIONS = migrations("postgres")
SCHEMA_VERSION = MIGRATIONS[-1].version


async def apply_schema(pool: Any, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the database's schema up to date; safe to run twice or concurrently.

    Args:
        pool: an asyncpg pool.
        migrations: what to apply (all of this version's).

    Returns:
        The schema version now in place.

    Raises:
        SchemaVersionError: the database's schema is newer than this code.
    """
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK_KEY)
        # A migration may read a whole table (a backfill, a count): let it scan.
        await conn.execute("SET LOCAL enable_seqscan = on")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS flowmonkey_schema_version "
            "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        current = await conn.fetchval("SELECT coalesce(max(version), 0) FROM flowmonkey_schema_version")
        latest = migrations[-1].version
        check_version(current, latest)
        for migration in migrations:
            if migration.version > current:
                if not migration.empty:  # the server refuses a query of only comments
                    await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO flowmonkey_schema_version (version) VALUES ($1)", migration.version
                )
    return latest

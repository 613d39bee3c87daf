"""The SQLite schema: the numbered migrations of ``sql/sqlite/migrations``, applied in order.

The version in place is SQLite's ``PRAGMA user_version`` (what FlowMonkey 0.1 reads too).
Migrations run under the write lock (``BEGIN IMMEDIATE``), and the version is read again
once it is held, so two processes opening a new file at once apply each migration once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from flowmonkey.stores._sql import Migration, check_version, migrations

MIGRATIONS = migrations("sqlite")
SCHEMA_VERSION = MIGRATIONS[-1].version


def schema_version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def apply_schema(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> None:
    """Apply the migrations this file lacks; refuse a file newer than this code."""
    latest = migrations[-1].version
    version = schema_version(conn)
    check_version(version, latest)
    if version == latest:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = schema_version(conn)  # another process may have migrated meanwhile
        check_version(version, latest)
        for migration in migrations:
            if migration.version > version:
                for statement in statements(migration.sql):
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {latest}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def statements(script: str) -> list[str]:
    """Split a script into statements (``executescript`` would commit our transaction)."""
    found: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    return [s for s in found if s]

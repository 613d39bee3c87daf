"""The columns derived from the model are the columns the migrations build, and every query
of the ``.sql`` files (and every statement built from the columns) is valid SQL on a
migrated database: on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from flowmonkey.stores import _pg_sql, _sqlite_commit, _sqlite_ops, open_store
from flowmonkey.stores._changes import COMMIT_COLUMNS
from flowmonkey.stores._columns import TABLES, Table

# Columns a table has beyond its record's fields (the store's own); None: not on SQLite
# (its change feed numbers records in a table of its own, migration 7).
STORE_COLUMNS: dict[str, set[tuple[str, str | None, str, bool]]] = {
    "trigger_fires": {("seq", "INTEGER", "bigint", True)},
    "step_records": {("feed_xid", None, "xid8", False), ("feed_seq", None, "bigint", False)},
}
_POSTGRES_NAMES = {"timestamptz": "timestamp with time zone"}


def expected_columns(table: Table[Any], sqlite: bool) -> set[tuple[str, str, bool]]:
    derived = {
        (
            c.name,
            c.sqlite_type if sqlite else _POSTGRES_NAMES.get(c.postgres_type, c.postgres_type),
            not c.nullable,
        )
        for c in table.columns
    }
    extra = set()
    for name, lite, pg, required in STORE_COLUMNS.get(table.name, ()):
        kind = lite if sqlite else pg
        if kind is not None:  # a PostgreSQL-only column
            extra.add((name, kind, required))
    return derived | extra


async def test_the_sqlite_tables_have_exactly_the_derived_columns(tmp_path: Path) -> None:
    async with open_store(f"sqlite:///{tmp_path / 'schema.db'}"):
        pass
    conn = sqlite3.connect(tmp_path / "schema.db")
    try:
        for table in TABLES:
            # (cid, name, type, notnull, default, pk): a TEXT primary key may hold NULL in
            # SQLite, but the store never writes one.
            found = {
                (r[1], r[2], bool(r[3] or r[5])) for r in conn.execute(f"PRAGMA table_info({table.name})")
            }
            assert found == expected_columns(table, sqlite=True), table.name
    finally:
        conn.close()


@pytest.mark.postgres
async def test_the_postgres_tables_have_exactly_the_derived_columns(postgres_database: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(postgres_database)
    try:
        for table in TABLES:
            rows = await conn.fetch(
                "SELECT column_name, data_type, is_nullable = 'NO' FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = $1",
                table.name,
            )
            assert {tuple(r) for r in rows} == expected_columns(table, sqlite=False), table.name
    finally:
        await conn.close()


def _null_parameters(sql: str) -> dict[str, None] | list[None]:
    named = re.findall(r":(\w+)", sql)
    # ?N names the Nth parameter (again, in the commit's lease assignments; or only, in old_feed)
    numbered = max((int(n) for n in re.findall(r"\?(\d+)", sql)), default=0)
    return dict.fromkeys(named) if named else [None] * max(len(re.findall(r"\?(?!\d)", sql)), numbered)


async def test_every_sqlite_query_compiles_on_a_migrated_file(tmp_path: Path) -> None:
    async with open_store(f"sqlite:///{tmp_path / 'queries.db'}"):
        pass
    statements = dict(_sqlite_ops.SQL)
    every = tuple(range(len(COMMIT_COLUMNS)))
    statements["commit"] = _sqlite_commit._update_sql(every)
    statements["commit_many"] = _sqlite_commit._update_many_sql(every, 2)
    statements["winners"] = _sqlite_commit._winners_sql(2)
    statements["records"] = _sqlite_commit._insert_records_sql(2)
    conn = sqlite3.connect(tmp_path / "queries.db")
    try:
        for name, sql in statements.items():
            conn.execute(f"EXPLAIN {sql}", _null_parameters(sql)).fetchall()  # raises if invalid
            assert name
    finally:
        conn.close()


@pytest.mark.postgres
async def test_every_postgres_query_prepares_on_a_migrated_database(postgres_database: str) -> None:
    import asyncpg

    built = {
        "INSERT_EXECUTIONS": _pg_sql.INSERT_EXECUTIONS,
        "COMMIT_BATCH": _pg_sql.COMMIT_BATCH,
        "INSERT_EXECUTION_WITH_KEY": _pg_sql.INSERT_EXECUTION_WITH_KEY,
        "SAVE_TRIGGER": _pg_sql.SAVE_TRIGGER,
    }
    conn = await asyncpg.connect(postgres_database)
    try:
        for name, sql in {**_pg_sql.SQL, **built}.items():
            statement = await conn.prepare(sql)  # raises if invalid
            assert statement.get_query() == sql, name
    finally:
        await conn.close()

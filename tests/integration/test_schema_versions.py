"""The schema version a database records: an older FlowMonkey refuses a newer database with
one line (store, CLI and worker alike), and processes that open a new database at the
same moment apply each migration once. Real SQLite files and the real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flowmonkey.errors import ErrorCode, SchemaVersionError, StoreError
from flowmonkey.ids import new_id
from flowmonkey.model import Execution, ExecutionStatus
from flowmonkey.stores import open_store
from flowmonkey.stores._sqlite_schema import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[2]
NEWER = SCHEMA_VERSION + 1
LINE = (
    f"the database has schema version {NEWER}, newer than this FlowMonkey understands "
    f"(versions 1 to {SCHEMA_VERSION}): upgrade FlowMonkey"
)
KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def an_execution() -> Execution:
    return Execution(
        id=new_id(),
        flow_id="f",
        flow_version="1.0.0",
        flow_hash="h",
        status=ExecutionStatus.PENDING,
        current_step_id="s0",
        context={},
        created_at=NOW,
        updated_at=NOW,
    )


async def _with_one_execution(url: str) -> None:
    async with open_store(url) as store:
        await store.create_execution(an_execution(), now=NOW)


async def _record_postgres_version(url: str, version: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("INSERT INTO flowmonkey_schema_version (version) VALUES ($1)", version)
    finally:
        await conn.close()


async def _latest_version(url: str) -> int:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            version: int = conn.execute("PRAGMA user_version").fetchone()[0]
            return version
        finally:
            conn.close()
    import asyncpg

    pg = await asyncpg.connect(url)
    try:
        latest: int = await pg.fetchval("SELECT max(version) FROM flowmonkey_schema_version")
        return latest
    finally:
        await pg.close()


@pytest.fixture(params=KINDS)
def newer_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database a later FlowMonkey migrated to a version this one does not know."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'newer.db'}"
        asyncio.run(_with_one_execution(url))
        conn = sqlite3.connect(tmp_path / "newer.db")
        conn.execute(f"PRAGMA user_version = {NEWER}")
        conn.close()
        return url
    url = str(request.getfixturevalue("postgres_database"))
    asyncio.run(_with_one_execution(url))
    asyncio.run(_record_postgres_version(url, NEWER))
    return url


async def test_a_database_newer_than_this_code_is_refused_with_one_line(newer_database: str) -> None:
    store = open_store(newer_database)
    with pytest.raises(SchemaVersionError) as refused:
        await store.open()
    assert str(refused.value) == LINE and refused.value.code is ErrorCode.SCHEMA_VERSION
    assert await _latest_version(newer_database) == NEWER  # left as it was: never "migrated" down
    with pytest.raises(StoreError, match="not open"):  # closed again, not half open
        await store.get_execution("any")


@pytest.mark.parametrize("command", ["list", "worker"])
def test_the_cli_and_the_worker_refuse_it_with_one_line_and_exit_2(
    newer_database: str, command: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMONKEY_")}
    done = subprocess.run(
        [sys.executable, "-m", "flowmonkey", command, "--store", newer_database, "--flows", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [f"flowmonkey {command}: {LINE}"]


# -- opening a new database at once ----------------------------------------------------------

# Each process applies every migration and one more, ``ALTER TABLE ... ADD COLUMN``: that
# statement fails if it runs twice, as a real migration's would.
_PROBE = """
import asyncio, pathlib, sqlite3, sys, time
from flowmonkey.stores._sql import Migration
kind, target, folder, me = sys.argv[1:5]
folder = pathlib.Path(folder)
if kind == "sqlite":
    from flowmonkey.stores._sqlite_schema import MIGRATIONS, apply_schema
else:
    import asyncpg
    from flowmonkey.stores._pg_schema import MIGRATIONS, apply_schema
probe = Migration(len(MIGRATIONS) + 1, "probe.sql", "ALTER TABLE executions ADD COLUMN probe TEXT;")
(folder / f"ready-{me}").touch()
deadline = time.monotonic() + 30
while not (folder / "go").exists():  # start together
    if time.monotonic() > deadline:
        sys.exit("never told to go")
    time.sleep(0.002)
if kind == "sqlite":
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 20000")
    apply_schema(conn, (*MIGRATIONS, probe))
else:
    async def main():
        pool = await asyncpg.create_pool(target, min_size=1, max_size=1)
        try:
            await apply_schema(pool, (*MIGRATIONS, probe))
        finally:
            await pool.close()
    asyncio.run(main())
"""


@pytest.fixture(params=KINDS)
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(kind, target) of a database nobody opened yet."""
    if request.param == "sqlite":
        return "sqlite", str(tmp_path / "new.db")
    return "postgres", str(request.getfixturevalue("empty_postgres_database"))


def test_processes_opening_a_new_database_together_apply_each_migration_once(
    new_database: tuple[str, str], tmp_path: Path
) -> None:
    kind, target = new_database
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _PROBE, kind, target, str(tmp_path), str(n)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    deadline = time.monotonic() + 30
    while len(list(tmp_path.glob("ready-*"))) < len(processes):
        assert time.monotonic() < deadline, "the processes never got ready"
        time.sleep(0.01)
    (tmp_path / "go").touch()
    errors = [p.communicate(timeout=60)[1] for p in processes]
    assert [p.returncode for p in processes] == [0] * len(processes), errors
    url = f"sqlite:///{target}" if kind == "sqlite" else target
    assert asyncio.run(_latest_version(url)) == NEWER
    assert asyncio.run(_columns_named(url, "probe")) == 1
    if kind == "postgres":
        assert asyncio.run(_postgres_versions(target)) == list(range(1, NEWER + 1))


async def _columns_named(url: str, name: str) -> int:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            return sum(1 for row in conn.execute("PRAGMA table_info(executions)") if row[1] == name)
        finally:
            conn.close()
    import asyncpg

    pg = await asyncpg.connect(url)
    try:
        found: int = await pg.fetchval(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'executions' AND column_name = $1",
            name,
        )
        return found
    finally:
        await pg.close()


async def _postgres_versions(url: str) -> list[int]:
    import asyncpg

    pg = await asyncpg.connect(url)
    try:
        return [row[0] for row in await pg.fetch("SELECT version FROM flowmonkey_schema_version ORDER BY 1")]
    finally:
        await pg.close()

"""What only the SQL stores promise: URLs, files, durability options, schema, pools."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flowmonkey import Engine, ExecutionStatus, Flow
from flowmonkey.change import Change
from flowmonkey.errors import ConflictError, StoreError
from flowmonkey.ids import new_id
from flowmonkey.model import Execution, StepRecord, StepStatus
from flowmonkey.stores import DEFAULT_STORE_URL, Store, open_store
from flowmonkey.stores.sqlite import SQLiteStore
from tests.unit.helpers import BASIC, chain

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def execution() -> Execution:
    return Execution(
        id=new_id(),
        flow_id="f",
        flow_version="1.0.0",
        flow_hash="h",
        status=ExecutionStatus.PENDING,
        current_step_id="s0",
        context={"x": 1},
        created_at=NOW,
        updated_at=NOW,
    )


# -- SQLite -------------------------------------------------------------------------------


async def test_the_default_url_creates_its_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    async with open_store(DEFAULT_STORE_URL) as store:
        await store.create_execution(execution(), now=NOW)
    assert (tmp_path / ".flowmonkey" / "flowmonkey.db").is_file()


async def test_relative_absolute_and_memory_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url, path in [
        ("sqlite:///data/rel.db", tmp_path / "data" / "rel.db"),
        (f"sqlite:///{tmp_path}/abs/abs.db", tmp_path / "abs" / "abs.db"),
    ]:
        async with open_store(url) as store:
            await store.create_execution(e := execution(), now=NOW)
        assert path.is_file()
        async with open_store(url) as store:  # reopened: the data is still there
            assert await store.get_execution(e.id) == e
    async with open_store("sqlite:///:memory:") as store:
        await store.create_execution(e := execution(), now=NOW)
        assert await store.get_execution(e.id) == e
        assert (await store.list_executions()).items == [e]
    assert not (tmp_path / ":memory:").exists()


async def test_durability_is_an_option_of_the_url_or_the_constructor(tmp_path: Path) -> None:
    assert SQLiteStore(f"sqlite:///{tmp_path}/a.db").synchronous == "normal"
    assert SQLiteStore(f"sqlite:///{tmp_path}/a.db?synchronous=FULL").synchronous == "full"
    assert (
        SQLiteStore(f"sqlite:///{tmp_path}/a.db?synchronous=full", synchronous="normal").synchronous
        == "normal"
    )
    async with SQLiteStore(f"sqlite:///{tmp_path}/a.db?synchronous=full") as store:
        await store.create_execution(e := execution(), now=NOW)
    async with SQLiteStore(f"sqlite:///{tmp_path}/a.db") as store:
        assert await store.get_execution(e.id) == e


async def test_two_processes_share_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    script = (
        "import asyncio, sys\n"
        "from flowmonkey import Engine, Flow\n"
        "from flowmonkey.stores import open_store\n"
        "from tests.unit.helpers import BASIC, chain\n"
        "async def main():\n"
        "    async with open_store(sys.argv[1]) as store:\n"
        "        engine = Engine(store, BASIC, [Flow.from_dict(chain('c', ['echo'] * 3))])\n"
        "        for _ in range(30):\n"
        "            e, _ = await engine.create('c', {})\n"
        "            await engine.run(e.id)\n"
        "asyncio.run(main())\n"
    )
    root = Path(__file__).resolve().parents[2]
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", script, url, cwd=root)
    async with open_store(url) as store:
        engine = Engine(store, BASIC, [Flow.from_dict(chain("c", ["echo"] * 3))])
        for _ in range(30):
            e, _ = await engine.create("c", {})
            await engine.run(e.id)
        assert await child.wait() == 0
        counts = await store.count_executions()
    assert counts[ExecutionStatus.COMPLETED] == 60


async def test_a_version_1_file_is_migrated_and_its_executions_counted(tmp_path: Path) -> None:
    from flowmonkey.stores import _sqlite_ops
    from flowmonkey.stores._columns import EXECUTIONS
    from flowmonkey.stores._sqlite_schema import MIGRATIONS

    path = tmp_path / "old.db"
    old = sqlite3.connect(path, isolation_level=None)
    old.executescript(f"{MIGRATIONS[0].sql} PRAGMA user_version = 1;")
    failed = execution()
    failed.status = ExecutionStatus.FAILED
    version_1 = [row[1] for row in old.execute("PRAGMA table_info(executions)")]
    names = [column.name for column in EXECUTIONS.columns]
    insert = f"INSERT INTO executions ({', '.join(version_1)}) VALUES ({', '.join('?' * len(version_1))})"
    for e in (execution(), failed):  # written by a version 1 program: its columns only
        values = dict(zip(names, EXECUTIONS.values(e, _sqlite_ops.enc), strict=True))
        old.execute(insert, [values[name] for name in version_1])
    old.close()
    async with open_store(f"sqlite:///{path}") as store:
        counts = await store.count_executions()
        assert counts[ExecutionStatus.FAILED] == 1 and counts[ExecutionStatus.PENDING] == 1
        await store.create_execution(execution(), now=NOW)
        assert (await store.count_executions())[ExecutionStatus.PENDING] == 2


def test_the_bench_runs_on_a_temporary_sqlite_file() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "flowmonkey.bench",
            "--executions",
            "20",
            "--concurrency",
            "5",
            "--steps",
            "3",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result = json.loads(out.stdout)
    assert result["store"].startswith("sqlite:///") and result["executions"] == 20
    assert result["steps_per_execution"] == 3 and result["concurrency"] == 5
    assert result["steps_per_s"] > 0 and result["p99_ms"] >= result["p50_ms"] > 0
    assert {"seconds", "executions_per_s"} <= set(result)


# -- PostgreSQL ---------------------------------------------------------------------------


@pytest.mark.postgres
async def test_apply_schema_is_idempotent_and_safe_concurrently(empty_postgres_database: str) -> None:
    import asyncpg

    from flowmonkey.stores._pg_schema import MIGRATIONS
    from flowmonkey.stores.postgres import SCHEMA_VERSION, apply_schema

    pools = [await asyncpg.create_pool(empty_postgres_database, min_size=1, max_size=1) for _ in range(4)]
    try:
        versions = await asyncio.gather(*(apply_schema(pool) for pool in pools))
        assert versions == [SCHEMA_VERSION] * 4
        assert await apply_schema(pools[0]) == SCHEMA_VERSION
        applied = await pools[0].fetch("SELECT version FROM flowmonkey_schema_version")
        assert sorted(row[0] for row in applied) == [migration.version for migration in MIGRATIONS]
    finally:
        for pool in pools:
            await pool.close()


@pytest.mark.postgres
async def test_a_borrowed_pool_is_never_closed(postgres_database: str) -> None:
    import asyncpg

    pool = await asyncpg.create_pool(postgres_database, min_size=1, max_size=2)
    try:
        async with open_store(pool) as store:
            await store.create_execution(e := execution(), now=NOW)
            assert "postgresql://" in store.url
        assert not pool.is_closing()  # the store closed only what it opened
        assert await pool.fetchval("SELECT count(*) FROM executions WHERE id = $1", e.id) == 1
    finally:
        await pool.close()


@pytest.mark.postgres
async def test_an_engine_run_on_a_url_store_round_trips(postgres_database: str) -> None:
    async with open_store(postgres_database) as store:
        engine = Engine(
            store,
            BASIC,
            [Flow.from_dict(chain("c", ["echo", "add"], input={"type": "key", "key": "v"}, outputKey="v"))],
        )
        e, _ = await engine.create("c", {"v": 1})
        done = await engine.run(e.id)
        assert done.status is ExecutionStatus.COMPLETED and done.context == {"v": 2}
        assert [r.step_id for r in await store.history(e.id)] == ["s0", "s1"]


@pytest.mark.parametrize(
    "store_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_failing_write_fails_only_its_own_caller(any_store: Store) -> None:
    twin = execution()
    others = [execution() for _ in range(6)]
    results = await asyncio.gather(
        any_store.create_execution(twin, now=NOW),
        *(any_store.create_execution(o, now=NOW) for o in others),
        any_store.create_execution(twin.copy(), now=NOW),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 1 and isinstance(failures[0], ConflictError)
    assert isinstance(failures[0].__cause__, Exception)
    for o in others:
        assert await any_store.get_execution(o.id) == o


async def test_a_locked_sqlite_database_fails_every_waiting_write_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/locked.db"
    async with SQLiteStore(url, busy_timeout=0.3) as store:
        holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        try:
            started = time.monotonic()
            results = await asyncio.gather(
                *(store.create_execution(execution(), now=NOW) for _ in range(10)), return_exceptions=True
            )
            elapsed = time.monotonic() - started
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert all(isinstance(r, StoreError) and "locked" in str(r) and url in str(r) for r in results)
        assert elapsed < 2.5  # one busy wait for the batch, not one per write
        await store.create_execution(e := execution(), now=NOW)  # the lock is gone: writes work again
        assert await store.get_execution(e.id) == e


async def test_a_write_that_meets_another_writers_lock_waits_off_the_loop(tmp_path: Path) -> None:
    # The step path's writes run on the loop's thread while nothing makes them wait; one
    # that meets another connection's lock waits on the writer thread, and the loop runs on.
    url = f"sqlite:///{tmp_path}/shared.db"
    async with SQLiteStore(url, busy_timeout=5.0) as store:
        await store.create_execution(execution(), now=NOW)  # (the inline connection is warm)
        holder = sqlite3.connect(tmp_path / "shared.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process's writer, as far as SQLite knows
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        try:
            waiting = asyncio.create_task(store.create_execution(e := execution(), now=NOW))
            await asyncio.sleep(0.3)
            assert not waiting.done() and ticks >= 10, ticks  # the loop ran on meanwhile
            holder.execute("ROLLBACK")
            assert (await asyncio.wait_for(waiting, 5)).created
        finally:
            ticker.cancel()
            holder.close()
        assert await store.get_execution(e.id) == e


async def test_the_writer_thread_checkpoints_what_the_loops_writes_add_to_the_wal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loop's own connection never checkpoints (that syncs the database file): without
    # the writer thread's checkpoints the WAL would hold every write made.
    monkeypatch.setattr("flowmonkey.stores.sqlite.CHECKPOINT_EVERY", 0.0)
    path = tmp_path / "wal.db"
    blob = "x" * 20_000
    async with SQLiteStore(f"sqlite:///{path}") as store:
        for _ in range(1000):  # about 20 MB, one write at a time
            big = execution()
            big.context = {"blob": blob}
            await store.create_execution(big, now=NOW)
        wal = Path(f"{path}-wal").stat().st_size
        assert (await store.count_executions())[ExecutionStatus.PENDING] == 1000
    assert wal < 5_000_000, wal


@pytest.mark.parametrize(
    "store_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_state_json_cannot_hold_is_refused_naming_what_and_where(any_store: Store) -> None:
    e = execution()
    await any_store.create_execution(e, now=NOW)
    record = StepRecord(
        execution_id=e.id,
        sequence=1,
        step_id="s0",
        attempt=1,
        outcome=StepStatus.COMPLETED,
        started_at=NOW,
        finished_at=NOW,
        output={1, 2},
    )
    with pytest.raises(StoreError, match=f"the output of step 's0' of execution {e.id} is not JSON"):
        await any_store.commit(Change(e, {"revision": 1}, record))
    stored = await any_store.get_execution(e.id)
    assert stored is not None and stored.revision == 0


@pytest.mark.parametrize(
    "store_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_store_can_be_closed_and_opened_again(store_url: str) -> None:
    store = open_store(store_url)
    first, second = execution(), execution()
    async with store:
        await store.create_execution(first, now=NOW)
    with pytest.raises(StoreError, match="not open"):
        await store.get_execution(first.id)
    async with store:
        await store.create_execution(second, now=NOW)
        assert {e.id for e in (await store.list_executions()).items} == {first.id, second.id}

"""Upgrades that never strand a running system, on real SQLite files and PostgreSQL.

A database built as FlowMonkey 0.1 built it (its schema scripts, rows written as it wrote
them) holds executions waiting for a resume, waiting to retry, running under a lapsed
lease, completed and cancelled. This version opens it in place: the migrations run, every
row reads back exactly, and the unfinished executions then run to completion. A database
newer than this code is refused with one line, by the store, the CLI and the worker; and
processes opening a new database together apply each migration once.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flowmonkey import Engine, Runtime
from flowmonkey.model import (
    Cancellation,
    Execution,
    ExecutionError,
    ExecutionStatus,
    Flow,
    Job,
    JobStatus,
    StepRecord,
    StepStatus,
    TimeoutConfig,
    TriggerDefinition,
    TriggerFire,
    TriggerType,
    WaitKind,
)
from flowmonkey.params import HandlerParams
from flowmonkey.registry import handler
from flowmonkey.result import Result, StepResult
from flowmonkey.stores import Store, open_store
from flowmonkey.stores._pg_schema import SCHEMA_VERSION as POSTGRES_VERSION
from flowmonkey.stores._sqlite_schema import SCHEMA_VERSION as SQLITE_VERSION
from tests.integration import release_0_1 as old
from tests.integration.test_change_feed import read_until
from tests.unit.helpers import echo, wait

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)  # in the past: every wake and lease below is due
ORDER = Flow.from_dict(
    {
        "id": "order",
        "version": "1.0.0",
        "initialStepId": "approve",
        "steps": {
            "approve": {"type": "wait", "outputKey": "approval", "transitions": {"onSuccess": "charge"}},
            "charge": {
                "type": "charge",
                "input": {"type": "key", "key": "order"},
                "outputKey": "payment",
                "retry": {"maxAttempts": 3, "backoff": "50ms"},
                "transitions": {"onSuccess": "ship"},
            },
            "ship": {
                "type": "echo",
                "input": {"type": "static", "value": {"carrier": "post"}},
                "outputKey": "shipment",
            },
        },
    }
)


@handler("charge")
async def charge(params: HandlerParams) -> StepResult:
    """Declines the first attempt: every order retries once."""
    if params.attempt == 1:
        return Result.failure("DECLINED", "the card was declined")
    return Result.success({"charged": params.input["total"]})


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


ORDER_7 = {"order": {"id": 7, "total": 12.5}}
APPROVED = {"approved": True}
DECLINED = ExecutionError(code="DECLINED", message="the card was declined", step_id="charge")
CHARGED = {"charged": 12.5}


def execution(execution_id: str, **fields: Any) -> Execution:
    base: dict[str, Any] = {
        "id": execution_id,
        "flow_id": "order",
        "flow_version": "1.0.0",
        "flow_hash": ORDER.hash,
        "created_at": T0,
        "metadata": {"source": "0.1"},
    }
    return Execution(**{**base, **fields})


def record(execution_id: str, sequence: int, step_id: str, outcome: StepStatus, **fields: Any) -> StepRecord:
    started = at(sequence)
    return StepRecord(
        execution_id=execution_id,
        sequence=sequence,
        step_id=step_id,
        outcome=outcome,
        attempt=fields.pop("attempt", 1),
        started_at=started,
        finished_at=started + timedelta(milliseconds=3),
        **fields,
    )


def history_until(execution_id: str, steps: int) -> list[StepRecord]:
    """The first ``steps`` records of an order's way: approve waits and is resumed, charge
    is declined and retried, ship completes."""
    e = execution_id
    return [
        record(e, 1, "approve", StepStatus.WAITING, input=ORDER_7, next_step_id="approve", note="waiting"),
        record(e, 2, "approve", StepStatus.RESUMED, output=APPROVED, next_step_id="charge"),
        record(e, 3, "charge", StepStatus.RETRY, input=ORDER_7["order"], error=DECLINED, note="retry 1/2"),
        record(e, 4, "charge", StepStatus.COMPLETED, attempt=2, output=CHARGED, next_step_id="ship"),
        record(e, 5, "ship", StepStatus.COMPLETED, output={"carrier": "post"}),
    ][:steps]


RESUME, RETRY, LAPSED, DONE, CANCELLED = (
    "0001-waiting-for-a-resume",
    "0002-waiting-to-retry",
    "0003-running-lease-lapsed",
    "0004-completed",
    "0005-cancelled",
)
UNFINISHED = (RESUME, RETRY, LAPSED)


@dataclass(frozen=True)
class Release01:
    """What a 0.1 database holds here."""

    executions: list[Execution]
    history: dict[str, list[StepRecord]]
    trigger: TriggerDefinition
    fire: TriggerFire
    job: Job


def release_0_1() -> Release01:
    executions = [
        execution(
            RESUME,
            status=ExecutionStatus.WAITING,
            current_step_id="approve",
            context=dict(ORDER_7),
            updated_at=at(1),
            revision=1,
            step_count=1,
            wait_kind=WaitKind.HANDLER,
            wait_reason="waiting",
            waiting_since=at(1),
            timeout=TimeoutConfig(execution=timedelta(days=3650), wait=timedelta(days=3650)),
            timeout_at=T0 + timedelta(days=3650),
            idempotency_key="order-7",
            idempotency_expires_at=T0 + timedelta(days=1),
            tenant_id="acme",
        ),
        execution(
            RETRY,
            status=ExecutionStatus.WAITING,
            current_step_id="charge",
            context={**ORDER_7, "approval": APPROVED},
            updated_at=at(3),
            revision=3,
            step_count=3,
            attempt=2,
            wake_at=at(3.05),
            wait_kind=WaitKind.RETRY,
            wait_reason="retry 1/2",
            waiting_since=at(3),
        ),
        execution(
            LAPSED,
            status=ExecutionStatus.RUNNING,
            current_step_id="ship",
            context={**ORDER_7, "approval": APPROVED, "payment": CHARGED},
            updated_at=at(4),
            revision=4,
            step_count=4,
            lease_owner="worker-of-0.1",
            lease_expires_at=at(34),
        ),
        execution(
            DONE,
            status=ExecutionStatus.COMPLETED,
            current_step_id=None,
            context={**ORDER_7, "approval": APPROVED, "payment": CHARGED, "shipment": {"carrier": "post"}},
            updated_at=at(5),
            completed_at=at(5),
            revision=5,
            step_count=5,
            parent_execution_id="0000-parent",
            parent_step_id="orders",
        ),
        execution(
            CANCELLED,
            status=ExecutionStatus.CANCELLED,
            current_step_id="approve",
            context=dict(ORDER_7),
            updated_at=at(2),
            completed_at=at(2),
            revision=2,
            step_count=2,
            error=ExecutionError(code="CANCELLED", message="cancelled by user: asked", details={"by": "ops"}),
            cancellation=Cancellation(source="user", reason="asked", at=at(2)),
        ),
    ]
    cancelled = [
        *history_until(CANCELLED, 1),
        record(CANCELLED, 2, "approve", StepStatus.CANCELLED, note="cancelled by user: asked"),
    ]
    history = {
        RESUME: history_until(RESUME, 1),
        RETRY: history_until(RETRY, 3),
        LAPSED: history_until(LAPSED, 4),
        DONE: history_until(DONE, 5),
        CANCELLED: cancelled,
    }
    trigger = TriggerDefinition(
        id="nightly",
        type=TriggerType.SCHEDULE,
        flow_id="order",
        flow_version="1.0.0",
        enabled=False,
        config={"cron": "0 3 * * *", "flowHash": ORDER.hash},
        source="flows/order.yaml",
        created_at=T0,
        updated_at=at(1),
        next_run_at=at(3600),
        last_fired_at=at(60),
        last_status="ok",
    )
    fire = TriggerFire(
        id="fire-1",
        trigger_id="nightly",
        fired_at=at(60),
        status="ok",
        duration_ms=4.5,
        execution_id=DONE,
        slot_at=at(60),
    )
    job = Job(
        id="job-1",
        execution_id=DONE,
        step_id="ship",
        attempt=1,
        type="label",
        input={"carrier": "post"},
        status=JobStatus.COMPLETED,
        owner="worker-of-0.1",
        fence=1,
        checkpoint={"page": 2},
        result={"label": "L-1"},
        created_at=at(4),
        updated_at=at(5),
    )
    return Release01(executions, history, trigger, fire, job)


def rows_of(data: Release01, time: old.Time) -> list[tuple[str, dict[str, Any]]]:
    """(table, row) for everything a 0.1 database holds here, as 0.1 wrote it."""
    rows = [("executions", old.execution_row(e, time)) for e in data.executions]
    rows += [("step_records", old.record_row(r, time)) for records in data.history.values() for r in records]
    resume = data.executions[0]
    key = {"tenant_id": "acme", "flow_id": "order", "key": "order-7", "execution_id": resume.id}
    rows.append(("idempotency_keys", {**key, "expires_at": time(resume.idempotency_expires_at)}))
    body = json.dumps(ORDER.to_dict(), separators=(",", ":"))
    rows.append(("definitions", {"hash": ORDER.hash, "flow_id": "order", "version": "1.0.0", "body": body}))
    rows.append(("triggers", old.trigger_row(data.trigger, time)))
    rows.append(("trigger_slots", {"trigger_id": "nightly", "slot_at": time(at(60))}))
    rows.append(("trigger_fires", old.fire_row(data.fire, time)))
    rows.append(("jobs", old.job_row(data.job, time)))
    return rows


# -- building a 0.1 database --------------------------------------------------------------


def build_sqlite_0_1(path: Path, data: Release01) -> str:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.executescript(old.SQLITE_V3.read_text("utf-8"))
        for table, row in rows_of(data, old.sqlite_time):
            conn.execute(old.insert_sql(table, row, lambda i: "?"), tuple(row.values()))
    finally:
        conn.close()
    return f"sqlite:///{path}"


async def build_postgres_0_1(url: str, data: Release01) -> str:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(old.POSTGRES_V2.read_text("utf-8"))
        for table, row in rows_of(data, old.postgres_time):
            await conn.execute(old.insert_sql(table, row, lambda i: f"${i}"), *row.values())
    finally:
        await conn.close()
    return url


KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=KINDS)
def database_0_1(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a database of FlowMonkey 0.1 holding :func:`release_0_1`."""
    if request.param == "sqlite":
        return build_sqlite_0_1(tmp_path / "release-0.1.db", release_0_1())
    return asyncio.run(build_postgres_0_1(request.getfixturevalue("empty_postgres_database"), release_0_1()))


async def recorded_versions(url: str) -> list[int]:
    """The schema versions the database says it has."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            return [conn.execute("PRAGMA user_version").fetchone()[0]]
        finally:
            conn.close()
    import asyncpg

    pg = await asyncpg.connect(url)
    try:
        return [row[0] for row in await pg.fetch("SELECT version FROM flowmonkey_schema_version ORDER BY 1")]
    finally:
        await pg.close()


# -- the upgrade ---------------------------------------------------------------------------


def test_both_stores_number_their_migrations_alike() -> None:
    from flowmonkey.stores._pg_schema import MIGRATIONS as POSTGRES
    from flowmonkey.stores._sqlite_schema import MIGRATIONS as SQLITE

    numbers = list(range(1, len(SQLITE) + 1))  # one number per change, none skipped
    assert [m.version for m in SQLITE] == [m.version for m in POSTGRES] == numbers
    assert [m.name for m in SQLITE] == [m.name for m in POSTGRES]
    assert SQLITE_VERSION == POSTGRES_VERSION == numbers[-1]


async def test_a_release_0_1_database_upgrades_in_place_and_every_row_reads_back(database_0_1: str) -> None:
    data = release_0_1()
    sqlite = database_0_1.startswith("sqlite")
    assert await recorded_versions(database_0_1) == ([3] if sqlite else [1, 2])  # as 0.1 left them
    async with open_store(database_0_1) as store:
        for expected in data.executions:
            assert await store.get_execution(expected.id) == expected
            assert await store.history(expected.id) == data.history[expected.id]
        listed = await store.list_executions()
        assert listed.items == sorted(data.executions, key=lambda e: e.id, reverse=True)
        counts = await store.count_executions()
        assert counts[ExecutionStatus.WAITING] == 2 and counts[ExecutionStatus.RUNNING] == 1
        assert counts[ExecutionStatus.COMPLETED] == counts[ExecutionStatus.CANCELLED] == 1
        assert await store.list_triggers() == [data.trigger]
        assert await store.trigger_history("nightly") == [data.fire]
        assert await store.get_job("job-1") == data.job
        assert await store.get_definition(ORDER.hash) == ORDER
        assert await store.claim_slot(trigger_id="nightly", slot_at=at(60)) is False  # 0.1 claimed it
        again = execution(
            "0006-same-key",
            status=ExecutionStatus.PENDING,
            current_step_id="approve",
            context={},
            updated_at=T0,
            idempotency_key="order-7",
            tenant_id="acme",
        )
        held = await store.create_execution(again, now=at(60))  # the key 0.1 took still holds
        assert held == (data.executions[0], False)
    # 0.1 recorded PostgreSQL versions 1 and 2; migration 2 is a no-op there (see its file).
    latest = SQLITE_VERSION if sqlite else POSTGRES_VERSION
    assert await recorded_versions(database_0_1) == ([latest] if sqlite else [1, 2, *range(3, latest + 1)])


async def test_the_upgraded_executions_run_to_completion(database_0_1: str) -> None:
    data = release_0_1()
    async with open_store(database_0_1) as store:
        engine = Engine(store, [wait, echo, charge], [ORDER])
        feed = await store.feed()
        assert feed.entries == []  # 0.1's records were written before the feed (migration 7)
        async with Runtime(engine, concurrency=4):
            await engine.resume(RESUME, APPROVED)
            await until_finished(store, UNFINISHED)
        outcomes = {e: await outcome(store, e) for e in (*UNFINISHED, DONE, CANCELLED)}
        for execution_id in UNFINISHED:
            done = await store.get_execution(execution_id)
            assert done is not None and done.status is ExecutionStatus.COMPLETED and done.lease_owner is None
            assert done.context == {
                **ORDER_7,
                "approval": APPROVED,
                "payment": CHARGED,
                "shipment": {"carrier": "post"},
            }
            history = await store.history(execution_id)
            old_records = data.history[execution_id]
            assert history[: len(old_records)] == old_records  # 0.1's records stay as they were
            assert [r.sequence for r in history] == list(range(1, done.revision + 1))
        # The change feed holds exactly the records written since the upgrade, each once.
        histories = {e: await store.history(e) for e in UNFINISHED}
        written = sorted((e, r.sequence) for e, h in histories.items() for r in h[len(data.history[e]) :])
        assert sorted(await read_until(store, feed.cursor, count=len(written))) == written
        finished_under_0_1 = [e for e in data.executions if e.id in (DONE, CANCELLED)]
        for expected in finished_under_0_1:  # untouched
            assert await store.get_execution(expected.id) == expected
    way = [("approve", "waiting", 1), ("approve", "resumed", 1), ("charge", "retry", 1)]
    finish = [("charge", "completed", 2), ("ship", "completed", 1)]
    assert outcomes[RESUME] == [*way, *finish]
    assert outcomes[RETRY] == [*way, *finish]
    # A 0.1 worker held it when it was lost: taken over, visibly, and its step ran again.
    assert outcomes[LAPSED] == [*way, finish[0], ("ship", "takeover", 1), finish[1]]
    assert outcomes[DONE] == [*way, *finish]
    assert outcomes[CANCELLED] == [("approve", "waiting", 1), ("approve", "cancelled", 1)]


async def outcome(store: Store, execution_id: str) -> list[tuple[str | None, str, int]]:
    return [(r.step_id, r.outcome.value, r.attempt) for r in await store.history(execution_id)]


async def until_finished(store: Store, ids: tuple[str, ...], timeout: float = 15.0) -> None:
    """Poll until every execution in ``ids`` is finished (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        executions = [await store.get_execution(i) for i in ids]
        if all(e is not None and e.is_terminal for e in executions):
            return
        if time.monotonic() > deadline:
            states = {e.id: e.status.value for e in executions if e is not None}
            pytest.fail(f"not finished after {timeout}s: {states}")
        await asyncio.sleep(0.02)

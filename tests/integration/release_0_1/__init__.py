"""A database as FlowMonkey 0.1 left it: its schema scripts and its way of writing rows.

``sqlite_v3.sql`` and ``postgres_v2.sql`` are frozen copies of the schema that release built
(SQLite schema version 3, PostgreSQL version 2). :func:`execution_row` and the functions
next to it write a record the way that release did, spelled out by hand on purpose: they
are a fact of the old release, independent of the code under test, so a change in how the
current code reads a row shows up as a difference.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flowmonkey.model import Execution, Job, StepRecord, TriggerDefinition, TriggerFire

HERE = Path(__file__).parent
SQLITE_V3 = HERE / "sqlite_v3.sql"
POSTGRES_V2 = HERE / "postgres_v2.sql"

Time = Callable[[datetime | None], Any]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def sqlite_time(value: datetime | None) -> int | None:
    """0.1 kept SQLite times as integer microseconds since the epoch."""
    return None if value is None else (value - _EPOCH) // timedelta(microseconds=1)


def postgres_time(value: datetime | None) -> datetime | None:
    return value


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def execution_row(e: Execution, time: Time) -> dict[str, Any]:
    """An ``executions`` row as 0.1 wrote it (column -> value)."""
    return {
        "id": e.id,
        "flow_id": e.flow_id,
        "flow_version": e.flow_version,
        "flow_hash": e.flow_hash,
        "status": e.status.value,
        "current_step_id": e.current_step_id,
        "context": json.dumps(e.context, separators=(",", ":")),
        "created_at": time(e.created_at),
        "updated_at": time(e.updated_at),
        "revision": e.revision,
        "step_count": e.step_count,
        "attempt": e.attempt,
        "completed_at": time(e.completed_at),
        "wake_at": time(e.wake_at),
        "wait_kind": e.wait_kind.value if e.wait_kind else None,
        "wait_reason": e.wait_reason,
        "waiting_since": time(e.waiting_since),
        "timeout_execution_s": _seconds(e.timeout.execution),
        "timeout_wait_s": _seconds(e.timeout.wait),
        "timeout_at": time(e.timeout_at),
        "error": _json(e.error.to_dict() if e.error else None),
        "cancellation": _json(e.cancellation.to_dict() if e.cancellation else None),
        "idempotency_key": e.idempotency_key,
        "idempotency_expires_at": time(e.idempotency_expires_at),
        "tenant_id": e.tenant_id,
        "parent_execution_id": e.parent_execution_id,
        "parent_step_id": e.parent_step_id,
        "metadata": json.dumps(e.metadata, separators=(",", ":")),
        "lease_owner": e.lease_owner,
        "lease_expires_at": time(e.lease_expires_at),
    }


def record_row(r: StepRecord, time: Time) -> dict[str, Any]:
    """A ``step_records`` row as 0.1 wrote it."""
    return {
        "execution_id": r.execution_id,
        "sequence": r.sequence,
        "step_id": r.step_id,
        "attempt": r.attempt,
        "outcome": r.outcome.value,
        "started_at": time(r.started_at),
        "finished_at": time(r.finished_at),
        "input": _json(r.input),
        "output": _json(r.output),
        "error": _json(r.error.to_dict() if r.error else None),
        "next_step_id": r.next_step_id,
        "note": r.note,
    }


def trigger_row(t: TriggerDefinition, time: Time) -> dict[str, Any]:
    return {
        "id": t.id,
        "type": t.type.value,
        "flow_id": t.flow_id,
        "flow_version": t.flow_version,
        "enabled": t.enabled,
        "config": _json(t.config),
        "source": t.source,
        "created_at": time(t.created_at),
        "updated_at": time(t.updated_at),
        "next_run_at": time(t.next_run_at),
        "last_fired_at": time(t.last_fired_at),
        "last_status": t.last_status,
    }


def fire_row(f: TriggerFire, time: Time) -> dict[str, Any]:
    return {
        "id": f.id,
        "trigger_id": f.trigger_id,
        "fired_at": time(f.fired_at),
        "status": f.status,
        "duration_ms": f.duration_ms,
        "execution_id": f.execution_id,
        "error": f.error,
        "slot_at": time(f.slot_at),
    }


def job_row(j: Job, time: Time) -> dict[str, Any]:
    return {
        "id": j.id,
        "execution_id": j.execution_id,
        "step_id": j.step_id,
        "attempt": j.attempt,
        "type": j.type,
        "input": _json(j.input),
        "status": j.status.value,
        "owner": j.owner,
        "fence": j.fence,
        "lease_expires_at": time(j.lease_expires_at),
        "checkpoint": _json(j.checkpoint),
        "result": _json(j.result),
        "error": _json(j.error),
        "created_at": time(j.created_at),
        "updated_at": time(j.updated_at),
    }


def insert_sql(table: str, row: dict[str, Any], placeholder: Callable[[int], str]) -> str:
    """``INSERT INTO table (columns) VALUES (...)`` for ``row``'s columns."""
    marks = ", ".join(placeholder(i + 1) for i in range(len(row)))
    return f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})"

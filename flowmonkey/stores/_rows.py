"""Row (de)serialisation shared by the SQL stores.

Both SQL stores keep an execution in one row whose columns are :data:`EXECUTION_COLUMNS`;
JSON-shaped fields travel as JSON text. Datetimes are converted by a per-store codec
(SQLite keeps integer microseconds, PostgreSQL ``timestamptz``), passed in as functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from flowmonkey.change import Change
from flowmonkey.errors import StoreError
from flowmonkey.model import (
    Cancellation,
    Execution,
    ExecutionError,
    ExecutionStatus,
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

EncodeTime = Callable[[datetime | None], Any]
DecodeTime = Callable[[Any], datetime | None]

EXECUTION_COLUMNS = (
    "id",
    "flow_id",
    "flow_version",
    "flow_hash",
    "status",
    "current_step_id",
    "context",
    "created_at",
    "updated_at",
    "revision",
    "step_count",
    "attempt",
    "completed_at",
    "wake_at",
    "wait_kind",
    "wait_reason",
    "waiting_since",
    "timeout_execution_s",
    "timeout_wait_s",
    "timeout_at",
    "error",
    "cancellation",
    "idempotency_key",
    "idempotency_expires_at",
    "tenant_id",
    "parent_execution_id",
    "parent_step_id",
    "metadata",
    "lease_owner",
    "lease_expires_at",
)
# What a step commit writes: the state a step can change. Identity (flow pin, tenant,
# parent, idempotency key, creation time) is fixed at create and the lease belongs to
# claim/release. Leaving the indexed identity columns out of the UPDATE spares their
# indexes on every step (SQLite: about 1.6 times the commits per second).
FIXED_COLUMNS = frozenset(
    {
        "id",
        "flow_id",
        "flow_version",
        "flow_hash",
        "created_at",
        "idempotency_key",
        "idempotency_expires_at",
        "tenant_id",
        "parent_execution_id",
        "parent_step_id",
        "lease_owner",
        "lease_expires_at",
    }
)
COMMIT_COLUMNS = tuple(c for c in EXECUTION_COLUMNS if c not in FIXED_COLUMNS)
RECORD_COLUMNS = (
    "execution_id",
    "sequence",
    "step_id",
    "attempt",
    "outcome",
    "started_at",
    "finished_at",
    "input",
    "output",
    "error",
    "next_step_id",
    "note",
)
TRIGGER_COLUMNS = (
    "id",
    "type",
    "flow_id",
    "flow_version",
    "enabled",
    "config",
    "source",
    "created_at",
    "updated_at",
    "next_run_at",
    "last_fired_at",
    "last_status",
)
FIRE_COLUMNS = (
    "id",
    "trigger_id",
    "fired_at",
    "status",
    "duration_ms",
    "execution_id",
    "error",
    "slot_at",
)
JOB_COLUMNS = (
    "id",
    "execution_id",
    "step_id",
    "attempt",
    "type",
    "input",
    "status",
    "owner",
    "fence",
    "lease_expires_at",
    "checkpoint",
    "result",
    "error",
    "created_at",
    "updated_at",
)


_encode = json.JSONEncoder(
    separators=(",", ":")
).encode  # built once: json.dumps(..., separators=) builds one per call


def dumps(value: Any, what: str, *args: Any) -> str:
    """JSON text of ``value``; a value JSON cannot hold becomes a StoreError naming
    ``what`` (formatted with ``args`` only then: this runs for every step)."""
    if not value and isinstance(value, dict):
        return "{}"
    try:
        return _encode(value)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what.format(*args) if args else what} is not JSON-serialisable: {exc}") from exc


def dumps_optional(value: Any, what: str, *args: Any) -> str | None:
    return None if value is None else dumps(value, what, *args)


def loads_optional(text: Any) -> Any:
    if text is None:
        return None
    return json.loads(text)


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _delta(value: Any) -> timedelta | None:
    return None if value is None else timedelta(seconds=float(value))


def execution_values(execution: Execution, enc: EncodeTime) -> dict[str, Any]:
    """Column name -> value for ``execution`` (JSON as text, times through ``enc``)."""
    e = execution
    what = f"execution {e.id}"
    return {
        "id": e.id,
        "flow_id": e.flow_id,
        "flow_version": e.flow_version,
        "flow_hash": e.flow_hash,
        "status": e.status.value,
        "current_step_id": e.current_step_id,
        "context": dumps(e.context, f"the context of {what}"),
        "created_at": enc(e.created_at),
        "updated_at": enc(e.updated_at),
        "revision": e.revision,
        "step_count": e.step_count,
        "attempt": e.attempt,
        "completed_at": enc(e.completed_at),
        "wake_at": enc(e.wake_at),
        "wait_kind": e.wait_kind.value if e.wait_kind else None,
        "wait_reason": e.wait_reason,
        "waiting_since": enc(e.waiting_since),
        "timeout_execution_s": _seconds(e.timeout.execution),
        "timeout_wait_s": _seconds(e.timeout.wait),
        "timeout_at": enc(e.timeout_at),
        "error": dumps(e.error.to_dict(), f"the error of {what}") if e.error else None,
        "cancellation": dumps(e.cancellation.to_dict(), what) if e.cancellation else None,
        "idempotency_key": e.idempotency_key,
        "idempotency_expires_at": enc(e.idempotency_expires_at),
        "tenant_id": e.tenant_id,
        "parent_execution_id": e.parent_execution_id,
        "parent_step_id": e.parent_step_id,
        "metadata": dumps(e.metadata, f"the metadata of {what}"),
        "lease_owner": e.lease_owner,
        "lease_expires_at": enc(e.lease_expires_at),
    }


def _same(value: Any, enc: EncodeTime) -> Any:
    return value


def _time(value: Any, enc: EncodeTime) -> Any:
    return enc(value)


def _enum(value: Any, enc: EncodeTime) -> Any:
    return None if value is None else value.value


def _json(value: Any, enc: EncodeTime) -> Any:
    return dumps(value, "the value")


def _object(value: Any, enc: EncodeTime) -> Any:
    return None if value is None else dumps(value.to_dict(), "the value")


def _timeout_execution(value: TimeoutConfig, enc: EncodeTime) -> Any:
    return _seconds(value.execution)


def _timeout_wait(value: TimeoutConfig, enc: EncodeTime) -> Any:
    return _seconds(value.wait)


Encoder = Callable[[Any, EncodeTime], Any]
# (column, the Execution field it holds, how its value becomes the column's) for every
# column a commit may write, in COMMIT_COLUMNS order.
_COMMIT_ENCODING: dict[str, tuple[str, Encoder]] = {
    "status": ("status", _enum),
    "current_step_id": ("current_step_id", _same),
    "context": ("context", _json),
    "updated_at": ("updated_at", _time),
    "revision": ("revision", _same),
    "step_count": ("step_count", _same),
    "attempt": ("attempt", _same),
    "completed_at": ("completed_at", _time),
    "wake_at": ("wake_at", _time),
    "wait_kind": ("wait_kind", _enum),
    "wait_reason": ("wait_reason", _same),
    "waiting_since": ("waiting_since", _time),
    "timeout_execution_s": ("timeout", _timeout_execution),
    "timeout_wait_s": ("timeout", _timeout_wait),
    "timeout_at": ("timeout_at", _time),
    "error": ("error", _object),
    "cancellation": ("cancellation", _object),
    "metadata": ("metadata", _json),
}
COMMIT_ENCODING = tuple((column, *_COMMIT_ENCODING[column]) for column in COMMIT_COLUMNS)
COMMIT_INDEXES: dict[str, tuple[int, ...]] = {}
for _index, (_column, _field, _encoder) in enumerate(COMMIT_ENCODING):
    COMMIT_INDEXES[_field] = (*COMMIT_INDEXES.get(_field, ()), _index)


def commit_values(change: Change, enc: EncodeTime) -> tuple[Any, ...]:
    """The values of every column in :data:`COMMIT_COLUMNS` once ``change`` applies."""
    return commit_columns(change, tuple(range(len(COMMIT_ENCODING))), enc)


def changed_columns(change: Change) -> tuple[int, ...]:
    """Indexes into :data:`COMMIT_COLUMNS` of the columns ``change`` writes, in order."""
    names = tuple(change.fields)
    columns = _SHAPES.get(names)
    if columns is None:
        columns = _SHAPES[names] = tuple(sorted(i for name in names for i in COMMIT_INDEXES[name]))
    return columns


def commit_columns(change: Change, columns: tuple[int, ...], enc: EncodeTime) -> tuple[Any, ...]:
    """The values of the ``columns`` (indexes into :data:`COMMIT_COLUMNS`) once ``change``
    applies. A value JSON cannot hold is a StoreError naming the column and execution."""
    plan = _PLANS.get(columns)
    if plan is None:
        plan = _PLANS[columns] = tuple((COMMIT_ENCODING[i][1], COMMIT_ENCODING[i][2]) for i in columns)
    fields, base = change.fields, change.base
    try:
        return tuple(
            [encode(fields[name] if name in fields else getattr(base, name), enc) for name, encode in plan]
        )
    except StoreError as exc:
        column = next(c for c, n, _ in COMMIT_ENCODING if n in fields and _fails(c, change, enc))
        raise StoreError(
            f"the {column} of execution {base.id} is not JSON-serialisable: {exc.__cause__}"
        ) from exc


# Commits come in few shapes (which fields change): their columns and plans are cached.
_SHAPES: dict[tuple[str, ...], tuple[int, ...]] = {}
_PLANS: dict[tuple[int, ...], tuple[tuple[str, Encoder], ...]] = {}


def _fails(column: str, change: Change, enc: EncodeTime) -> bool:
    _, name, encode = COMMIT_ENCODING[COMMIT_COLUMNS.index(column)]
    try:
        encode(change.value(name), enc)
    except StoreError:
        return True
    return False


def execution_from_row(row: Sequence[Any], dec: DecodeTime) -> Execution:
    """Rebuild an execution from a row whose columns are :data:`EXECUTION_COLUMNS`."""
    (
        id_,
        flow_id,
        flow_version,
        flow_hash,
        status,
        current_step_id,
        context,
        created_at,
        updated_at,
        revision,
        step_count,
        attempt,
        completed_at,
        wake_at,
        wait_kind,
        wait_reason,
        waiting_since,
        timeout_execution_s,
        timeout_wait_s,
        timeout_at,
        error,
        cancellation,
        idempotency_key,
        idempotency_expires_at,
        tenant_id,
        parent_execution_id,
        parent_step_id,
        metadata,
        lease_owner,
        lease_expires_at,
    ) = row
    return Execution(
        id=id_,
        flow_id=flow_id,
        flow_version=flow_version,
        flow_hash=flow_hash,
        status=ExecutionStatus(status),
        current_step_id=current_step_id,
        context=json.loads(context),
        created_at=_required(dec(created_at)),
        updated_at=_required(dec(updated_at)),
        revision=revision,
        step_count=step_count,
        attempt=attempt,
        completed_at=dec(completed_at),
        wake_at=dec(wake_at),
        wait_kind=WaitKind(wait_kind) if wait_kind else None,
        wait_reason=wait_reason,
        waiting_since=dec(waiting_since),
        timeout=TimeoutConfig(execution=_delta(timeout_execution_s), wait=_delta(timeout_wait_s)),
        timeout_at=dec(timeout_at),
        error=ExecutionError.from_dict(json.loads(error)) if error else None,
        cancellation=Cancellation.from_dict(json.loads(cancellation)) if cancellation else None,
        idempotency_key=idempotency_key,
        idempotency_expires_at=dec(idempotency_expires_at),
        tenant_id=tenant_id,
        parent_execution_id=parent_execution_id,
        parent_step_id=parent_step_id,
        metadata=json.loads(metadata),
        lease_owner=lease_owner,
        lease_expires_at=dec(lease_expires_at),
    )


def record_values(record: StepRecord, enc: EncodeTime) -> tuple[Any, ...]:
    """A history row in :data:`RECORD_COLUMNS` order."""
    what = "the {} of step {!r} of execution {}"
    where = (record.step_id, record.execution_id)
    return (
        record.execution_id,
        record.sequence,
        record.step_id,
        record.attempt,
        record.outcome.value,
        enc(record.started_at),
        enc(record.finished_at),
        dumps_optional(record.input, what, "input", *where),
        dumps_optional(record.output, what, "output", *where),
        dumps(record.error.to_dict(), what, "error", *where) if record.error else None,
        record.next_step_id,
        record.note,
    )


def record_from_row(row: Sequence[Any], dec: DecodeTime) -> StepRecord:
    execution_id, sequence, step_id, attempt, outcome, started, finished, input_, output, error, nxt, note = (
        row
    )
    return StepRecord(
        execution_id=execution_id,
        sequence=sequence,
        step_id=step_id,
        attempt=attempt,
        outcome=StepStatus(outcome),
        started_at=_required(dec(started)),
        finished_at=_required(dec(finished)),
        input=loads_optional(input_),
        output=loads_optional(output),
        error=ExecutionError.from_dict(json.loads(error)) if error else None,
        next_step_id=nxt,
        note=note,
    )


def trigger_values(trigger: TriggerDefinition, enc: EncodeTime) -> tuple[Any, ...]:
    t = trigger
    return (
        t.id,
        t.type.value,
        t.flow_id,
        t.flow_version,
        t.enabled,
        dumps(t.config, f"the config of trigger {t.id!r}"),
        t.source,
        enc(t.created_at),
        enc(t.updated_at),
        enc(t.next_run_at),
        enc(t.last_fired_at),
        t.last_status,
    )


def trigger_from_row(row: Sequence[Any], dec: DecodeTime) -> TriggerDefinition:
    id_, type_, flow_id, version, enabled, config, source, created, updated, next_run, last_fired, last = row
    return TriggerDefinition(
        id=id_,
        type=TriggerType(type_),
        flow_id=flow_id,
        flow_version=version,
        enabled=bool(enabled),
        config=json.loads(config),
        source=source,
        created_at=_required(dec(created)),
        updated_at=_required(dec(updated)),
        next_run_at=dec(next_run),
        last_fired_at=dec(last_fired),
        last_status=last,
    )


def fire_values(fire: TriggerFire, enc: EncodeTime) -> tuple[Any, ...]:
    f = fire
    return (
        f.id,
        f.trigger_id,
        enc(f.fired_at),
        f.status,
        f.duration_ms,
        f.execution_id,
        f.error,
        enc(f.slot_at),
    )


def fire_from_row(row: Sequence[Any], dec: DecodeTime) -> TriggerFire:
    id_, trigger_id, fired_at, status, duration_ms, execution_id, error, slot_at = row
    return TriggerFire(
        id=id_,
        trigger_id=trigger_id,
        fired_at=_required(dec(fired_at)),
        status=status,
        duration_ms=float(duration_ms),
        execution_id=execution_id,
        error=error,
        slot_at=dec(slot_at),
    )


def job_values(job: Job, enc: EncodeTime) -> tuple[Any, ...]:
    j = job
    what = f"job {j.id}"
    return (
        j.id,
        j.execution_id,
        j.step_id,
        j.attempt,
        j.type,
        dumps_optional(j.input, f"the input of {what}"),
        j.status.value,
        j.owner,
        j.fence,
        enc(j.lease_expires_at),
        dumps_optional(j.checkpoint, f"the checkpoint of {what}"),
        dumps_optional(j.result, f"the result of {what}"),
        dumps_optional(j.error, f"the error of {what}"),
        enc(j.created_at),
        enc(j.updated_at),
    )


def job_from_row(row: Sequence[Any], dec: DecodeTime) -> Job:
    id_, execution_id, step_id, attempt, type_, input_, status, owner, fence, lease = row[:10]
    checkpoint, result, error, created, updated = row[10:]
    return Job(
        id=id_,
        execution_id=execution_id,
        step_id=step_id,
        attempt=attempt,
        type=type_,
        input=loads_optional(input_),
        status=JobStatus(status),
        owner=owner,
        fence=fence,
        lease_expires_at=dec(lease),
        checkpoint=loads_optional(checkpoint),
        result=loads_optional(result),
        error=loads_optional(error),
        created_at=_required(dec(created)),
        updated_at=_required(dec(updated)),
    )


def _required(value: datetime | None) -> datetime:
    if value is None:  # pragma: no cover - NOT NULL columns
        raise StoreError("a required timestamp column is NULL")
    return value

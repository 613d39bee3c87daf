"""A record's fields are written once, in its dataclass; to_dict / from_dict and the stores'
columns are derived from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from flowmonkey.model import (
    Cancellation,
    Execution,
    ExecutionError,
    ExecutionStatus,
    StepRecord,
    StepStatus,
    TimeoutConfig,
    WaitKind,
)
from flowmonkey.model.fields import Role, Shape, record_fields
from flowmonkey.stores._changes import COMMIT_COLUMNS
from flowmonkey.stores._columns import EXECUTIONS

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def full_execution() -> Execution:
    return Execution(
        id="e1",
        flow_id="f",
        flow_version="1.0.0",
        flow_hash="h",
        status=ExecutionStatus.CANCELLED,
        current_step_id="s1",
        context={"a": [1, {"b": None}]},
        created_at=NOW,
        updated_at=NOW + timedelta(seconds=1),
        revision=3,
        step_count=2,
        attempt=2,
        completed_at=NOW + timedelta(seconds=2),
        wake_at=NOW + timedelta(minutes=5),
        wait_kind=WaitKind.RETRY,
        wait_reason="retry 1/2",
        waiting_since=NOW,
        timeout=TimeoutConfig(execution=timedelta(hours=1), wait=None),
        timeout_at=NOW + timedelta(hours=1),
        error=ExecutionError(code="CANCELLED", message="asked", step_id="s1", details={"x": 1}),
        cancellation=Cancellation(source="user", reason=None, at=NOW),
        idempotency_key="k",
        idempotency_expires_at=NOW + timedelta(days=1),
        tenant_id="t",
        parent_execution_id="p",
        parent_step_id="ps",
        metadata={"m": 1},
        lease_owner="w",
        lease_expires_at=NOW + timedelta(seconds=30),
    )


def test_to_dict_is_json_ready_and_named_like_the_fields() -> None:
    e = full_execution()
    data = e.to_dict()
    assert list(data) == [spec.name for spec in record_fields(Execution)]
    assert data["status"] == "cancelled" and data["wait_kind"] == "retry"
    assert data["created_at"] == "2026-03-01T12:00:00+00:00"
    assert data["timeout"] == {"execution": 3600.0, "wait": None}
    assert data["error"] == {"code": "CANCELLED", "message": "asked", "step_id": "s1", "details": {"x": 1}}
    assert data["cancellation"] == {"source": "user", "reason": None, "at": "2026-03-01T12:00:00+00:00"}
    assert Execution.from_dict(data) == e


def test_from_dict_gives_absent_fields_their_defaults() -> None:
    e = Execution.from_dict(
        {
            "id": "e",
            "flow_id": "f",
            "flow_version": "1",
            "flow_hash": "h",
            "status": "pending",
            "created_at": "2026-03-01T12:00:00",  # naive: taken as UTC
            "updated_at": NOW.isoformat(),
            "wait_kind": "",
            "revision": "4",
        }
    )
    assert e.created_at == NOW and e.revision == 4 and e.attempt == 1
    assert e.context == {} and e.metadata == {} and e.timeout == TimeoutConfig()
    assert e.current_step_id is None and e.wait_kind is None and e.error is None
    with pytest.raises(TypeError, match="flow_id"):
        Execution.from_dict({"id": "e", "flow_version": "1", "flow_hash": "h", "status": "pending"})


def test_a_step_record_round_trips_with_its_duration() -> None:
    r = StepRecord(
        execution_id="e1",
        sequence=2,
        step_id="s",
        attempt=1,
        outcome=StepStatus.FAILED,
        started_at=NOW,
        finished_at=NOW + timedelta(milliseconds=12.5),
        input={"i": 1},
        error=ExecutionError(code="X", message="y"),
    )
    data = r.to_dict()
    assert data["duration_ms"] == 12.5 and data["outcome"] == "failed"
    assert StepRecord.from_dict(data) == r


def test_who_writes_a_field_is_declared_next_to_it() -> None:
    roles = {spec.name: spec.role for spec in record_fields(Execution)}
    assert {n for n, r in roles.items() if r is Role.LEASE} == {"lease_owner", "lease_expires_at"}
    fixed = {n for n, r in roles.items() if r is Role.FIXED}
    assert fixed == {
        "id",
        "flow_id",
        "created_at",
        "idempotency_key",
        "idempotency_expires_at",
        "tenant_id",
        "parent_execution_id",
        "parent_step_id",
    }
    # A commit writes the columns of every other field, and nothing else.
    state = {c.name for c in EXECUTIONS.columns if c.field not in fixed and roles[c.field] is Role.STATE}
    assert set(COMMIT_COLUMNS) == state and "timeout_execution_s" in state
    assert {"flow_version", "flow_hash"} <= state  # a migration moves an execution to another definition


def test_columns_follow_the_fields_with_a_nested_record_flattened() -> None:
    assert EXECUTIONS.names[:3] == ("id", "flow_id", "flow_version")
    timeout = [c for c in EXECUTIONS.columns if c.field == "timeout"]
    assert [(c.name, c.part, c.spec.shape) for c in timeout] == [
        ("timeout_execution_s", "execution", Shape.DURATION),
        ("timeout_wait_s", "wait", Shape.DURATION),
    ]
    assert len(EXECUTIONS.names) == len(record_fields(Execution)) + 1


def test_a_field_of_a_type_without_a_shape_is_named() -> None:
    @dataclass
    class Odd:
        when: complex

    with pytest.raises(TypeError, match=r"Odd\.when: no shape"):
        record_fields(Odd)


def test_an_enum_field_decodes_to_its_member_and_refuses_a_value_that_is_none() -> None:
    from flowmonkey.stores._sqlite_ops import dec, enc

    e = full_execution()
    row = EXECUTIONS.values(e, enc)
    assert row[EXECUTIONS.names.index("status")] == "cancelled"
    assert type(row[EXECUTIONS.names.index("status")]) is str  # the value, not the member
    back = EXECUTIONS.from_row(row, dec)
    assert back.status is ExecutionStatus.CANCELLED and back.wait_kind is WaitKind.RETRY
    assert Execution.from_dict(e.to_dict()).status is ExecutionStatus.CANCELLED
    bad = list(row)
    bad[EXECUTIONS.names.index("status")] = "asleep"
    with pytest.raises(ValueError, match="'asleep' is not a valid ExecutionStatus"):
        EXECUTIONS.from_row(bad, dec)
    with pytest.raises(ValueError, match="'asleep' is not a valid ExecutionStatus"):
        Execution.from_dict({**e.to_dict(), "status": "asleep"})

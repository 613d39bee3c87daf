"""The execution model: one run of a flow, its history, and why it waits, failed or stopped.

An :class:`Execution` is the mutable record the engine commits to a store after every
step; it stays a plain dataclass because the engine copies and writes it on every step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from flowmonkey.model._json import JSON, copy_json


def utcnow() -> datetime:
    return datetime.now(UTC)


class ExecutionStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED})
ACTIVE_STATUSES = (ExecutionStatus.PENDING, ExecutionStatus.RUNNING, ExecutionStatus.WAITING)


class WaitKind(StrEnum):
    """Why an execution waits: a handler asked to, or a failed step waits to retry."""

    HANDLER = "handler"
    RETRY = "retry"


class StepStatus(StrEnum):
    """What one history record says happened at a step."""

    COMPLETED = "completed"
    FAILED = "failed"
    WAITING = "waiting"
    RETRY = "retry"
    RESUMED = "resumed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeoutConfig:
    """Execution-wide deadline and the longest any single wait may last."""

    execution: timedelta | None = None
    wait: timedelta | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionError:
    """Why an execution or a step failed: ``{code, message, step_id, details}``."""

    code: str
    message: str
    step_id: str | None = None
    details: JSON = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "step_id": self.step_id, "details": self.details}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExecutionError:
        return cls(
            code=str(data["code"]),
            message=str(data.get("message", "")),
            step_id=data.get("step_id"),
            details=data.get("details"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Cancellation:
    source: str
    reason: str | None
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "reason": self.reason, "at": self.at.isoformat()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Cancellation:
        return cls(source=data["source"], reason=data.get("reason"), at=_parse_dt(data["at"]))


@dataclass(kw_only=True)
class Execution:
    """One run of a flow. Stores hand out copies; ``revision`` guards every commit."""

    id: str
    flow_id: str
    flow_version: str
    flow_hash: str
    status: ExecutionStatus
    current_step_id: str | None
    context: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    revision: int = 0
    step_count: int = 0
    attempt: int = 1
    completed_at: datetime | None = None
    wake_at: datetime | None = None
    wait_kind: WaitKind | None = None
    wait_reason: str | None = None
    waiting_since: datetime | None = None
    timeout: TimeoutConfig = field(default_factory=TimeoutConfig)
    timeout_at: datetime | None = None
    error: ExecutionError | None = None
    cancellation: Cancellation | None = None
    idempotency_key: str | None = None
    idempotency_expires_at: datetime | None = None
    tenant_id: str | None = None
    parent_execution_id: str | None = None
    parent_step_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in _TERMINAL

    def copy(self) -> Execution:
        """An independent copy: context and metadata are copied deeply."""
        # Not dataclasses.replace: this runs on every store read and write, and
        # replace() was the engine's largest single cost.
        clone = object.__new__(Execution)
        clone.__dict__.update(self.__dict__)
        clone.context = copy_json(self.context)
        clone.metadata = copy_json(self.metadata)
        return clone

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO 8601 strings)."""
        return {
            "id": self.id,
            "flow_id": self.flow_id,
            "flow_version": self.flow_version,
            "flow_hash": self.flow_hash,
            "status": self.status.value,
            "current_step_id": self.current_step_id,
            "context": self.context,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "revision": self.revision,
            "step_count": self.step_count,
            "attempt": self.attempt,
            "completed_at": _iso(self.completed_at),
            "wake_at": _iso(self.wake_at),
            "wait_kind": self.wait_kind.value if self.wait_kind else None,
            "wait_reason": self.wait_reason,
            "waiting_since": _iso(self.waiting_since),
            "timeout": {
                "execution": _seconds(self.timeout.execution),
                "wait": _seconds(self.timeout.wait),
            },
            "timeout_at": _iso(self.timeout_at),
            "error": self.error.to_dict() if self.error else None,
            "cancellation": self.cancellation.to_dict() if self.cancellation else None,
            "idempotency_key": self.idempotency_key,
            "idempotency_expires_at": _iso(self.idempotency_expires_at),
            "tenant_id": self.tenant_id,
            "parent_execution_id": self.parent_execution_id,
            "parent_step_id": self.parent_step_id,
            "metadata": self.metadata,
            "lease_owner": self.lease_owner,
            "lease_expires_at": _iso(self.lease_expires_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Execution:
        timeout = data.get("timeout") or {}
        return cls(
            id=data["id"],
            flow_id=data["flow_id"],
            flow_version=data["flow_version"],
            flow_hash=data["flow_hash"],
            status=ExecutionStatus(data["status"]),
            current_step_id=data.get("current_step_id"),
            context=data.get("context") or {},
            created_at=_parse_dt(data["created_at"]),
            updated_at=_parse_dt(data["updated_at"]),
            revision=int(data.get("revision", 0)),
            step_count=int(data.get("step_count", 0)),
            attempt=int(data.get("attempt", 1)),
            completed_at=_opt_dt(data.get("completed_at")),
            wake_at=_opt_dt(data.get("wake_at")),
            wait_kind=WaitKind(data["wait_kind"]) if data.get("wait_kind") else None,
            wait_reason=data.get("wait_reason"),
            waiting_since=_opt_dt(data.get("waiting_since")),
            timeout=TimeoutConfig(
                execution=_opt_td(timeout.get("execution")), wait=_opt_td(timeout.get("wait"))
            ),
            timeout_at=_opt_dt(data.get("timeout_at")),
            error=ExecutionError.from_dict(data["error"]) if data.get("error") else None,
            cancellation=Cancellation.from_dict(data["cancellation"]) if data.get("cancellation") else None,
            idempotency_key=data.get("idempotency_key"),
            idempotency_expires_at=_opt_dt(data.get("idempotency_expires_at")),
            tenant_id=data.get("tenant_id"),
            parent_execution_id=data.get("parent_execution_id"),
            parent_step_id=data.get("parent_step_id"),
            metadata=data.get("metadata") or {},
            lease_owner=data.get("lease_owner"),
            lease_expires_at=_opt_dt(data.get("lease_expires_at")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRecord:
    """One entry of an execution's history; ``sequence`` is the revision it produced."""

    execution_id: str
    sequence: int
    step_id: str | None
    attempt: int
    outcome: StepStatus
    started_at: datetime
    finished_at: datetime
    input: JSON = None
    output: JSON = None
    error: ExecutionError | None = None
    next_step_id: str | None = None
    note: str | None = None

    @property
    def duration_ms(self) -> float:
        return (self.finished_at - self.started_at).total_seconds() * 1000

    def to_dict(self) -> dict[str, Any]:
        return {
            "execution_id": self.execution_id,
            "sequence": self.sequence,
            "step_id": self.step_id,
            "attempt": self.attempt,
            "outcome": self.outcome.value,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "duration_ms": round(self.duration_ms, 3),
            "input": self.input,
            "output": self.output,
            "error": self.error.to_dict() if self.error else None,
            "next_step_id": self.next_step_id,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepRecord:
        return cls(
            execution_id=data["execution_id"],
            sequence=int(data["sequence"]),
            step_id=data.get("step_id"),
            attempt=int(data.get("attempt", 1)),
            outcome=StepStatus(data["outcome"]),
            started_at=_parse_dt(data["started_at"]),
            finished_at=_parse_dt(data["finished_at"]),
            input=data.get("input"),
            output=data.get("output"),
            error=ExecutionError.from_dict(data["error"]) if data.get("error") else None,
            next_step_id=data.get("next_step_id"),
            note=data.get("note"),
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_dt(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _opt_dt(value: Any) -> datetime | None:
    return None if value is None else _parse_dt(value)


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _opt_td(value: Any) -> timedelta | None:
    return None if value is None else timedelta(seconds=float(value))

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
from flowmonkey.model.fields import FIXED, LEASE, from_json, parse_time, to_json


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
    TAKEOVER = "takeover"
    """A runtime took the execution over from one whose lease lapsed (it stopped, or was
    lost): the step in flight runs again (``note`` says which worker was lost)."""


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
        return cls(source=data["source"], reason=data.get("reason"), at=parse_time(data["at"]))


@dataclass(kw_only=True)
class Execution:
    """One run of a flow. Stores hand out copies; ``revision`` guards every commit.

    Its fields are the one definition of an execution: ``to_dict`` and the stores'
    columns are derived from them (:mod:`flowmonkey.model.fields`). ``FIXED`` fields are
    set at create and never change; ``LEASE`` fields belong to claims; a step's commit
    writes the others.
    """

    id: str = field(metadata=FIXED)
    flow_id: str = field(metadata=FIXED)
    flow_version: str = field(metadata=FIXED)
    flow_hash: str = field(metadata=FIXED)
    status: ExecutionStatus
    current_step_id: str | None
    context: dict[str, Any]
    created_at: datetime = field(metadata=FIXED)
    updated_at: datetime
    revision: int = 0
    step_count: int = 0
    attempt: int = 1
    visit: int = 0
    """The revision at which the current step visit began (a flow that loops back to a
    step visits it again, with a new number); with ``attempt`` it identifies a handler run."""
    delivery: int = 1
    """How often this attempt has been handed to a handler: more than 1 after a takeover."""
    completed_at: datetime | None = None
    wake_at: datetime | None = None
    wait_kind: WaitKind | None = None
    wait_reason: str | None = None
    waiting_since: datetime | None = None
    timeout: TimeoutConfig = field(default_factory=TimeoutConfig)
    timeout_at: datetime | None = None
    error: ExecutionError | None = None
    cancellation: Cancellation | None = None
    idempotency_key: str | None = field(default=None, metadata=FIXED)
    idempotency_expires_at: datetime | None = field(default=None, metadata=FIXED)
    tenant_id: str | None = field(default=None, metadata=FIXED)
    parent_execution_id: str | None = field(default=None, metadata=FIXED)
    parent_step_id: str | None = field(default=None, metadata=FIXED)
    metadata: dict[str, Any] = field(default_factory=dict)
    lease_owner: str | None = field(default=None, metadata=LEASE)
    lease_expires_at: datetime | None = field(default=None, metadata=LEASE)

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
        """A JSON-ready dict (datetimes as ISO 8601 strings, durations in seconds)."""
        return to_json(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Execution:
        return from_json(cls, data)


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
    visit: int | None = None
    """The step visit the record belongs to (None in histories written before visits)."""

    @property
    def duration_ms(self) -> float:
        return (self.finished_at - self.started_at).total_seconds() * 1000

    def to_dict(self) -> dict[str, Any]:
        return {**to_json(self), "duration_ms": round(self.duration_ms, 3)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepRecord:
        return from_json(cls, data)

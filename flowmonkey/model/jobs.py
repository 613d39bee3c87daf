"""Jobs: the work of a long-running handler, run outside its step under a lease."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """Work of a long-running handler, run outside the step with lease and heartbeat.

    ``fence`` grows with every claim; a runner whose fence is stale can no longer write.
    """

    id: str
    execution_id: str
    step_id: str
    attempt: int
    type: str
    visit: int = 0
    """The step visit that enqueued the job: a revisit of the step gets a job of its own."""
    input: Any = None
    status: JobStatus = JobStatus.PENDING
    owner: str | None = None
    fence: int = 0
    lease_expires_at: datetime | None = None
    checkpoint: Any = None
    result: Any = None
    error: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime

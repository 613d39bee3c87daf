"""Value objects of firing: what one fire did, and counts for display."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class _NoPayload:
    def __repr__(self) -> str:
        return "NO_PAYLOAD"


NO_PAYLOAD: Any = _NoPayload()
"""Passed as a payload: the trigger fired without one (a schedule, a bare manual fire)."""


class FireStatus(StrEnum):
    OK = "ok"  # an execution was started (or an idempotent repeat found it)
    FAILED = "failed"  # the engine could not start the flow
    REJECTED = "rejected"  # the request was refused (auth, schema, disabled, ...)


@dataclass(frozen=True, slots=True, kw_only=True)
class FireOutcome:
    """The result of one firing; ``created`` is False for an idempotent repeat."""

    trigger_id: str
    status: FireStatus
    execution_id: str | None = None
    created: bool = False
    error: str | None = None
    code: str | None = None
    slot_at: datetime | None = None
    details: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerStats:
    """Counts for display: triggers in the store and fires seen by this instance."""

    total: int
    enabled: int
    by_type: dict[str, int]
    fires: dict[str, int]
    next_run_at: datetime | None

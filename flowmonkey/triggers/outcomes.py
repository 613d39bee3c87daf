"""Value objects of firing: what one fire did, and counts for display."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from flowmonkey.errors import StoreError
from flowmonkey.model import TriggerDefinition


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
    """The result of one firing; ``created`` is False for an idempotent repeat.

    ``transient`` marks a failure of the store that a later attempt may not meet (an
    outage); ``error`` is for the log and the history, as it may name the store.
    """

    trigger_id: str
    status: FireStatus
    execution_id: str | None = None
    created: bool = False
    error: str | None = None
    code: str | None = None
    slot_at: datetime | None = None
    details: Any = None
    transient: bool = False


def ok_outcome(trigger_id: str, execution_id: str, created: bool, slot_at: datetime | None) -> FireOutcome:
    """The flow started (``created`` False: an idempotent repeat found its execution)."""
    return FireOutcome(
        trigger_id=trigger_id,
        status=FireStatus.OK,
        execution_id=execution_id,
        created=created,
        slot_at=slot_at,
    )


def failed_outcome(trigger_id: str, exc: Exception, slot_at: datetime | None) -> FireOutcome:
    """The engine could not start the flow; keeps the error's code when it has one."""
    code = getattr(exc, "code", None)
    return FireOutcome(
        trigger_id=trigger_id,
        status=FireStatus.FAILED,
        error=str(exc),
        code=str(code) if code else None,
        slot_at=slot_at,
        transient=isinstance(exc, StoreError) and exc.transient,
    )


def rejected_outcome(trigger_id: str, message: str, details: Any = None) -> FireOutcome:
    """The request was refused before any flow started."""
    return FireOutcome(trigger_id=trigger_id, status=FireStatus.REJECTED, error=message, details=details)


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerStats:
    """Counts for display: triggers in the store and fires seen by this instance."""

    total: int
    enabled: int
    by_type: dict[str, int]
    fires: dict[str, int]
    next_run_at: datetime | None


def trigger_stats(triggers: Iterable[TriggerDefinition], fires: Mapping[str, int]) -> TriggerStats:
    """Counts of ``triggers`` (enabled, by type, the next run) and of ``fires`` by status."""
    triggers = list(triggers)
    runs = [t.next_run_at for t in triggers if t.enabled and t.next_run_at is not None]
    return TriggerStats(
        total=len(triggers),
        enabled=sum(t.enabled for t in triggers),
        by_type=dict(Counter(t.type.value for t in triggers)),
        fires={status.value: fires.get(status.value, 0) for status in FireStatus},
        next_run_at=min(runs, default=None),
    )

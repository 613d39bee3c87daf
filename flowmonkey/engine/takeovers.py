"""Takeovers made visible: when a runtime claims an execution whose lease lapsed (the
runtime that held it stopped, or was lost), the step it had in flight runs again. The
history records it, so nobody has to guess that a handler ran twice."""

from __future__ import annotations

from datetime import datetime

from flowmonkey.change import Change
from flowmonkey.model import StepRecord, StepStatus
from flowmonkey.state import next_revision, seal
from flowmonkey.stores.base import Claim


def takeover(claim: Claim, now: datetime) -> Change:
    """The change that records ``claim`` as a takeover: one more delivery of the attempt
    in flight, and a ``takeover`` record naming the lost owner and when its lease lapsed."""
    execution = claim.execution
    lapsed_at = claim.lapsed_at or now
    note = f"re-run: worker {claim.taken_from} was lost (its lease lapsed at {lapsed_at.isoformat(timespec='seconds')})"
    record = StepRecord(
        execution_id=execution.id,
        sequence=next_revision(execution),
        step_id=execution.current_step_id,
        attempt=execution.attempt,
        outcome=StepStatus.TAKEOVER,
        started_at=lapsed_at,
        finished_at=now,
        note=note,
        visit=execution.visit,
    )
    return seal(execution, {"delivery": execution.delivery + 1}, now, record, step=False)

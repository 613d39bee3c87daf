"""Contexts as they were: every history record says how to take back its change of the
context (``StepRecord.undo``), so the context when any step visit began is the current
one with the later records' changes taken back, newest first. No snapshot is stored."""

from __future__ import annotations

from typing import Any

from flowmonkey.errors import NotRepairableError
from flowmonkey.inputs import undone
from flowmonkey.model import StepRecord, StepStatus

# Records that never change the context (a history written before undos existed is still
# readable through these).
_UNCHANGING = frozenset(
    {
        StepStatus.WAITING,
        StepStatus.RETRY,
        StepStatus.CANCELLED,
        StepStatus.TAKEOVER,
        StepStatus.HELD,
        StepStatus.MIGRATED,
    }
)


def context_before(current: dict[str, Any], history: list[StepRecord], visit: int) -> dict[str, Any]:
    """The context when the step visit ``visit`` began (after the commit numbered ``visit``).

    Raises:
        NotRepairableError: a record to take back was written before records said how
            (by FlowMonkey 0.1), so that context cannot be rebuilt.
    """
    context = current
    for record in reversed(history):
        if record.sequence <= visit:
            break
        if record.undo is not None:
            context = undone(context, record.undo)
        elif record.visit is None and record.outcome not in _UNCHANGING:
            raise NotRepairableError(
                f"record {record.sequence} ({record.step_id} {record.outcome.value}) of execution "
                f"{record.execution_id} was written before history records said how to take back "
                "their change of the context, so the context before it cannot be rebuilt"
            )
    return context


def visits_of(history: list[StepRecord], step_id: str) -> list[int]:
    """The visits of ``step_id`` the history shows, oldest first."""
    seen: list[int] = []
    for record in history:
        if record.step_id == step_id and record.visit is not None and record.visit not in seen:
            seen.append(record.visit)
    return seen

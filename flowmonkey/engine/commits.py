"""The end of every state change: one compare-and-set commit, then what follows from it.

:class:`Committer` writes a :class:`~flowmonkey.change.Change` through the store. Only when
the store accepted it is the change applied to the caller's execution, the events that
describe it published, sleeping runtimes signalled, and a finished child's parent woken.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flowmonkey import faults
from flowmonkey.change import Change
from flowmonkey.engine.clock import Clock
from flowmonkey.engine.notify import Emitter, WakeListeners
from flowmonkey.events import EventType
from flowmonkey.model import Execution, ExecutionStatus, StepRecord, StepStatus, WaitKind
from flowmonkey.state import seal, woken
from flowmonkey.stores.base import ExecutionStore

COMMIT_RETRIES = 20
"""How often an operation re-reads and retries after losing a compare-and-set."""

_STEP_EVENTS = {StepStatus.COMPLETED: EventType.STEP_COMPLETED, StepStatus.FAILED: EventType.STEP_FAILED}
# (Module constants on the step path: see flowmonkey.engine.pipeline.)
_WAITING, _CANCELLED = ExecutionStatus.WAITING, ExecutionStatus.CANCELLED


class Committer:
    """Commits changes and carries out their consequences."""

    __slots__ = ("_bus", "_clock", "_emitter", "_store", "_wakes", "on_committed")

    def __init__(self, store: ExecutionStore, clock: Clock, emitter: Emitter, wakes: WakeListeners) -> None:
        self._store = store
        self._clock = clock
        self._emitter = emitter
        self._bus = emitter.bus
        self._wakes = wakes
        self.on_committed: Callable[[Execution, StepRecord, float], None] | None = None

    async def commit(self, change: Change) -> bool:
        """Write ``change`` if its base revision is still the stored one; then apply it
        to ``change.base`` and announce it. False (nothing changed anywhere) if another
        writer was first."""
        on_committed = self.on_committed
        started = time.perf_counter() if on_committed is not None else 0.0
        if not await self._store.commit(change):
            return False
        execution = change.apply()
        if change.wake_parent is not None:  # woken in the store, in the same transaction
            faults.reached("child-ended")
            self._wakes.signal(change.wake_parent)
        record = change.record
        if record is None:
            return True
        if on_committed is not None:
            on_committed(execution, record, time.perf_counter() - started)
        if self._bus.active:
            self._announce_record(execution, record)
            self._announce_status(execution, record)
        elif execution.status is _WAITING:  # runtimes sleep until its wake
            self._wakes.signal(execution.id, execution.wake_at or execution.timeout_at)
        elif execution.status is _CANCELLED:
            self._wakes.signal(execution.id)
        return True

    async def wake(self, execution_id: str) -> bool:
        """Re-run a waiting step now (its handler sees ``woken_by == "timer"``), e.g.
        because the child or job it waited on finished. False if it is not waiting."""
        for _ in range(COMMIT_RETRIES):
            execution = await self._store.get_execution(execution_id)
            if execution is None or execution.status is not ExecutionStatus.WAITING:
                return False
            if execution.wait_kind is not WaitKind.HANDLER:
                return False
            now = self._clock.now()
            if await self._store.commit(seal(execution, woken(now), now, step=False)):
                self._wakes.signal(execution_id)
                return True
        return False

    def _announce_record(self, execution: Execution, record: StepRecord) -> None:
        emit = self._emitter.emit
        outcome = record.outcome
        kind = _STEP_EVENTS.get(outcome)
        if kind is not None:
            emit(kind, execution, record.step_id, attempt=record.attempt, duration_ms=record.duration_ms)
            if record.next_step_id is not None:
                emit(EventType.TRANSITION, execution, record.step_id, to=record.next_step_id)
        elif outcome is StepStatus.RETRY:
            emit(
                EventType.STEP_RETRY,
                execution,
                record.step_id,
                attempt=record.attempt,
                error=record.error.to_dict() if record.error else None,
                wake_at=execution.wake_at.isoformat() if execution.wake_at else None,
            )
        elif outcome is StepStatus.RESUMED:
            emit(EventType.EXECUTION_RESUMED, execution, record.step_id)
        elif outcome is StepStatus.TAKEOVER:
            emit(
                EventType.EXECUTION_TAKEN_OVER,
                execution,
                record.step_id,
                attempt=record.attempt,
                note=record.note,
            )

    def _announce_status(self, execution: Execution, record: StepRecord) -> None:
        emit = self._emitter.emit
        status = execution.status
        if status is ExecutionStatus.WAITING:
            wake_at = execution.wake_at
            emit(
                EventType.EXECUTION_WAITING,
                execution,
                record.step_id,
                reason=execution.wait_reason,
                wake_at=wake_at.isoformat() if wake_at else None,
            )
            self._wakes.signal(execution.id, wake_at or execution.timeout_at)
        elif status is ExecutionStatus.COMPLETED:
            emit(EventType.EXECUTION_COMPLETED, execution)
        elif status is ExecutionStatus.FAILED:
            error = execution.error
            emit(
                EventType.EXECUTION_FAILED,
                execution,
                record.step_id,
                error=error.to_dict() if error else None,
            )
        elif status is ExecutionStatus.CANCELLED:
            cancellation = execution.cancellation
            emit(
                EventType.EXECUTION_CANCELLED,
                execution,
                execution.current_step_id,
                source=cancellation.source if cancellation else None,
                reason=cancellation.reason if cancellation else None,
            )
            self._wakes.signal(execution.id)

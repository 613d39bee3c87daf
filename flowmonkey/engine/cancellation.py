"""Cancelling executions, their children with them, and timeouts (source ``timeout``)."""

from __future__ import annotations

from typing import NamedTuple

from flowmonkey.change import Change
from flowmonkey.engine.clock import Clock
from flowmonkey.engine.commits import COMMIT_RETRIES, Committer
from flowmonkey.model import ACTIVE_STATUSES, Execution, ExecutionStatus, StepRecord, StepStatus
from flowmonkey.state import cancelled, next_revision, seal
from flowmonkey.stores.base import ExecutionQuery, ExecutionStore

_CHILDREN_PAGE = 100


class CancelResult(NamedTuple):
    cancelled: bool
    previous_status: ExecutionStatus | None
    error: str | None = None
    children_cancelled: int = 0


class Canceller:
    """Cancels pending, running and waiting executions and, recursively, their children."""

    __slots__ = ("_clock", "_committer", "_store")

    def __init__(self, store: ExecutionStore, committer: Committer, clock: Clock) -> None:
        self._store = store
        self._committer = committer
        self._clock = clock

    async def cancel(self, execution_id: str, source: str, reason: str | None) -> CancelResult:
        execution = await self._store.get_execution(execution_id)
        if execution is None:
            return CancelResult(False, None, f"no execution {execution_id!r}")
        return await self.cancel_loaded(execution, source, reason)

    async def cancel_loaded(self, execution: Execution, source: str, reason: str | None) -> CancelResult:
        """Cancel ``execution`` as read (re-reading it when another writer was first)."""
        for _ in range(COMMIT_RETRIES):
            previous = execution.status
            if execution.is_terminal:
                return CancelResult(False, previous, f"execution {execution.id} is already {previous.value}")
            if await self._committer.commit(self._change(execution, source, reason)):
                children = await self._cancel_children(execution.id)
                return CancelResult(True, previous, None, children)
            reread = await self._store.get_execution(execution.id)
            if reread is None:
                return CancelResult(False, previous, f"no execution {execution.id!r}")
            execution = reread
        return CancelResult(False, execution.status, "the execution kept changing; try again")

    def _change(self, execution: Execution, source: str, reason: str | None) -> Change:
        now = self._clock.now()
        fields, note = cancelled(execution, source, reason, now)
        record = StepRecord(
            execution_id=execution.id,
            sequence=next_revision(execution),
            step_id=execution.current_step_id,
            attempt=execution.attempt,
            outcome=StepStatus.CANCELLED,
            started_at=now,
            finished_at=now,
            note=note,
            visit=execution.visit,
        )
        return seal(execution, fields, now, record, step=False)

    async def _cancel_children(self, parent_id: str) -> int:
        count = 0
        tried: set[str] = set()
        query = ExecutionQuery(parent_execution_id=parent_id, statuses=ACTIVE_STATUSES)
        while True:
            page = await self._store.list_executions(query, limit=_CHILDREN_PAGE)
            fresh = [child for child in page.items if child.id not in tried]
            if not fresh:
                return count
            for child in fresh:
                tried.add(child.id)
                result = await self.cancel_loaded(child, "parent", f"parent {parent_id} was cancelled")
                count += int(result.cancelled) + result.children_cancelled

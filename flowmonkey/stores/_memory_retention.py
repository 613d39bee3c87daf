"""The retention part of :class:`~flowmonkey.stores.memory.MemoryStore` (see
:mod:`flowmonkey.stores.retention` for the rules). Each call runs without an await, so it
is one atomic step on the loop, like every other operation of the memory store."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime

from flowmonkey.model import (
    ACTIVE_STATUSES,
    Execution,
    Job,
    StepRecord,
    TriggerDefinition,
    TriggerFire,
    WebhookSignature,
)
from flowmonkey.stores.retention import PruneCut, PrunedBatch


class MemoryRetention:
    """Mixed into ``MemoryStore``: bounded deletes over its dicts."""

    _executions: dict[str, Execution]
    _history: dict[str, list[StepRecord]]
    _feed: list[StepRecord]
    _feed_base: int
    _idempotency: dict[tuple[str, str, str], tuple[str, datetime | None]]
    _triggers: dict[str, TriggerDefinition]
    _slots: set[tuple[str, datetime]]
    _fires: dict[str, list[TriggerFire]]
    _signatures: dict[tuple[str, str], WebhookSignature]
    _jobs: dict[str, Job]
    _job_keys: dict[tuple[str, str, int], str]

    def _forget_fans(self, execution_id: str) -> None: ...

    async def prune_executions(
        self, cut: PruneCut, *, after: str, limit: int, dry_run: bool = False
    ) -> PrunedBatch:
        below = cut.id_below
        examined = sorted(
            e.id for e in self._executions.values() if e.status is cut.status and after < e.id < below
        )[:limit]
        going = [self._executions[i] for i in examined if self._may_go(self._executions[i], cut)]
        gone = Counter((e.flow_id, e.status) for e in going)
        if not dry_run:
            for execution in going:
                self._forget(execution)
        return PrunedBatch(gone=dict(gone), last_id=examined[-1] if len(examined) == limit else None)

    def _may_go(self, execution: Execution, cut: PruneCut) -> bool:
        if cut.flow_id is not None and execution.flow_id != cut.flow_id:
            return False
        if execution.completed_at is None or execution.completed_at >= cut.finished_before:
            return False
        if execution.idempotency_key is not None:
            expires = execution.idempotency_expires_at
            if expires is None or expires > cut.now:
                return False
        parent = self._executions.get(execution.parent_execution_id or "")
        return parent is None or parent.status not in ACTIVE_STATUSES

    def _forget(self, execution: Execution) -> None:
        del self._executions[execution.id]
        self._history.pop(execution.id, None)
        self._forget_fans(execution.id)
        for job in [j for j in self._jobs.values() if j.execution_id == execution.id]:
            del self._jobs[job.id]
            self._job_keys.pop((job.execution_id, job.step_id, job.attempt), None)
        if execution.idempotency_key is not None:
            scope = (execution.tenant_id or "", execution.flow_id, execution.idempotency_key)
            held = self._idempotency.get(scope)
            if held is not None and held[0] == execution.id:
                del self._idempotency[scope]

    async def prune_trigger_fires(self, *, fired_before: datetime, limit: int, dry_run: bool = False) -> int:
        old = sorted(
            (f.id, f.trigger_id) for fires in self._fires.values() for f in fires if f.fired_at < fired_before
        )[:limit]
        if not dry_run:
            going = {fire_id for fire_id, _ in old}
            for trigger_id in {t for _, t in old}:
                self._fires[trigger_id] = [f for f in self._fires[trigger_id] if f.id not in going]
        return len(old)

    async def prune_trigger_slots(self, *, before: datetime, limit: int, dry_run: bool = False) -> int:
        old = sorted(slot for slot in self._slots if self._slot_unneeded(slot, before))[:limit]
        if not dry_run:
            self._slots.difference_update(old)
        return len(old)

    def _slot_unneeded(self, slot: tuple[str, datetime], before: datetime) -> bool:
        trigger_id, slot_at = slot
        trigger = self._triggers.get(trigger_id)
        next_run = trigger.next_run_at if trigger is not None else None
        return slot_at < before and (next_run is None or slot_at < next_run)

    async def prune_signatures(self, *, expired_before: datetime, limit: int, dry_run: bool = False) -> int:
        old = sorted(key for key, row in self._signatures.items() if row.expires_at < expired_before)[:limit]
        if not dry_run:
            for key in old:
                del self._signatures[key]
        return len(old)

    async def prune_feed(self, *, before: datetime, limit: int, dry_run: bool = False) -> int:
        old = 0
        for record in itertools.islice(self._feed, limit):
            if record.execution_id in self._history and record.finished_at >= before:
                break  # the first position that stays: the feed is in commit order
            old += 1
        if not dry_run:
            del self._feed[:old]
            self._feed_base += old
        return old

    async def reclaim_space(self, *, full: bool = False) -> str:
        return "memory store: deleted rows are freed at once"

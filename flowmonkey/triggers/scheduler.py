"""The scheduler loop: fire due cron slots, then sleep until the next one.

It sleeps until the earliest ``next_run_at`` (or until a trigger changes in this process),
at most ``ScheduleConfig.max_sleep`` so that triggers other processes add are seen; it
never polls faster than the slots require. Each slot is claimed in the store first
(``claim_slot``), so instances sharing a store fire it once between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flowmonkey.errors import FlowMonkeyError
from flowmonkey.stores.base import TriggerDefinition, TriggerType
from flowmonkey.triggers.outcomes import FireOutcome
from flowmonkey.triggers.schedule import Misfire, ScheduleConfig, plan_due

if TYPE_CHECKING:
    from flowmonkey.triggers.service import TriggerService

log = logging.getLogger("flowmonkey.triggers")


class Scheduler:
    """Fires the schedule triggers of one :class:`TriggerService`."""

    def __init__(self, service: TriggerService) -> None:
        self._service = service
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wakeup = asyncio.Event()
        self._next_due: datetime | None = None

    @property
    def config(self) -> ScheduleConfig:
        return self._service.schedule or ScheduleConfig()

    def wake(self) -> None:
        """Look at the triggers again now (one was added or changed)."""
        self._wakeup.set()

    async def tick(self, now: datetime) -> list[FireOutcome]:
        """Fire every slot due at ``now``, for every enabled schedule trigger."""
        outcomes: list[FireOutcome] = []
        upcoming: list[datetime] = []
        for trigger in await self._service.store.list_triggers():
            if trigger.type is not TriggerType.SCHEDULE or not trigger.enabled:
                continue
            try:
                fired, next_run_at = await self._tick_one(trigger, now)
            except (ValueError, FlowMonkeyError):  # one bad trigger must not stop the others
                log.exception("schedule trigger %r could not be fired", trigger.id)
                continue
            outcomes += fired
            upcoming.append(next_run_at)
        self._next_due = min(upcoming, default=None)
        return outcomes

    async def _tick_one(
        self, trigger: TriggerDefinition, now: datetime
    ) -> tuple[list[FireOutcome], datetime]:
        service = self._service
        plan = plan_due(
            service.cron(trigger),
            next_run_at=trigger.next_run_at,
            now=now,
            misfire=Misfire(trigger.config.get("misfire", Misfire.ONCE)),
            grace=self.config.misfire_grace,
            max_catch_up=self.config.max_catch_up,
        )
        if plan.missed:
            log.warning(
                "schedule trigger %r missed %d slot(s) while no scheduler ran", trigger.id, plan.missed
            )
        outcomes = []
        for slot in plan.slots:
            if await service.store.claim_slot(trigger_id=trigger.id, slot_at=slot):  # once across instances
                key = f"trigger:{trigger.id}:{slot.isoformat()}"
                outcomes.append(await service.start_flow(trigger, idempotency_key=key, slot_at=slot))
        # When another instance claimed every slot, it also saves the next run; skip the write.
        lost_every_claim = bool(plan.slots) and not outcomes
        if outcomes or (plan.next_run_at != trigger.next_run_at and not lost_every_claim):
            await self._save_state(trigger.id, plan.next_run_at, outcomes)
        return outcomes, plan.next_run_at

    async def _save_state(self, trigger_id: str, next_run_at: datetime, outcomes: list[FireOutcome]) -> None:
        store = self._service.store
        fresh = await store.get_trigger(trigger_id)  # re-read: never undo a concurrent edit
        if fresh is None:
            return
        changes: dict[str, Any] = {"next_run_at": next_run_at}
        if outcomes:
            changes.update(last_fired_at=self._service.now(), last_status=outcomes[-1].status.value)
        await store.save_trigger(replace(fresh, **changes))

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="flowmonkey-scheduler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            self._stopping = True
            self._wakeup.set()
            await task

    async def _run(self) -> None:
        while not self._stopping:
            self._wakeup.clear()
            try:
                await self.tick(self._service.now())
            except Exception:  # the loop must outlive a store hiccup
                log.exception("scheduler tick failed; retrying after the next sleep")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._sleep_seconds())

    def _sleep_seconds(self) -> float:
        """Until the next due slot, at most ``max_sleep`` (to see other processes' triggers)."""
        cap = self.config.max_sleep.total_seconds()
        if self._next_due is None:
            return cap
        return min(max((self._next_due - self._service.now()).total_seconds(), 0.0), cap)

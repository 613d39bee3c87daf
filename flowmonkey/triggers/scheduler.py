"""The scheduler loop: fire due cron slots, then sleep until the next one.

It sleeps until the earliest ``next_run_at`` (or until a trigger changes in this process),
at most ``ScheduleConfig.max_sleep`` so that triggers other processes add are seen; it
never polls faster than the slots require.

Each slot fires exactly once across the instances sharing a store, crashes included:

* its execution is created with the slot's idempotency key, so instances racing for it,
  and a retry of it, converge on one execution (:meth:`FlowStarter.start_slot`);
* ``next_run_at`` moves past a slot only once the slot's execution exists (or its start
  failed for good), so a process that dies in between leaves the slot for the next tick,
  here or on another instance. A store error stops the trigger's tick at the slot, which
  is retried after ``ScheduleConfig.retry_delay`` (subject to the misfire policy, as any
  late slot).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from flowmonkey.errors import FlowMonkeyError, StoreError
from flowmonkey.model import TriggerDefinition, TriggerType
from flowmonkey.stores.base import TriggerStore
from flowmonkey.triggers.outcomes import FireOutcome
from flowmonkey.triggers.schedule import (
    SLOT_KEY_MARGIN,
    CronSchedule,
    DuePlan,
    Misfire,
    ScheduleConfig,
    plan_due,
    replay_horizon,
)

log = logging.getLogger("flowmonkey.triggers")


StartSlot = Callable[[TriggerDefinition, datetime, timedelta], Awaitable[FireOutcome | None]]
"""Start a slot's run, keeping its idempotency key that long (:meth:`FlowStarter.start_slot`)."""


class Scheduler:
    """Fires the schedule triggers in ``store``, each slot through ``start_slot``.

    Args:
        store: where the triggers are.
        start_slot: starts one slot's run, exactly once across instances.
        config: the scheduler's settings.
        clock: the current time.
    """

    def __init__(
        self,
        store: TriggerStore,
        start_slot: StartSlot,
        *,
        config: ScheduleConfig,
        clock: Callable[[], datetime],
    ) -> None:
        self.config = config
        self._store = store
        self._start_slot = start_slot
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wakeup = asyncio.Event()
        self._next_due: datetime | None = None

    def cron(self, trigger: TriggerDefinition) -> CronSchedule:
        """The trigger's cron in its zone (the scheduler's default zone if it names none)."""
        return CronSchedule(
            expression=str(trigger.config["cron"]),
            timezone=str(trigger.config.get("timezone") or self.config.timezone),
        )

    def next_run(self, trigger: TriggerDefinition) -> datetime | None:
        """The trigger's first slot from now on, or None while it is disabled."""
        return self.cron(trigger).next_after(self._clock()) if trigger.enabled else None

    def wake(self) -> None:
        """Look at the triggers again now (one was added or changed)."""
        self._wakeup.set()

    async def tick(self, now: datetime) -> list[FireOutcome]:
        """Fire every slot due at ``now``, for every enabled schedule trigger."""
        outcomes: list[FireOutcome] = []
        upcoming: list[datetime] = []
        self._next_due = now + self.config.retry_delay  # if the store fails before we know more
        for trigger in await self._store.list_triggers():
            if trigger.type is not TriggerType.SCHEDULE or not trigger.enabled:
                continue
            try:
                fired, next_due = await self._tick_one(trigger, now)
            except StoreError:
                log.exception("schedule trigger %r: the store failed; retrying soon", trigger.id)
                upcoming.append(now + self.config.retry_delay)
                continue
            except (ValueError, FlowMonkeyError):  # one bad trigger must not stop the others
                log.exception("schedule trigger %r could not be fired", trigger.id)
                continue
            outcomes += fired
            upcoming.append(next_due)
        self._next_due = min(upcoming, default=None)
        return outcomes

    async def _tick_one(
        self, trigger: TriggerDefinition, now: datetime
    ) -> tuple[list[FireOutcome], datetime]:
        """Fire ``trigger``'s due slots; returns what fired here and when to look again."""
        misfire = Misfire(trigger.config.get("misfire", Misfire.ONCE))
        plan = plan_due(
            self.cron(trigger),
            next_run_at=trigger.next_run_at,
            now=now,
            misfire=misfire,
            grace=self.config.misfire_grace,
            max_catch_up=self.config.max_catch_up,
        )
        if plan.missed:
            log.warning(
                "schedule trigger %r missed %d slot(s) while no scheduler ran", trigger.id, plan.missed
            )
        outcomes, next_run_at = await self._fire_slots(trigger, plan, misfire)
        await self._save_state(trigger, next_run_at, outcomes)
        if next_run_at <= now:  # a slot to retry: not at once, the store just failed
            return outcomes, now + self.config.retry_delay
        return outcomes, next_run_at

    async def _fire_slots(
        self, trigger: TriggerDefinition, plan: DuePlan, misfire: Misfire
    ) -> tuple[list[FireOutcome], datetime]:
        """Start the plan's slots, oldest first; returns the fires recorded here and the
        new ``next_run_at``: the plan's, or the first slot whose start did not complete."""
        outcomes: list[FireOutcome] = []
        if not plan.slots:
            return outcomes, plan.next_run_at
        horizon = replay_horizon(
            self.cron(trigger),
            plan.slots[-1],
            misfire=misfire,
            grace=self.config.misfire_grace,
            max_catch_up=self.config.max_catch_up,
        )
        for slot in plan.slots:
            ttl = horizon - slot + SLOT_KEY_MARGIN  # the key outlives every retry of the slot
            try:
                outcome = await self._start_slot(trigger, slot, ttl)
            except StoreError:
                log.warning(
                    "schedule trigger %r: the slot of %s could not be started (store error); retrying it",
                    trigger.id,
                    slot.isoformat(),
                    exc_info=True,
                )
                return outcomes, slot
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes, plan.next_run_at

    async def _save_state(
        self, planned: TriggerDefinition, next_run_at: datetime, outcomes: list[FireOutcome]
    ) -> None:
        """Store the new ``next_run_at`` (and the last fire, for display).

        Only if nobody moved ``next_run_at`` since this tick read the trigger: another
        instance that got there first already stored the same value, and an edit that
        rescheduled the trigger must win. The re-read keeps the window of a lost concurrent
        edit to the gap between this read and the write; closing it needs a conditional
        update in the store.
        """
        fresh = await self._store.get_trigger(planned.id)
        if fresh is None:
            return
        changes: dict[str, Any] = {}
        if fresh.next_run_at == planned.next_run_at and next_run_at != planned.next_run_at:
            changes["next_run_at"] = next_run_at
        if outcomes:
            changes.update(last_fired_at=self._clock(), last_status=outcomes[-1].status.value)
        if changes:
            await self._store.save_trigger(replace(fresh, **changes))

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
                await self.tick(self._clock())
            except Exception:  # the loop must outlive a store hiccup
                log.exception("scheduler tick failed; retrying after the next sleep")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._sleep_seconds())

    def _sleep_seconds(self) -> float:
        """Until the next due slot, at most ``max_sleep`` (to see other processes' triggers)."""
        cap = self.config.max_sleep.total_seconds()
        if self._next_due is None:
            return cap
        return min(max((self._next_due - self._clock()).total_seconds(), 0.0), cap)

"""Starting a trigger's flow, and recording every fire.

:class:`FlowStarter` is the one place a payload is checked against a trigger's
``inputSchema`` and the one place a fire is recorded (``Store.record_fire``) and published
(``trigger.fired`` / ``trigger.failed``), whether it started an execution, failed, or was
rejected. It knows the engine only as the ``create`` function it calls.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from flowmonkey.engine import DEFAULT_IDEMPOTENCY_TTL
from flowmonkey.errors import FlowMonkeyError, StoreError
from flowmonkey.events import Event, EventBus, EventType
from flowmonkey.ids import new_id
from flowmonkey.model import TriggerDefinition, TriggerFire
from flowmonkey.stores.base import CreateResult, TriggerStore
from flowmonkey.triggers.outcomes import (
    NO_PAYLOAD,
    FireOutcome,
    FireStatus,
    failed_outcome,
    ok_outcome,
    rejected_outcome,
)
from flowmonkey.triggers.payloads import schema_errors, starting_context
from flowmonkey.triggers.schedule import slot_key

log = logging.getLogger("flowmonkey.triggers")


class CreateExecution(Protocol):
    """What :meth:`Engine.create` offers a trigger: start a flow, idempotently."""

    def __call__(
        self,
        flow_id: str,
        context: dict[str, Any],
        *,
        version: str | None,
        idempotency_key: str | None,
        idempotency_ttl: timedelta,
        metadata: dict[str, Any],
    ) -> Awaitable[CreateResult]: ...


class FlowStarter:
    """Starts triggers' flows through ``create`` and records each fire in ``fires``.

    Args:
        create: starts an execution (``engine.create``).
        fires: where fires are recorded and slots claimed.
        events: where ``trigger.fired`` / ``trigger.failed`` are published.
        clock: the time of a fire.
    """

    def __init__(
        self, *, create: CreateExecution, fires: TriggerStore, events: EventBus, clock: Callable[[], datetime]
    ) -> None:
        self._create_execution = create
        self._fires = fires
        self._events = events
        self._clock = clock
        self.counts: Counter[str] = Counter()
        """Fires seen by this instance, by status."""

    async def start(
        self, trigger: TriggerDefinition, payload: Any = NO_PAYLOAD, idempotency_key: str | None = None
    ) -> FireOutcome:
        """Start ``trigger``'s flow with ``payload`` at its ``contextKey``; record the fire.

        A payload that breaks the trigger's ``inputSchema`` is rejected (outcome details:
        every error with its path); JSON ``null`` is a payload, ``NO_PAYLOAD`` is none.
        """
        started = time.perf_counter()
        errors = (
            schema_errors(trigger.config.get("inputSchema"), payload) if payload is not NO_PAYLOAD else []
        )
        if errors:
            message = f"payload does not match the inputSchema of trigger {trigger.id!r}"
            return await self.record(trigger, rejected_outcome(trigger.id, message, errors), started)
        try:
            execution, created = await self._create(trigger, payload, idempotency_key, slot_at=None)
        except (FlowMonkeyError, ValueError) as exc:
            return await self.record(trigger, failed_outcome(trigger.id, exc, None), started)
        return await self.record(trigger, ok_outcome(trigger.id, execution.id, created, None), started)

    async def start_slot(
        self, trigger: TriggerDefinition, slot_at: datetime, key_ttl: timedelta
    ) -> FireOutcome | None:
        """Start the run of schedule slot ``slot_at``, exactly once across instances and retries.

        The execution's idempotency key (:func:`slot_key`, kept ``key_ttl``) is the guard:
        instances racing for the slot, and a retry after a crash, converge on one execution.
        Only the call that created it records the fire and returns it; the others get None.

        Raises:
            StoreError: whether the execution was created is unknown; retry the slot.
        """
        started = time.perf_counter()
        key = slot_key(trigger.id, slot_at)
        try:
            execution, created = await self._create(trigger, NO_PAYLOAD, key, slot_at=slot_at, ttl=key_ttl)
        except StoreError:
            raise
        except (FlowMonkeyError, ValueError) as exc:
            # No execution to converge on: the slot's claim makes its failure recorded once.
            if not await self._fires.claim_slot(trigger_id=trigger.id, slot_at=slot_at):
                return None
            return await self.record(trigger, failed_outcome(trigger.id, exc, slot_at), started)
        if not created:
            return None
        return await self.record(trigger, ok_outcome(trigger.id, execution.id, created, slot_at), started)

    async def reject(self, trigger: TriggerDefinition, message: str, details: Any = None) -> FireOutcome:
        """Record a refused request (bad auth, size, disabled ...)."""
        return await self.record(trigger, rejected_outcome(trigger.id, message, details), time.perf_counter())

    async def _create(
        self,
        trigger: TriggerDefinition,
        payload: Any,
        idempotency_key: str | None,
        *,
        slot_at: datetime | None,
        ttl: timedelta = DEFAULT_IDEMPOTENCY_TTL,
    ) -> CreateResult:
        context = starting_context(trigger.config, payload, include_payload=payload is not NO_PAYLOAD)
        return await self._create_execution(
            trigger.flow_id,
            context,
            version=trigger.flow_version,
            idempotency_key=idempotency_key,
            idempotency_ttl=ttl,
            metadata=_metadata(trigger, slot_at),
        )

    async def record(self, trigger: TriggerDefinition, outcome: FireOutcome, started: float) -> FireOutcome:
        """Persist ``outcome`` in the trigger's history and publish it as an event.

        Recording is best effort: the execution (if any) already exists, so a store error
        here is logged rather than turned into a failure the sender would retry. The trigger
        itself is not rewritten, so a fire cannot undo a concurrent edit.
        """
        now = self._clock()
        fire = TriggerFire(
            id=new_id(int(now.timestamp() * 1000)),
            trigger_id=trigger.id,
            fired_at=now,
            status=outcome.status.value,
            duration_ms=(time.perf_counter() - started) * 1000,
            execution_id=outcome.execution_id,
            error=outcome.error,
            slot_at=outcome.slot_at,
        )
        self.counts[outcome.status.value] += 1
        self._publish(trigger, outcome, now)
        try:
            await self._fires.record_fire(fire)
        except StoreError:
            log.exception("could not record a fire of trigger %r", trigger.id)
        return outcome

    def _publish(self, trigger: TriggerDefinition, outcome: FireOutcome, now: datetime) -> None:
        if not self._events.active:
            return
        kind = EventType.TRIGGER_FIRED if outcome.status is FireStatus.OK else EventType.TRIGGER_FAILED
        data: dict[str, Any] = {
            "trigger_id": trigger.id,
            "trigger_type": trigger.type.value,
            "status": outcome.status.value,
            "created": outcome.created,
        }
        if outcome.error:
            data["error"] = outcome.error
        if outcome.slot_at:
            data["slot_at"] = outcome.slot_at.isoformat()
        self._events.emit(
            Event(type=kind, at=now, execution_id=outcome.execution_id, flow_id=trigger.flow_id, data=data)
        )


def _metadata(trigger: TriggerDefinition, slot_at: datetime | None) -> dict[str, Any]:
    info: dict[str, Any] = {"id": trigger.id, "type": trigger.type.value}
    if slot_at is not None:
        info["slotAt"] = slot_at.isoformat()
    return {"trigger": info}

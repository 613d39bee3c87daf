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

from flowmonkey import jsonvalues
from flowmonkey.engine import DEFAULT_IDEMPOTENCY_TTL
from flowmonkey.errors import ConflictError, FlowMonkeyError, StoreError
from flowmonkey.events import Event, EventBus, EventType
from flowmonkey.ids import new_id
from flowmonkey.model import TriggerDefinition, TriggerFire, WebhookSignature
from flowmonkey.observers import Observer
from flowmonkey.stores.base import CreateResult, TriggerStore
from flowmonkey.triggers.config import context_key
from flowmonkey.triggers.outcomes import (
    NO_PAYLOAD,
    FireOutcome,
    FireStatus,
    failed_outcome,
    ok_outcome,
    rejected_outcome,
)
from flowmonkey.triggers.payloads import starting_context
from flowmonkey.triggers.schedule import slot_key
from flowmonkey.triggers.signatures import Signature

log = logging.getLogger("flowmonkey.triggers")

CLAIM_TIMEOUT = timedelta(seconds=30)
"""A signature claimed by a delivery that never said what it started (its process died, or
the store failed) may be claimed again after this; starting a flow takes milliseconds."""


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
        fires: where fires are recorded, slots claimed and webhook signatures kept.
        events: where ``trigger.fired`` / ``trigger.failed`` are published.
        clock: the time of a fire.
    """

    def __init__(
        self, *, create: CreateExecution, fires: TriggerStore, events: EventBus, clock: Callable[[], datetime]
    ) -> None:
        self._create_execution = create
        self._fires = self._signatures = fires
        self._events = events
        self._clock = clock
        self.counts: Counter[str] = Counter()
        """Fires seen by this instance, by status."""
        self.observer: Callable[[], Observer | None] = lambda: None
        """The observer told of each fire (the engine's, looked up at each fire)."""

    async def start(
        self,
        trigger: TriggerDefinition,
        payload: Any = NO_PAYLOAD,
        idempotency_key: str | None = None,
        /,
        *,
        signature: Signature | None = None,
    ) -> FireOutcome:
        """Start ``trigger``'s flow with ``payload`` at its ``contextKey``; record the fire.

        A payload that breaks the trigger's ``inputSchema`` is rejected (outcome details:
        every error with its path); JSON ``null`` is a payload, ``NO_PAYLOAD`` is none.
        With a webhook's ``signature``, a signature seen before is an idempotent repeat: the
        outcome names the execution its first delivery started, and nothing is created.
        """
        started = time.perf_counter()
        rejected = _rejection(trigger, payload)
        if rejected is not None:
            return await self.record(trigger, rejected, started)
        try:
            if signature is None:
                execution, created = await self._create(trigger, payload, idempotency_key, slot_at=None)
                outcome = ok_outcome(trigger.id, execution.id, created, None)
            else:
                outcome = await self._start_signed(trigger, payload, idempotency_key, signature)
        except (FlowMonkeyError, ValueError) as exc:
            outcome = failed_outcome(trigger.id, exc, None)
        return await self.record(trigger, outcome, started)

    async def _start_signed(
        self, trigger: TriggerDefinition, payload: Any, idempotency_key: str | None, signature: Signature
    ) -> FireOutcome:
        """Claim the signature in the seen-set, then start the flow; a redelivery finds the claim.

        Without an ``Idempotency-Key`` the signature is the execution's key as well, so a
        redelivery after a create whose answer was lost (the claim then dropped) still
        converges on the one execution.
        """
        now = self._clock()
        seen = WebhookSignature(
            trigger_id=trigger.id, signature=signature.value, seen_at=now, expires_at=signature.valid_until
        )
        holder = await self._signatures.claim_signature(seen, abandoned_before=now - CLAIM_TIMEOUT)
        if holder is not None:
            return _repeat(trigger, holder)
        key = idempotency_key or f"webhook:{trigger.id}:{signature.value[:32]}"
        try:
            execution, created = await self._create(trigger, payload, key, slot_at=None)
        except BaseException:
            await self._settle(seen, None)  # a redelivery may try again
            raise
        await self._settle(seen, execution.id)
        return ok_outcome(trigger.id, execution.id, created, None)

    async def _settle(self, seen: WebhookSignature, execution_id: str | None) -> None:
        """Record what the claimed signature started (or drop the claim); best effort: an
        unsettled claim is abandoned after :data:`CLAIM_TIMEOUT`."""
        try:
            await self._signatures.settle_signature(
                trigger_id=seen.trigger_id, signature=seen.signature, execution_id=execution_id
            )
        except StoreError:
            log.warning(
                "could not settle a signature of trigger %r; it is free again after %s",
                seen.trigger_id,
                CLAIM_TIMEOUT,
            )

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
        observer = self.observer()
        if observer is not None:
            _observe(observer, outcome, now)
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


def _observe(observer: Observer, outcome: FireOutcome, now: datetime) -> None:
    label = "duplicate" if outcome.status is FireStatus.OK and not outcome.created else outcome.status.value
    observer.trigger_fired(outcome.trigger_id, label)
    if outcome.slot_at is not None and outcome.created:
        observer.schedule_lateness(outcome.trigger_id, (now - outcome.slot_at).total_seconds())


def _rejection(trigger: TriggerDefinition, payload: Any) -> FireOutcome | None:
    """The outcome of a payload the trigger cannot take (its schema, or the shape its
    ``contextKey`` needs), or None."""
    if payload is NO_PAYLOAD:
        return None
    errors = jsonvalues.schema_errors(trigger.config.get("inputSchema"), payload)
    if errors:
        message = f"payload does not match the inputSchema of trigger {trigger.id!r}"
        return rejected_outcome(trigger.id, message, errors)
    if context_key(trigger.config) is None and not isinstance(payload, dict):
        message = f"trigger {trigger.id!r} merges its payload into the context, so it must be a JSON object"
        return rejected_outcome(trigger.id, message, [{"path": "$", "message": "is not an object"}])
    return None


def _repeat(trigger: TriggerDefinition, holder: WebhookSignature) -> FireOutcome:
    """A redelivery: the execution its first delivery started, or (still starting) a conflict."""
    if holder.execution_id is not None:
        return ok_outcome(trigger.id, holder.execution_id, False, None)
    busy = ConflictError(
        f"a delivery with this signature to trigger {trigger.id!r} is still starting its flow"
    )
    return failed_outcome(trigger.id, busy, None)


def _metadata(trigger: TriggerDefinition, slot_at: datetime | None) -> dict[str, Any]:
    info: dict[str, Any] = {"id": trigger.id, "type": trigger.type.value}
    if slot_at is not None:
        info["slotAt"] = slot_at.isoformat()
    return {"trigger": info}

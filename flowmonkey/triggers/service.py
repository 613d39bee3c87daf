"""``TriggerService``: HTTP webhooks, cron schedules and named events that start flows.

Triggers live in the store, so every instance sharing it sees the same set. Each start of a
flow goes through :meth:`Engine.create` (which wakes in-process runtimes) and is recorded
with ``Store.record_fire`` and a ``trigger.fired`` / ``trigger.failed`` event, whether it
started an execution, failed, or was rejected.

    service = TriggerService(store, engine, http=HttpTriggers(app=app), schedule=ScheduleConfig())
    await service.register("nightly", type="schedule", flow_id="report",
                           config={"cron": "0 2 * * *", "timezone": "Europe/Paris"})
    await service.start()          # the scheduler loop; stop() ends it
"""

from __future__ import annotations

import builtins
import logging
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flowmonkey.engine import DEFAULT_IDEMPOTENCY_TTL, Engine
from flowmonkey.errors import ErrorCode, FlowMonkeyError, NotWaitingError, StoreError
from flowmonkey.events import Event, EventType
from flowmonkey.ids import new_id
from flowmonkey.model import Execution, TriggerDefinition, TriggerFire, TriggerType
from flowmonkey.stores.base import CreateResult, Store
from flowmonkey.triggers.config import FLOW_HASH_KEY, TriggerError, check_id, parse_type, validate_config
from flowmonkey.triggers.events import listeners
from flowmonkey.triggers.http import HttpTriggers, build_app, mount_routes
from flowmonkey.triggers.outcomes import (
    NO_PAYLOAD,
    FireOutcome,
    FireStatus,
    TriggerStats,
    failed_outcome,
    ok_outcome,
    rejected_outcome,
)
from flowmonkey.triggers.payloads import schema_errors, starting_context
from flowmonkey.triggers.schedule import CronSchedule, ScheduleConfig, slot_key
from flowmonkey.triggers.scheduler import Scheduler
from flowmonkey.triggers.sync import FlowSync
from flowmonkey.triggers.tokens import DEFAULT_RESUME_TOKEN_TTL, sign_resume_token, verify_resume_token

if TYPE_CHECKING:
    from starlette.applications import Starlette

log = logging.getLogger("flowmonkey.triggers")


class TriggerService:
    """Registers triggers in the store and starts flows when they fire.

    Args:
        store: where triggers, slots and fire history live (shared by all instances).
        engine: creates the executions.
        http: where webhook routes go; ``None`` means none until :meth:`asgi_app` is used.
        schedule: the scheduler's settings; ``None`` turns the scheduler off.
        clock: the current time (defaults to ``engine.now``).
        secret: signs resume tokens; instances that accept each other's tokens need the
            same one. Defaults to ``FLOWMONKEY_SECRET``, else a random per-process secret.
        resume_token_ttl: how long a resume token works (``None``: for ever).
        sync_flows: register the triggers that flows declare, as flows are (re)loaded.
    """

    def __init__(
        self,
        store: Store,
        engine: Engine,
        *,
        http: HttpTriggers | None = None,
        schedule: ScheduleConfig | None = ScheduleConfig(),
        clock: Callable[[], datetime] | None = None,
        secret: str | bytes | None = None,
        resume_token_ttl: timedelta | None = DEFAULT_RESUME_TOKEN_TTL,
        sync_flows: bool = True,
    ) -> None:
        self.store = store
        self.engine = engine
        self.http = http
        self.schedule = schedule
        self._clock = clock or engine.now
        self._secret = _secret_bytes(secret)
        self.resume_token_ttl = resume_token_ttl
        self._counts: Counter[str] = Counter()
        self._served = False
        self.scheduler = Scheduler(self)
        self.flow_sync = FlowSync(self)
        if sync_flows:
            self.flow_sync.attach()
        if http is not None and http.app is not None:
            mount_routes(self, http.app, http)
            self._served = True

    def now(self) -> datetime:
        return self._clock()

    # -- registration -----------------------------------------------------------------

    async def register(
        self,
        trigger_id: str,
        *,
        type: TriggerType | str,
        flow_id: str,
        config: Mapping[str, Any] | None = None,
        enabled: bool = True,
        flow_version: str | None = None,
        source: str | None = None,
    ) -> TriggerDefinition:
        """Add a trigger; raises :class:`TriggerError` if the id is taken or the config is bad."""
        if await self.store.get_trigger(trigger_id) is not None:
            raise TriggerError(f"trigger {trigger_id!r} already exists; update or delete it first")
        trigger_type = parse_type(type, f"trigger {trigger_id!r}")
        now = self.now()
        trigger = TriggerDefinition(
            id=check_id(trigger_id),
            type=trigger_type,
            flow_id=flow_id,
            flow_version=flow_version,
            enabled=enabled,
            config=validate_config(trigger_type, config or {}, where=f"trigger {trigger_id!r}"),
            source=source,
            created_at=now,
            updated_at=now,
        )
        return await self.save(trigger, reschedule=True)

    async def update(
        self,
        trigger_id: str,
        *,
        config: Mapping[str, Any] | None = None,
        enabled: bool | None = None,
        flow_id: str | None = None,
        flow_version: str | None = None,
    ) -> TriggerDefinition:
        """Change a trigger's config, flow or enabled state (``None`` keeps a field)."""
        trigger = await self._require(trigger_id)
        changes: dict[str, Any] = {"updated_at": self.now()}
        if config is not None:
            changes["config"] = validate_config(trigger.type, config, where=f"trigger {trigger_id!r}")
        if enabled is not None:
            changes["enabled"] = enabled
        if flow_id is not None:
            changes["flow_id"] = flow_id
        if flow_version is not None:
            changes["flow_version"] = flow_version
        return await self.save(replace(trigger, **changes), reschedule=True)

    async def enable(self, trigger_id: str) -> TriggerDefinition:
        """Let the trigger fire again; a schedule restarts from now (no catch-up)."""
        return await self.update(trigger_id, enabled=True)

    async def disable(self, trigger_id: str) -> TriggerDefinition:
        """Stop the trigger firing (webhooks answer 403) until it is enabled again."""
        return await self.update(trigger_id, enabled=False)

    async def delete(self, trigger_id: str) -> bool:
        """Remove the trigger (its fire history stays); False if it did not exist."""
        return await self.store.delete_trigger(trigger_id)

    async def get(self, trigger_id: str) -> TriggerDefinition | None:
        return await self.store.get_trigger(trigger_id)

    async def list(self, type: TriggerType | str | None = None) -> builtins.list[TriggerDefinition]:
        """Every trigger (of ``type``), by id."""
        triggers = await self.store.list_triggers()
        if type is None:
            return triggers
        wanted = parse_type(type, "list")
        return [t for t in triggers if t.type is wanted]

    async def history(self, trigger_id: str, *, limit: int = 50) -> builtins.list[TriggerFire]:
        """The trigger's fires, newest first."""
        return await self.store.trigger_history(trigger_id, limit=limit)

    async def last_fire(self, trigger_id: str) -> TriggerFire | None:
        """The trigger's latest fire (its time, status and execution), or None if it never fired.

        Use this rather than ``TriggerDefinition.last_fired_at`` (which only schedules keep):
        recording a fire never rewrites the trigger, so it cannot undo a concurrent edit.
        """
        fires = await self.store.trigger_history(trigger_id, limit=1)
        return fires[0] if fires else None

    async def stats(self) -> TriggerStats:
        triggers = await self.store.list_triggers()
        runs = [t.next_run_at for t in triggers if t.enabled and t.next_run_at is not None]
        return TriggerStats(
            total=len(triggers),
            enabled=sum(t.enabled for t in triggers),
            by_type=dict(Counter(t.type.value for t in triggers)),
            fires={status.value: self._counts[status.value] for status in FireStatus},
            next_run_at=min(runs, default=None),
        )

    async def _require(self, trigger_id: str) -> TriggerDefinition:
        trigger = await self.store.get_trigger(trigger_id)
        if trigger is None:
            raise TriggerError(f"no trigger {trigger_id!r}", code=ErrorCode.TRIGGER_NOT_FOUND)
        return trigger

    async def save(self, trigger: TriggerDefinition, *, reschedule: bool) -> TriggerDefinition:
        """Store ``trigger`` as is (no validation); ``reschedule`` recomputes its next slot."""
        if trigger.type is TriggerType.SCHEDULE and reschedule:
            upcoming = self.cron(trigger).next_after(self.now()) if trigger.enabled else None
            trigger = replace(trigger, next_run_at=upcoming)
        trigger = await self._with_flow_hash(trigger)
        await self.store.save_trigger(trigger)
        self._warn_if_unserved(trigger)
        self.scheduler.wake()
        return trigger

    async def _with_flow_hash(self, trigger: TriggerDefinition) -> TriggerDefinition:
        """Remember the definition the trigger starts (and store it), so another process
        (``flowmonkey emit``) can start it from the store alone, without the flow files."""
        try:
            flow = self.engine.flows.get(trigger.flow_id, trigger.flow_version)
        except FlowMonkeyError:
            return trigger
        if trigger.config.get(FLOW_HASH_KEY) == flow.hash:
            return trigger
        await self.store.save_definition(flow)
        return replace(trigger, config={**trigger.config, FLOW_HASH_KEY: flow.hash})

    def _warn_if_unserved(self, trigger: TriggerDefinition) -> None:
        if not trigger.enabled:
            return
        if trigger.type is TriggerType.HTTP and not self._served:
            log.warning(
                "HTTP trigger %r will not receive requests: this TriggerService has no web app. "
                "Pass http=HttpTriggers(app=your_starlette_or_fastapi_app), mount service.asgi_app(), "
                "or run `flowmonkey worker --http 127.0.0.1:8080`",
                trigger.id,
            )
        if trigger.type is TriggerType.SCHEDULE and not self.scheduler_enabled:
            log.warning(
                "schedule trigger %r will not fire: the scheduler is off. Pass "
                "schedule=ScheduleConfig(enabled=True) to TriggerService and call start()",
                trigger.id,
            )

    # -- firing -----------------------------------------------------------------------

    async def fire(
        self, trigger_id: str, payload: Any = NO_PAYLOAD, *, idempotency_key: str | None = None
    ) -> FireOutcome:
        """Fire a trigger by hand (even a disabled one): start its flow with ``payload``
        (without one, the context is just the trigger's ``staticContext``)."""
        trigger = await self._require(trigger_id)
        return await self.start_flow(trigger, payload, idempotency_key=idempotency_key)

    async def start_flow(
        self,
        trigger: TriggerDefinition,
        payload: Any = NO_PAYLOAD,
        *,
        idempotency_key: str | None = None,
        slot_at: datetime | None = None,
        checked: bool = False,
    ) -> FireOutcome:
        """Start ``trigger``'s flow with ``payload`` at its ``contextKey``; record the fire.

        The payload is checked against the trigger's ``inputSchema`` unless ``checked``
        says the caller already did (JSON ``null`` is a payload; ``NO_PAYLOAD`` is none).
        """
        started = time.perf_counter()
        has_payload = payload is not NO_PAYLOAD
        schema = trigger.config.get("inputSchema")
        errors = schema_errors(schema, payload) if has_payload and not checked else []
        if errors:
            outcome = rejected_outcome(trigger.id, "payload does not match the trigger's inputSchema", errors)
            return await self.record(trigger, outcome, started)
        try:
            execution, created = await self._create(trigger, payload, idempotency_key, slot_at=slot_at)
        except (FlowMonkeyError, ValueError) as exc:
            return await self.record(trigger, failed_outcome(trigger.id, exc, slot_at), started)
        return await self.record(trigger, ok_outcome(trigger.id, execution.id, created, slot_at), started)

    async def start_slot(
        self, trigger: TriggerDefinition, slot_at: datetime, *, key_ttl: timedelta
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
            if not await self.store.claim_slot(trigger_id=trigger.id, slot_at=slot_at):
                return None
            return await self.record(trigger, failed_outcome(trigger.id, exc, slot_at), started)
        if not created:
            return None
        return await self.record(trigger, ok_outcome(trigger.id, execution.id, created, slot_at), started)

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
        return await self.engine.create(
            trigger.flow_id,
            context,
            version=trigger.flow_version,
            idempotency_key=idempotency_key,
            idempotency_ttl=ttl,
            metadata=_metadata(trigger, slot_at),
        )

    async def reject(self, trigger: TriggerDefinition, message: str, details: Any = None) -> FireOutcome:
        """Record a refused request (bad auth, schema, size, disabled ...)."""
        return await self.record(trigger, rejected_outcome(trigger.id, message, details), time.perf_counter())

    async def record(self, trigger: TriggerDefinition, outcome: FireOutcome, started: float) -> FireOutcome:
        """Persist ``outcome`` in the trigger's history and publish it as an event.

        Recording is best effort: the execution (if any) already exists, so a store error
        here is logged rather than turned into a failure the sender would retry. The trigger
        itself is not rewritten (see :meth:`last_fire`).
        """
        now = self.now()
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
        self._counts[outcome.status.value] += 1
        self._publish(trigger, outcome, now)
        try:
            await self.store.record_fire(fire)
        except FlowMonkeyError:
            log.exception("could not record a fire of trigger %r", trigger.id)
        return outcome

    def _publish(self, trigger: TriggerDefinition, outcome: FireOutcome, now: datetime) -> None:
        if not self.engine.events.active:
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
        self.engine.events.emit(
            Event(type=kind, at=now, execution_id=outcome.execution_id, flow_id=trigger.flow_id, data=data)
        )

    # -- events -----------------------------------------------------------------------

    async def emit(
        self, name: str, payload: Any = None, *, idempotency_key: str | None = None
    ) -> builtins.list[FireOutcome]:
        """Start every enabled flow listening for event ``name`` whose filter ``payload`` passes.

        With ``idempotency_key``, emitting the same event again starts nothing new.
        """
        chosen = listeners(await self.store.list_triggers(), name, payload)
        return [
            await self.start_flow(trigger, payload, idempotency_key=_event_key(idempotency_key, trigger))
            for trigger in chosen
        ]

    # -- schedule ---------------------------------------------------------------------

    @property
    def scheduler_enabled(self) -> bool:
        return self.schedule is not None and self.schedule.enabled

    def cron(self, trigger: TriggerDefinition) -> CronSchedule:
        """The trigger's cron in its zone (the scheduler's default zone if it names none)."""
        default_zone = self.schedule.timezone if self.schedule else "UTC"
        return CronSchedule(
            expression=str(trigger.config["cron"]),
            timezone=str(trigger.config.get("timezone") or default_zone),
        )

    async def tick(self, now: datetime | None = None) -> builtins.list[FireOutcome]:
        """Fire every schedule slot due at ``now`` (default: the clock); tests call this."""
        return await self.scheduler.tick(now or self.now())

    async def start(self) -> None:
        """Register the triggers of the flows already loaded and start the scheduler loop."""
        self.flow_sync.attach()
        await self.flow_sync.sync_all()
        if self.scheduler_enabled:
            self.scheduler.start()

    async def stop(self) -> None:
        """Stop the scheduler loop (a fire in progress finishes first)."""
        self.flow_sync.detach()
        await self.flow_sync.settle()
        await self.scheduler.stop()

    # -- resume tokens and HTTP -------------------------------------------------------

    def resume_token(
        self, execution_id: str, step_id: str | None = None, *, ttl: timedelta | None = None
    ) -> str:
        """A token for ``POST {base}/resume/{token}`` that resumes this execution (at ``step_id``).

        It expires ``ttl`` from now (default: the service's ``resume_token_ttl``).
        """
        ttl = self.resume_token_ttl if ttl is None else ttl
        expires_at = self.now() + ttl if ttl is not None else None
        return sign_resume_token(self._secret, execution_id, step_id, expires_at=expires_at)

    async def resume_with_token(self, token: str, data: Any = None) -> Execution:
        """Resume the execution a genuine token names.

        Raises:
            ExpiredTokenError: the token is genuine but expired.
            InvalidTokenError: the token is forged or malformed.
            ExecutionNotFoundError, NotWaitingError: as :meth:`Engine.resume`.
        """
        target = verify_resume_token(self._secret, token, now=self.now())
        execution = await self.engine.get(target.execution_id)
        if execution is not None and target.step_id and execution.current_step_id != target.step_id:
            raise NotWaitingError(
                f"execution {execution.id} is at step {execution.current_step_id!r}, "
                f"not {target.step_id!r} that this token resumes"
            )
        return await self.engine.resume(target.execution_id, data)

    def asgi_app(self, base_path: str | None = None) -> Starlette:
        """A standalone Starlette app serving the webhook routes (mount it, or serve it)."""
        http = self.http or HttpTriggers()
        self._served = True
        return build_app(
            self, replace(http, base_path=base_path if base_path is not None else http.base_path)
        )


def _metadata(trigger: TriggerDefinition, slot_at: datetime | None) -> dict[str, Any]:
    info: dict[str, Any] = {"id": trigger.id, "type": trigger.type.value}
    if slot_at is not None:
        info["slotAt"] = slot_at.isoformat()
    return {"trigger": info}


def _event_key(key: str | None, trigger: TriggerDefinition) -> str | None:
    return f"event:{trigger.id}:{key}" if key is not None else None


def _secret_bytes(secret: str | bytes | None) -> bytes:
    secret = secret or os.environ.get("FLOWMONKEY_SECRET")
    if not secret:
        log.debug("no FLOWMONKEY_SECRET: resume tokens are valid in this process only")
        return secrets.token_bytes(32)
    return secret.encode() if isinstance(secret, str) else secret

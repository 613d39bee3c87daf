"""``TriggerService``: HTTP webhooks, cron schedules and named events that start flows.

The service is a facade over parts that each get only what they use:

* :class:`~flowmonkey.triggers.catalog.TriggerCatalog`: the triggers in the store;
* :class:`~flowmonkey.triggers.firing.FlowStarter`: starts a flow (``engine.create``),
  checks payloads, records every fire;
* :class:`~flowmonkey.triggers.scheduler.Scheduler`: fires due cron slots;
* :class:`~flowmonkey.triggers.sync.FlowSync`: the triggers that flow files declare;
* :class:`~flowmonkey.triggers.resuming.ResumeTokens` and the webhook routes of
  :mod:`flowmonkey.triggers.http`.

    service = TriggerService(store, engine, http=HttpTriggers(app=app), schedule=ScheduleConfig())
    await service.register("nightly", type="schedule", flow_id="report",
                           config={"cron": "0 2 * * *", "timezone": "Europe/Paris"})
    await service.start()          # the scheduler loop; stop() ends it
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flowmonkey.engine import Engine
from flowmonkey.model import Execution, TriggerDefinition, TriggerFire, TriggerType
from flowmonkey.stores.base import Store
from flowmonkey.triggers.catalog import TriggerCatalog
from flowmonkey.triggers.events import listeners
from flowmonkey.triggers.firing import FlowStarter
from flowmonkey.triggers.http import HttpTriggers, WebhookActions, build_app, mount_routes
from flowmonkey.triggers.outcomes import NO_PAYLOAD, FireOutcome, TriggerStats, trigger_stats
from flowmonkey.triggers.resuming import ResumeTokens
from flowmonkey.triggers.schedule import CronSchedule, ScheduleConfig
from flowmonkey.triggers.scheduler import Scheduler
from flowmonkey.triggers.sync import FlowSync
from flowmonkey.triggers.tokens import DEFAULT_RESUME_TOKEN_TTL, Secrets

if TYPE_CHECKING:
    from starlette.applications import Starlette

log = logging.getLogger("flowmonkey.triggers")


class TriggerService:
    """Registers triggers in the store and starts flows when they fire.

    Args:
        store: where triggers, slots and fire history live (shared by all instances).
        engine: creates and resumes the executions; its flows and events drive the sync.
        http: where webhook routes go; ``None`` means none until :meth:`asgi_app` is used.
        schedule: the scheduler's settings; ``None`` turns the scheduler off.
        clock: the current time (defaults to ``engine.now``).
        secret: signs resume tokens; instances that accept each other's tokens need the
            same one (the worker and the console pass ``FLOWMONKEY_SECRET``). Several:
            the first signs, any verifies (to rotate). ``None``: a random per-process secret.
        resume_token_ttl: how long a resume token works (every token expires).
        legacy_tokens_until: resume tokens of the old forms (no expiry, or no step),
            handed out before this version, are refused from then on (``None``: accepted).
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
        secret: Secrets | None = None,
        resume_token_ttl: timedelta = DEFAULT_RESUME_TOKEN_TTL,
        legacy_tokens_until: datetime | None = None,
        sync_flows: bool = True,
    ) -> None:
        self.store = store
        self.engine = engine
        self.http = http
        self.schedule = schedule
        self._clock = clock = clock or engine.now
        self._served = False
        self._starter = FlowStarter(create=engine.create, fires=store, events=engine.events, clock=clock)
        self._starter.observer = lambda: engine.observer
        self.scheduler = Scheduler(
            store, self._starter.start_slot, config=schedule or ScheduleConfig(), clock=clock
        )
        self._catalog = TriggerCatalog(
            store, engine.flows, clock=clock, next_run=self.scheduler.next_run, on_saved=self._saved
        )
        self.flow_sync = FlowSync(
            events=engine.events, flows=engine.flows, triggers=self._catalog, clock=clock
        )
        self._tokens = ResumeTokens(
            get=engine.get,
            resume=engine.resume,
            clock=clock,
            secret=secret,
            ttl=resume_token_ttl,
            legacy_until=legacy_tokens_until,
        )
        self._webhooks = WebhookActions(
            find=self._catalog.find_webhook,
            start=self._starter.start,
            reject=self._starter.reject,
            resume=self._tokens.resume,
            now=clock,
        )
        if sync_flows:
            self.flow_sync.attach()
        if http is not None and http.app is not None:
            mount_routes(self._webhooks, http.app, http)
            self._served = True

    def now(self) -> datetime:
        return self._clock()

    @property
    def resume_token_ttl(self) -> timedelta:
        return self._tokens.ttl

    # -- the triggers -----------------------------------------------------------------

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
        return await self._catalog.register(
            trigger_id,
            type=type,
            flow_id=flow_id,
            config=config,
            enabled=enabled,
            flow_version=flow_version,
            source=source,
        )

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
        return await self._catalog.update(
            trigger_id, config=config, enabled=enabled, flow_id=flow_id, flow_version=flow_version
        )

    async def enable(self, trigger_id: str) -> TriggerDefinition:
        """Let the trigger fire again; a schedule restarts from now (no catch-up)."""
        return await self._catalog.update(trigger_id, enabled=True)

    async def disable(self, trigger_id: str) -> TriggerDefinition:
        """Stop the trigger firing (webhooks answer 403) until it is enabled again."""
        return await self._catalog.update(trigger_id, enabled=False)

    async def delete(self, trigger_id: str) -> bool:
        """Remove the trigger (its fire history stays); False if it did not exist."""
        return await self._catalog.delete(trigger_id)

    async def get(self, trigger_id: str) -> TriggerDefinition | None:
        return await self._catalog.get(trigger_id)

    async def list(self, type: TriggerType | str | None = None) -> builtins.list[TriggerDefinition]:
        """Every trigger (of ``type``), by id."""
        return await self._catalog.list(type)

    async def history(self, trigger_id: str, *, limit: int = 50) -> builtins.list[TriggerFire]:
        """The trigger's fires, newest first."""
        return await self._catalog.history(trigger_id, limit=limit)

    async def last_fire(self, trigger_id: str) -> TriggerFire | None:
        """The trigger's latest fire (its time, status and execution), or None if it never fired.

        Use this rather than ``TriggerDefinition.last_fired_at`` (which only schedules keep):
        recording a fire never rewrites the trigger, so it cannot undo a concurrent edit.
        """
        fires = await self._catalog.history(trigger_id, limit=1)
        return fires[0] if fires else None

    async def stats(self) -> TriggerStats:
        return trigger_stats(await self._catalog.list(), self._starter.counts)

    def _saved(self, trigger: TriggerDefinition) -> None:
        _warn_if_unserved(trigger, http=self._served, schedule=self.scheduler_enabled)
        self.scheduler.wake()

    # -- firing -----------------------------------------------------------------------

    async def fire(
        self, trigger_id: str, payload: Any = NO_PAYLOAD, *, idempotency_key: str | None = None
    ) -> FireOutcome:
        """Fire a trigger by hand (even a disabled one): start its flow with ``payload``
        (without one, the context is just the trigger's ``staticContext``)."""
        trigger = await self._catalog.require(trigger_id)
        return await self._starter.start(trigger, payload, idempotency_key)

    async def emit(
        self, name: str, payload: Any = None, *, idempotency_key: str | None = None
    ) -> builtins.list[FireOutcome]:
        """Start every enabled flow listening for event ``name`` whose filter ``payload`` passes.

        With ``idempotency_key``, emitting the same event again starts nothing new.
        """
        chosen = listeners(await self._catalog.list(), name, payload)
        return [
            await self._starter.start(trigger, payload, _event_key(idempotency_key, trigger))
            for trigger in chosen
        ]

    # -- schedule ---------------------------------------------------------------------

    @property
    def scheduler_enabled(self) -> bool:
        return self.schedule is not None and self.schedule.enabled

    def cron(self, trigger: TriggerDefinition) -> CronSchedule:
        """The trigger's cron in its zone (the scheduler's default zone if it names none)."""
        return self.scheduler.cron(trigger)

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
        self, execution_id: str, step_id: str, *, visit: int, ttl: timedelta | None = None
    ) -> str:
        """A token for ``POST {base}/resume/{token}`` that resumes this execution at the
        wait of ``step_id`` at ``visit`` (``execution.visit``, ``params.visit``), and no
        other wait.

        It expires ``ttl`` from now (default: the service's ``resume_token_ttl``).
        """
        return self._tokens.issue(execution_id, step_id, visit=visit, ttl=ttl)

    async def resume_with_token(self, token: str, data: Any = None) -> Execution:
        """Resume the execution a genuine token names.

        Raises:
            ExpiredTokenError: the token is genuine but expired.
            InvalidTokenError: the token is forged or malformed.
            ExecutionNotFoundError: no such execution.
            NotWaitingError: the execution is not (or no longer) at the token's wait.
        """
        return await self._tokens.resume(token, data)

    def asgi_app(self, base_path: str | None = None) -> Starlette:
        """A standalone Starlette app serving the webhook routes (mount it, or serve it)."""
        http = self.http or HttpTriggers()
        self._served = True
        return build_app(
            self._webhooks, replace(http, base_path=base_path if base_path is not None else http.base_path)
        )


def _event_key(key: str | None, trigger: TriggerDefinition) -> str | None:
    return f"event:{trigger.id}:{key}" if key is not None else None


def _warn_if_unserved(trigger: TriggerDefinition, *, http: bool, schedule: bool) -> None:
    """The seed's warnings: a trigger that cannot fire here says so once it is saved."""
    if not trigger.enabled:
        return
    if trigger.type is TriggerType.HTTP and not http:
        log.warning(
            "HTTP trigger %r will not receive requests: this TriggerService has no web app. "
            "Pass http=HttpTriggers(app=your_starlette_or_fastapi_app), mount service.asgi_app(), "
            "or run `flowmonkey worker --http 127.0.0.1:8080`",
            trigger.id,
        )
    if trigger.type is TriggerType.SCHEDULE and not schedule:
        log.warning(
            "schedule trigger %r will not fire: the scheduler is off. Pass "
            "schedule=ScheduleConfig(enabled=True) to TriggerService and call start()",
            trigger.id,
        )

"""The parts behind ``TriggerService`` work with only the collaborators they are given:
no service, no engine behind them, just a store and a few functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from flowmonkey import Execution, Flow, FlowRegistry, MemoryStore
from flowmonkey.events import EventBus
from flowmonkey.model import TriggerDefinition, TriggerType
from flowmonkey.triggers import NO_PAYLOAD, FireOutcome, FireStatus, ScheduleConfig
from flowmonkey.triggers.catalog import TriggerCatalog
from flowmonkey.triggers.http import HttpTriggers, WebhookActions, build_app
from flowmonkey.triggers.scheduler import Scheduler
from flowmonkey.triggers.signatures import Signature
from flowmonkey.triggers.sync import FlowSync
from tests.unit.conftest import FakeClock
from tests.unit.helpers import chain

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def minutely(next_run_at: datetime) -> TriggerDefinition:
    return TriggerDefinition(
        id="minutely",
        type=TriggerType.SCHEDULE,
        flow_id="orders",
        config={"cron": "* * * * *"},
        next_run_at=next_run_at,
        created_at=START,
        updated_at=START,
    )


async def test_the_scheduler_needs_only_a_store_and_a_way_to_start_a_slot() -> None:
    store = MemoryStore()
    slot = START + timedelta(minutes=1)
    await store.save_trigger(minutely(slot))
    started: list[tuple[str, datetime, timedelta]] = []

    async def start_slot(trigger: TriggerDefinition, slot_at: datetime, ttl: timedelta) -> FireOutcome:
        started.append((trigger.id, slot_at, ttl))
        return FireOutcome(trigger_id=trigger.id, status=FireStatus.OK, execution_id="e-1", slot_at=slot_at)

    scheduler = Scheduler(store, start_slot, config=ScheduleConfig(), clock=FakeClock(slot))
    [fired] = await scheduler.tick(slot + timedelta(seconds=5))

    assert fired.slot_at == slot and [(t, s) for t, s, _ in started] == [("minutely", slot)]
    assert started[0][2] > timedelta(minutes=1)  # the slot's key outlives its replays
    stored = await store.get_trigger("minutely")
    assert stored is not None and stored.next_run_at == slot + timedelta(minutes=1)


async def test_flow_sync_writes_declared_triggers_through_a_catalog_alone() -> None:
    store, clock = MemoryStore(), FakeClock(START)
    saved: list[TriggerDefinition] = []
    flows = FlowRegistry(
        [Flow.from_dict({**chain("orders", ["echo"]), "triggers": [{"id": "in", "type": "http"}]})]
    )
    catalog = TriggerCatalog(store, flows, clock=clock, next_run=lambda t: None, on_saved=saved.append)
    sync = FlowSync(events=EventBus(), flows=flows, triggers=catalog, clock=clock)

    report = await sync.sync_flow(flows.get("orders"), source="flows/orders.yaml")

    assert report.added == ["in"] and [t.id for t in saved] == ["in"]
    stored = await store.get_trigger("in")
    assert stored is not None and stored.source == "flows/orders.yaml"
    assert stored.config["flowHash"] == flows.get("orders").hash


async def test_webhook_routes_run_on_plain_functions() -> None:
    hook = TriggerDefinition(
        id="hook", type=TriggerType.HTTP, flow_id="orders", created_at=START, updated_at=START
    )
    payloads: list[Any] = []

    async def find(key: str) -> TriggerDefinition | None:
        return hook if key == "hook" else None

    async def start(
        trigger: TriggerDefinition, payload: Any, key: str | None, /, *, signature: Signature | None = None
    ) -> FireOutcome:
        payloads.append(payload)
        if payload is NO_PAYLOAD or payload.get("ok") is not True:
            errors = [{"path": "$.ok", "message": "True was expected"}]
            return FireOutcome(trigger_id=trigger.id, status=FireStatus.REJECTED, error="bad", details=errors)
        return FireOutcome(trigger_id=trigger.id, status=FireStatus.OK, execution_id="e-1", created=True)

    async def reject(trigger: TriggerDefinition, message: str, details: Any) -> FireOutcome:
        return FireOutcome(trigger_id=trigger.id, status=FireStatus.REJECTED, error=message)

    async def resume(token: str, data: Any) -> Execution:
        raise AssertionError("no resume in this test")

    app = build_app(WebhookActions(find=find, start=start, reject=reject, resume=resume), HttpTriggers())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        good = await client.post("/webhooks/hook", json={"ok": True})
        bad = await client.post("/webhooks/hook", json={"ok": 1})
        missing = await client.post("/webhooks/nope", json={})

    assert (good.status_code, good.json()) == (201, {"executionId": "e-1"})
    assert (bad.status_code, bad.json()) == (
        400,
        {"error": "bad", "errors": [{"path": "$.ok", "message": "True was expected"}]},
    )
    assert missing.status_code == 404 and payloads == [{"ok": True}, {"ok": 1}]

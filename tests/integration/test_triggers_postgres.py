"""Triggers on the real stores: two schedulers sharing PostgreSQL, misfire policies on every
store, webhooks on PostgreSQL, and ``flowmonkey emit`` from another process.

Note for the store engineer: no new TriggerDefinition fields are needed; the service keeps
``config["flowHash"]`` inside ``config``, which must round-trip as JSON.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from flowmonkey import Engine, ExecutionQuery, Flow, Store, open_store
from flowmonkey.triggers import TriggerService, serve_http
from tests.unit.conftest import FakeClock
from tests.unit.helpers import BASIC, chain

START = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
ORDERS = Flow.from_dict(chain("orders", ["echo"]))


def service_on(store: Store, clock: FakeClock | None = None) -> TriggerService:
    engine = Engine(store, BASIC, [ORDERS], clock=clock or FakeClock(START))
    return TriggerService(store, engine, secret="shared")


async def count(store: Store) -> int:
    return sum((await store.count_executions(ExecutionQuery(flow_id="orders"))).values())


@pytest.fixture
async def two_stores(postgres_database: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two instances' own connections to one PostgreSQL database."""
    async with open_store(postgres_database) as first, open_store(postgres_database) as second:
        yield first, second


@pytest.mark.postgres
async def test_two_services_fire_each_of_a_days_1440_slots_exactly_once(
    two_stores: tuple[Store, Store],
) -> None:
    first, second = service_on(two_stores[0]), service_on(two_stores[1])
    await first.register("minutely", type="schedule", flow_id="orders", config={"cron": "* * * * *"})
    began = time.perf_counter()
    fired = 0
    for minute in range(1, 1441):
        now = START + timedelta(minutes=minute)
        a, b = await asyncio.gather(first.tick(now), second.tick(now))
        assert len(a) + len(b) == 1, f"slot {now} fired {len(a) + len(b)} times"
        fired += len(a) + len(b)
    elapsed = time.perf_counter() - began
    assert fired == 1440 == await count(two_stores[0])
    slots = {f.slot_at for f in await first.history("minutely", limit=2000)}
    assert len(slots) == 1440
    print(f"1440 slots x 2 schedulers on PostgreSQL: {elapsed:.1f}s")


@pytest.mark.parametrize(("misfire", "expected"), [("skip", 0), ("once", 1), ("all", 18)])
async def test_misfire_policies_after_a_three_hour_outage(
    any_store: Store, misfire: str, expected: int
) -> None:
    service = service_on(any_store)
    await service.register(
        "every10", type="schedule", flow_id="orders", config={"cron": "*/10 * * * *", "misfire": misfire}
    )
    fired = await service.tick(START + timedelta(hours=3, minutes=5))
    assert len(fired) == expected == await count(any_store)
    stored = await service.get("every10")
    assert stored is not None and stored.next_run_at == START + timedelta(hours=3, minutes=10)
    assert stored.config["flowHash"] == ORDERS.hash


async def test_new_york_schedule_across_both_dst_changes(any_store: Store) -> None:
    clock = FakeClock(datetime(2026, 3, 7, 12, 0, tzinfo=UTC))
    service = service_on(any_store, clock)
    config = {"cron": "30 1,2,3 * * *", "timezone": "America/New_York"}
    await service.register("ny", type="schedule", flow_id="orders", config=config)
    fired: list[datetime] = []
    for day_start in (datetime(2026, 3, 8, 4, 0, tzinfo=UTC), datetime(2026, 11, 1, 4, 0, tzinfo=UTC)):
        clock.now = day_start
        await service.disable("ny")
        await service.enable("ny")  # restarts from now: the months in between are not caught up
        for minute in range(0, 6 * 60, 5):
            fired += [
                o.slot_at for o in await service.tick(day_start + timedelta(minutes=minute)) if o.slot_at
            ]
    ny = [f.astimezone(ZoneInfo("America/New_York")).isoformat() for f in fired]
    assert fired == [
        datetime(2026, 3, 8, 6, 30, tzinfo=UTC),  # 01:30 EST
        datetime(2026, 3, 8, 7, 30, tzinfo=UTC),  # 02:30 does not exist -> 03:30 EDT, once
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),  # 01:30 EDT (the first 01:30)
        datetime(2026, 11, 1, 7, 30, tzinfo=UTC),  # 02:30 EST
        datetime(2026, 11, 1, 8, 30, tzinfo=UTC),  # 03:30 EST
    ], ny


@pytest.mark.postgres
async def test_webhook_with_idempotency_on_postgres(postgres_database: str) -> None:
    async with open_store(postgres_database) as store:
        service = service_on(store)
        await service.register("hook", type="http", flow_id="orders", config={"secret": "k"})
        server = await serve_http(service, "127.0.0.1", 0)
        try:
            async with httpx.AsyncClient(base_url=server.url) as client:
                headers = {"authorization": "Bearer k", "idempotency-key": "same"}
                first = await client.post("/webhooks/hook", json={"a": 1}, headers=headers)
                second = await client.post("/webhooks/hook", json={"a": 1}, headers=headers)
                denied = await client.post("/webhooks/hook", json={"a": 1})
        finally:
            await server.stop()
        assert (first.status_code, second.status_code, denied.status_code) == (201, 200, 401)
        assert first.json() == second.json()
        assert [f.status for f in await service.history("hook")] == ["rejected", "ok", "ok"]


@pytest.mark.postgres
async def test_emit_from_another_process_starts_the_declared_flow(postgres_database: str) -> None:
    declared = Flow.from_dict(
        {**chain("orders", ["echo"]), "triggers": [{"id": "paid", "type": "event", "event": "order.paid"}]}
    )
    async with open_store(postgres_database) as store:
        engine = Engine(store, BASIC, [declared])
        service = TriggerService(store, engine, schedule=None)
        await service.flow_sync.sync_flow(declared, source="flows/orders.yaml")
        command = [
            sys.executable,
            "-m",
            "flowmonkey.emit",
            "order.paid",
            "--store",
            postgres_database,
        ]
        done = await asyncio.to_thread(
            subprocess.run,
            [*command, "--data", '{"id": 5}', "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        [row] = json.loads(done.stdout)["started"]
        execution = await store.get_execution(row["executionId"])
        assert execution is not None and execution.context == {"input": {"id": 5}}
        assert execution.flow_hash == declared.hash


@pytest.mark.postgres
async def test_two_running_schedulers_on_the_real_clock_share_the_slots(
    two_stores: tuple[Store, Store],
) -> None:
    services = []
    for store in two_stores:
        engine = Engine(store, BASIC, [ORDERS])
        services.append(TriggerService(store, engine, secret="shared"))
    await services[0].register(
        "every-second", type="schedule", flow_id="orders", config={"cron": "* * * * * *"}
    )
    for service in services:
        await service.start()
    try:
        deadline = asyncio.get_running_loop().time() + 10
        while len(await services[0].history("every-second")) < 3:  # three slots, whoever fired them
            assert asyncio.get_running_loop().time() < deadline, "the schedulers fired nothing"
            await asyncio.sleep(0.05)
    finally:
        for service in services:
            await service.stop()
    fires = await services[0].history("every-second", limit=100)
    slots = [f.slot_at for f in fires]
    assert len(slots) == len(set(slots)) >= 3
    assert await count(two_stores[0]) == len(fires)

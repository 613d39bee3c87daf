"""TriggerService on MemoryStore: registration, manual fires, events, schedules, warnings.

Note for the store engineer: triggers use only the existing ``TriggerDefinition`` fields;
the service keeps its own bookkeeping in ``config["flowHash"]`` (the definition a trigger
starts, so ``flowmonkey emit`` works from the store alone).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flowmonkey import (
    Engine,
    ErrorCode,
    Event,
    EventType,
    ExecutionStatus,
    Flow,
    InvalidArgumentError,
    MemoryStore,
    NotWaitingError,
    StoreError,
)
from flowmonkey.triggers import (
    ExpiredTokenError,
    FireStatus,
    HttpTriggers,
    InvalidTokenError,
    ScheduleConfig,
    TriggerError,
    TriggerNotFoundError,
    TriggerService,
)
from tests.unit.conftest import FakeClock
from tests.unit.helpers import BASIC, chain

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def make(clock: FakeClock | None = None, **options: Any) -> tuple[TriggerService, Engine]:
    store = MemoryStore()
    engine = Engine(
        store, BASIC, [Flow.from_dict(chain("orders", ["echo"]))], clock=clock or FakeClock(START)
    )
    options.setdefault("secret", "test-secret")
    return TriggerService(store, engine, **options), engine


async def executions(engine: Engine) -> list[Any]:
    page = await engine.store.list_executions(limit=10_000)
    return sorted(page.items, key=lambda e: e.id)


# -- registration --------------------------------------------------------------------


async def test_register_update_disable_enable_delete_round_trip() -> None:
    service, _ = make()
    created = await service.register("hook", type="http", flow_id="orders", config={"contextKey": "order"})
    assert created.enabled and created.config["contextKey"] == "order"
    assert [t.id for t in await service.list()] == ["hook"]
    assert [t.id for t in await service.list("schedule")] == []
    updated = await service.update("hook", config={"contextKey": "payload"})
    assert updated.config["contextKey"] == "payload"
    assert (await service.disable("hook")).enabled is False
    assert (await service.get("hook")).enabled is False  # type: ignore[union-attr]
    assert (await service.enable("hook")).enabled is True
    assert await service.delete("hook") is True
    assert await service.get("hook") is None
    assert await service.delete("hook") is False


async def test_register_rejects_duplicates_and_bad_config_with_the_field_named() -> None:
    service, _ = make()
    await service.register("hook", type="http", flow_id="orders")
    with pytest.raises(TriggerError, match="already exists"):
        await service.register("hook", type="http", flow_id="orders")
    with pytest.raises(TriggerError, match=r"cron: a schedule trigger needs a cron"):
        await service.register("nightly", type="schedule", flow_id="orders")
    with pytest.raises(TriggerError, match="not an IANA zone"):
        await service.register(
            "nightly", type="schedule", flow_id="orders", config={"cron": "0 2 * * *", "timezone": "Nowhere"}
        )
    with pytest.raises(TriggerError, match="unknown key"):
        await service.register(
            "e", type="event", flow_id="orders", config={"event": "x", "cron": "* * * * *"}
        )
    with pytest.raises(TriggerError, match="type 'webhook' is not one of http, schedule, event"):
        await service.register("w", type="webhook", flow_id="orders")
    with pytest.raises(TriggerError, match="must not contain '/'"):
        await service.register("a/b", type="http", flow_id="orders")
    with pytest.raises(TriggerError, match="inputSchema is not a valid JSON Schema"):
        await service.register("h2", type="http", flow_id="orders", config={"inputSchema": {"type": "nope"}})


async def test_warnings_say_what_to_pass(caplog: pytest.LogCaptureFixture) -> None:
    service, _ = make(schedule=None)
    with caplog.at_level(logging.WARNING, logger="flowmonkey.triggers"):
        await service.register("hook", type="http", flow_id="orders")
        await service.register("nightly", type="schedule", flow_id="orders", config={"cron": "0 2 * * *"})
    text = caplog.text
    assert "HTTP trigger 'hook'" in text and "http=HttpTriggers(app=" in text
    assert "schedule trigger 'nightly'" in text and "schedule=ScheduleConfig(enabled=True)" in text


async def test_no_warning_when_the_routes_are_served(caplog: pytest.LogCaptureFixture) -> None:
    from starlette.applications import Starlette

    service, _ = make(http=HttpTriggers(app=Starlette()))
    with caplog.at_level(logging.WARNING, logger="flowmonkey.triggers"):
        await service.register("hook", type="http", flow_id="orders")
        await service.register("nightly", type="schedule", flow_id="orders", config={"cron": "0 2 * * *"})
    assert caplog.text == ""


# -- manual fire, history, stats ------------------------------------------------------


async def test_manual_fire_starts_the_flow_with_static_context_and_records_it() -> None:
    service, engine = make()
    seen: list[Event] = []
    engine.events.subscribe(seen.append, [EventType.TRIGGER_FIRED, EventType.TRIGGER_FAILED])
    await service.register(
        "hook",
        type="http",
        flow_id="orders",
        config={"contextKey": "order.body", "staticContext": {"src": "web"}},
    )
    outcome = await service.fire("hook", {"id": 7})
    assert outcome.status is FireStatus.OK and outcome.created
    execution = await engine.get(outcome.execution_id)  # type: ignore[arg-type]
    assert execution is not None
    assert execution.context == {"src": "web", "order": {"body": {"id": 7}}}
    assert execution.metadata["trigger"] == {"id": "hook", "type": "http"}
    [fire] = await service.history("hook")
    assert (fire.status, fire.execution_id) == ("ok", outcome.execution_id)
    assert [e.type for e in seen] == [EventType.TRIGGER_FIRED]
    assert seen[0].data["trigger_id"] == "hook"
    last = await service.last_fire("hook")
    assert last is not None
    assert (last.status, last.fired_at, last.execution_id) == ("ok", START, outcome.execution_id)


async def test_a_fire_that_cannot_start_the_flow_is_recorded_as_failed() -> None:
    service, engine = make()
    seen: list[Event] = []
    engine.events.subscribe(seen.append, [EventType.TRIGGER_FAILED])
    await service.register("ghost", type="http", flow_id="no-such-flow")
    outcome = await service.fire("ghost", {})
    assert outcome.status is FireStatus.FAILED and outcome.code == "FLOW_NOT_FOUND"
    assert (await service.history("ghost"))[0].status == "failed"
    assert seen and seen[0].data["error"]
    stats = await service.stats()
    assert stats.fires == {"ok": 0, "failed": 1, "rejected": 0}
    assert (stats.total, stats.enabled, stats.by_type) == (1, 1, {"http": 1})


async def test_root_merge_context_key_needs_an_object_and_refuses_the_payload() -> None:
    service, engine = make()
    await service.register("hook", type="http", flow_id="orders", config={"contextKey": ""})
    ok = await service.fire("hook", {"a": 1})
    assert (await engine.get(ok.execution_id)).context == {"a": 1}  # type: ignore[arg-type,union-attr]
    bad = await service.fire("hook", [1, 2])  # the sender's mistake (a 400), not the server's
    assert bad.status is FireStatus.REJECTED and "must be a JSON object" in (bad.error or "")
    assert bad.details == [{"path": "$", "message": "is not an object"}]
    assert (await engine.store.count_executions())[ExecutionStatus.PENDING] == 1


class EditDuringReadStore(MemoryStore):
    """A MemoryStore where another process edits a trigger right after each read of it:
    whatever this process writes back from that read would undo the edit."""

    def __init__(self) -> None:
        super().__init__()
        self.edits = 0

    async def get_trigger(self, trigger_id: str) -> Any:
        read = await super().get_trigger(trigger_id)
        if read is not None:
            self.edits += 1
            config = {**read.config, "description": f"edit {self.edits}"}
            await super().save_trigger(replace(read, config=config))
        return read


async def test_a_fire_never_undoes_a_concurrent_edit_of_the_trigger() -> None:
    store = EditDuringReadStore()
    engine = Engine(store, BASIC, [Flow.from_dict(chain("orders", ["echo"]))], clock=FakeClock(START))
    service = TriggerService(store, engine, secret="s", schedule=None)
    await service.register("hook", type="http", flow_id="orders")
    outcome = await service.fire("hook", {"id": 1})
    assert outcome.status is FireStatus.OK
    edits = store.edits
    stored = await MemoryStore.get_trigger(store, "hook")  # past the editor, as it is now
    assert stored is not None and stored.config["description"] == f"edit {edits}"
    last = await service.last_fire("hook")
    assert last is not None and last.execution_id == outcome.execution_id


async def test_an_unknown_trigger_is_trigger_not_found() -> None:
    service, _ = make()
    attempts: list[Callable[[], Awaitable[object]]] = [
        lambda: service.fire("ghost"),
        lambda: service.update("ghost", enabled=False),
        lambda: service.disable("ghost"),
    ]
    for attempt in attempts:
        with pytest.raises(TriggerNotFoundError, match="no trigger 'ghost'") as raised:
            await attempt()
        assert isinstance(raised.value, TriggerError) and raised.value.code is ErrorCode.TRIGGER_NOT_FOUND
    assert await service.last_fire("ghost") is None


# -- events ---------------------------------------------------------------------------


async def test_emit_starts_every_matching_flow_once() -> None:
    service, engine = make()
    engine.flows.register(Flow.from_dict(chain("ship", ["echo"])))
    engine.flows.register(Flow.from_dict(chain("bill", ["echo"])))
    await service.register("a", type="event", flow_id="orders", config={"event": "order.created"})
    await service.register(
        "b",
        type="event",
        flow_id="ship",
        config={"event": "order.created", "filter": {"order.country": "FR"}},
    )
    await service.register(
        "c", type="event", flow_id="bill", config={"event": "order.created"}, enabled=False
    )
    await service.register("d", type="event", flow_id="bill", config={"event": "order.paid"})

    fr = await service.emit("order.created", {"order": {"country": "FR"}})
    assert sorted(o.trigger_id for o in fr) == ["a", "b"]
    de = await service.emit("order.created", {"order": {"country": "DE"}})
    assert [o.trigger_id for o in de] == ["a"]
    started = await executions(engine)
    assert sorted(e.flow_id for e in started) == ["orders", "orders", "ship"]
    assert all(
        e.context == {"input": {"order": {"country": e.context["input"]["order"]["country"]}}}
        for e in started
    )
    assert await service.emit("nobody.listens", {}) == []


async def test_emit_with_an_idempotency_key_starts_each_flow_once() -> None:
    service, engine = make()
    await service.register("a", type="event", flow_id="orders", config={"event": "order.created"})
    first = await service.emit("order.created", {"n": 1}, idempotency_key="evt-1")
    again = await service.emit("order.created", {"n": 1}, idempotency_key="evt-1")
    assert first[0].created and not again[0].created
    assert first[0].execution_id == again[0].execution_id
    assert len(await executions(engine)) == 1


async def test_emit_rejects_a_payload_that_breaks_the_schema() -> None:
    service, engine = make()
    schema = {"type": "object", "required": ["id"]}
    await service.register("a", type="event", flow_id="orders", config={"event": "e", "inputSchema": schema})
    [outcome] = await service.emit("e", {"name": "x"})
    assert outcome.status is FireStatus.REJECTED
    assert outcome.details == [{"path": "$.id", "message": "'id' is a required property"}]
    assert await executions(engine) == []


# -- schedules ------------------------------------------------------------------------


async def test_tick_fires_due_slots_once_and_stores_the_next_run() -> None:
    clock = FakeClock(START)
    service, engine = make(clock)
    trigger = await service.register(
        "every10",
        type="schedule",
        flow_id="orders",
        config={"cron": "*/10 * * * *", "staticContext": {"k": 1}},
    )
    assert trigger.next_run_at == START + timedelta(minutes=10)
    assert await service.tick(START + timedelta(minutes=5)) == []
    [outcome] = await service.tick(START + timedelta(minutes=10))
    assert outcome.slot_at == START + timedelta(minutes=10)
    assert await service.tick(START + timedelta(minutes=10, seconds=1)) == []  # not twice
    stored = await service.get("every10")
    assert stored is not None and stored.next_run_at == START + timedelta(minutes=20)
    [execution] = await executions(engine)
    assert execution.context == {"k": 1}
    assert execution.metadata["trigger"]["slotAt"] == (START + timedelta(minutes=10)).isoformat()


@pytest.mark.parametrize(("misfire", "expected"), [("skip", 0), ("once", 1), ("all", 18)])
async def test_misfire_policy_after_a_three_hour_outage(misfire: str, expected: int) -> None:
    service, engine = make(FakeClock(START))
    await service.register(
        "every10", type="schedule", flow_id="orders", config={"cron": "*/10 * * * *", "misfire": misfire}
    )
    fired = await service.tick(START + timedelta(hours=3, minutes=5))
    assert len(fired) == expected == len(await executions(engine))
    if misfire == "once":
        assert fired[0].slot_at == START + timedelta(hours=3)
    stored = await service.get("every10")
    assert stored is not None and stored.next_run_at == START + timedelta(hours=3, minutes=10)


async def test_all_policy_is_bounded() -> None:
    service, _ = make(FakeClock(START), schedule=ScheduleConfig(max_catch_up=100))
    await service.register(
        "m", type="schedule", flow_id="orders", config={"cron": "* * * * *", "misfire": "all"}
    )
    fired = await service.tick(START + timedelta(hours=3))
    assert len(fired) == 100
    assert fired[-1].slot_at == START + timedelta(hours=3)


async def test_re_enabling_a_schedule_does_not_catch_up() -> None:
    clock = FakeClock(START)
    service, _ = make(clock)
    await service.register(
        "m", type="schedule", flow_id="orders", config={"cron": "* * * * *", "misfire": "all"}
    )
    await service.disable("m")
    clock.advance(hours=2)
    await service.enable("m")
    assert await service.tick(clock.now) == []
    assert len(await service.tick(clock.now + timedelta(minutes=1))) == 1


class FailingCreateStore(MemoryStore):
    """A MemoryStore whose next ``failures`` execution inserts fail, as a store outage would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def create_execution(self, execution: Any, *, now: datetime) -> Any:
        if self.failures:
            self.failures -= 1
            raise StoreError("connection lost")
        return await super().create_execution(execution, now=now)


async def test_a_slot_the_store_failed_to_start_is_retried_and_fires_once() -> None:
    store = FailingCreateStore(failures=1)
    engine = Engine(store, BASIC, [Flow.from_dict(chain("orders", ["echo"]))], clock=FakeClock(START))
    service = TriggerService(store, engine, secret="s")
    await service.register("m", type="schedule", flow_id="orders", config={"cron": "* * * * *"})
    slot = START + timedelta(minutes=1)
    assert await service.tick(slot) == []
    stored = await service.get("m")
    assert stored is not None and stored.next_run_at == slot  # not skipped: still due
    [outcome] = await service.tick(slot + timedelta(seconds=5))
    assert outcome.slot_at == slot and outcome.created
    assert await service.tick(slot + timedelta(seconds=10)) == []
    assert [e.metadata["trigger"]["slotAt"] for e in await executions(engine)] == [slot.isoformat()]
    assert [f.slot_at for f in await service.history("m")] == [slot]


async def test_a_slot_whose_flow_cannot_start_is_recorded_once_across_instances() -> None:
    first, engine = make(FakeClock(START))
    second = TriggerService(first.store, engine, secret="test-secret")
    await first.register("m", type="schedule", flow_id="no-such-flow", config={"cron": "* * * * *"})
    slot = START + timedelta(minutes=1)
    a, b = await asyncio.gather(first.tick(slot), second.tick(slot))
    [failed] = a + b
    assert failed.status is FireStatus.FAILED and failed.code == "FLOW_NOT_FOUND"
    assert [f.status for f in await first.history("m")] == ["failed"]
    stored = await first.get("m")
    assert stored is not None and stored.next_run_at == slot + timedelta(minutes=1)


async def test_two_services_on_one_store_fire_each_slot_once() -> None:
    first, engine = make(FakeClock(START))
    second = TriggerService(first.store, engine, secret="test-secret")
    await first.register("m", type="schedule", flow_id="orders", config={"cron": "* * * * *"})
    for minute in range(1, 121):
        now = START + timedelta(minutes=minute)
        await asyncio.gather(first.tick(now), second.tick(now))
    started = await executions(engine)
    assert len(started) == 120
    assert len({e.metadata["trigger"]["slotAt"] for e in started}) == 120


async def test_the_scheduler_loop_fires_on_the_real_clock_and_stops() -> None:
    store = MemoryStore()
    engine = Engine(store, BASIC, [Flow.from_dict(chain("orders", ["echo"]))])
    service = TriggerService(store, engine, secret="s")
    fired = asyncio.Event()
    engine.events.subscribe(lambda e: fired.set(), [EventType.TRIGGER_FIRED])
    await service.start()
    try:
        await service.register("tick", type="schedule", flow_id="orders", config={"cron": "* * * * * *"})
        await asyncio.wait_for(fired.wait(), timeout=5)
    finally:
        await service.stop()
    assert (await service.history("tick"))[0].status == "ok"


# -- resume tokens --------------------------------------------------------------------


async def test_resume_tokens_expire_after_the_services_ttl() -> None:
    clock = FakeClock(START)
    store = MemoryStore()
    engine = Engine(store, BASIC, [Flow.from_dict(chain("approve", ["wait", "echo"]))], clock=clock)
    service = TriggerService(store, engine, secret="s1", schedule=None, resume_token_ttl=timedelta(hours=1))
    execution, _ = await engine.create("approve", {})
    execution = await engine.run(execution.id)
    hourly = service.resume_token(execution.id, "s0", visit=execution.visit)
    weekly = service.resume_token(execution.id, "s0", visit=execution.visit, ttl=timedelta(days=7))
    clock.advance(hours=1)
    with pytest.raises(ExpiredTokenError, match=r"expired at 2026-01-01T10:00:00\+00:00; ask for a new one"):
        await service.resume_with_token(hourly, {})
    resumed = await service.resume_with_token(weekly, {"ok": True})
    assert resumed.status is ExecutionStatus.RUNNING


def legacy_token(secret: bytes, *fields: str) -> str:
    payload = base64.urlsafe_b64encode("\n".join(fields).encode()).rstrip(b"=").decode()
    mac = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


async def test_every_token_a_service_issues_expires() -> None:
    store = MemoryStore()
    engine = Engine(store, BASIC, [Flow.from_dict(chain("approve", ["wait", "echo"]))])
    for ttl in (None, timedelta(0)):
        with pytest.raises(InvalidArgumentError, match="every token expires"):
            TriggerService(store, engine, secret="s1", schedule=None, resume_token_ttl=ttl)  # type: ignore[arg-type]


async def test_old_tokens_resume_until_the_cut_off_and_are_refused_after() -> None:
    clock = FakeClock(START)
    store = MemoryStore()
    engine = Engine(store, BASIC, [Flow.from_dict(chain("approve", ["wait", "echo"]))], clock=clock)
    cut_off = START + timedelta(days=1)
    service = TriggerService(store, engine, secret="s1", schedule=None, legacy_tokens_until=cut_off)
    first, _ = await engine.create("approve", {})
    second, _ = await engine.create("approve", {})
    for execution in (first, second):
        await engine.run(execution.id)
    old = legacy_token(b"s1", first.id, "s0")  # as FlowMonkey 0.1 signed it: no expiry
    assert (await service.resume_with_token(old, {})).status is ExecutionStatus.RUNNING
    clock.advance(days=1)
    late = legacy_token(b"s1", second.id, "s0")
    with pytest.raises(ExpiredTokenError, match="old form"):
        await service.resume_with_token(late, {})
    assert (await engine.get(second.id)).status is ExecutionStatus.WAITING  # type: ignore[union-attr]


async def test_a_rotated_secret_keeps_accepting_tokens_signed_with_the_old_one() -> None:
    store = MemoryStore()
    engine = Engine(store, BASIC, [Flow.from_dict(chain("approve", ["wait", "echo"]))])
    before = TriggerService(store, engine, secret="old", schedule=None)
    after = TriggerService(store, engine, secret=["new", "old"], schedule=None)
    first, _ = await engine.create("approve", {})
    second, _ = await engine.create("approve", {})
    first, second = [await engine.run(execution.id) for execution in (first, second)]
    old = before.resume_token(first.id, "s0", visit=first.visit)
    assert (await after.resume_with_token(old, {})).status is ExecutionStatus.RUNNING
    fresh = after.resume_token(second.id, "s0", visit=second.visit)
    with pytest.raises(InvalidTokenError):
        await before.resume_with_token(fresh, {})  # signed with the new secret, which "before" lacks
    assert (
        await TriggerService(store, engine, secret="new", schedule=None).resume_with_token(fresh, {})
    ).status is (ExecutionStatus.RUNNING)


async def test_resume_token_resumes_only_its_execution_and_step() -> None:
    store = MemoryStore()
    engine = Engine(store, BASIC, [Flow.from_dict(chain("approve", ["wait", "echo"]))])
    service = TriggerService(store, engine, secret="s1", schedule=None)
    execution, _ = await engine.create("approve", {})
    execution = await engine.run(execution.id)
    assert execution.status is ExecutionStatus.WAITING
    token = service.resume_token(execution.id, "s0", visit=execution.visit)
    with pytest.raises(InvalidTokenError):
        await TriggerService(store, engine, secret="other", schedule=None).resume_with_token(token, {})
    with pytest.raises(InvalidTokenError):
        await service.resume_with_token(token[:-2] + "AA", {})
    another_visit = service.resume_token(execution.id, "s0", visit=execution.visit + 1)
    with pytest.raises(NotWaitingError, match=f"no longer waits at the visit.*not {execution.visit + 1}\\)"):
        await service.resume_with_token(another_visit, {})
    resumed = await service.resume_with_token(token, {"ok": True})
    assert resumed.status is ExecutionStatus.RUNNING


class CountingStore(MemoryStore):
    """A MemoryStore that counts how often the scheduler looks at the triggers."""

    def __init__(self) -> None:
        super().__init__()
        self.looks = 0

    async def list_triggers(self) -> list[Any]:
        self.looks += 1
        return await super().list_triggers()


async def test_an_idle_scheduler_sleeps_instead_of_polling() -> None:
    store = CountingStore()
    engine = Engine(store, BASIC, [Flow.from_dict(chain("orders", ["echo"]))])
    service = TriggerService(store, engine, secret="s")
    await service.register("yearly", type="schedule", flow_id="orders", config={"cron": "0 0 1 1 *"})
    await service.start()
    try:
        deadline = asyncio.get_running_loop().time() + 0.3
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)  # let the loop run; it should be asleep for a minute
        looks = store.looks
    finally:
        await service.stop()
    assert 1 <= looks <= 2


async def test_a_handler_issues_tokens_the_service_accepts_through_the_shared_secret() -> None:
    from flowmonkey.triggers import resume_token

    with pytest.raises(InvalidTokenError, match="secret"):
        resume_token("exec-1", "s0", visit=0, secret="")
    store = MemoryStore()
    engine = Engine(store, BASIC, [Flow.from_dict(chain("approve", ["wait", "echo"]))])
    service = TriggerService(store, engine, schedule=None, secret="shared")
    execution, _ = await engine.create("approve", {})
    execution = await engine.run(execution.id)
    token = resume_token(execution.id, "s0", visit=execution.visit, secret="shared")
    resumed = await service.resume_with_token(token, {"ok": 1})
    assert resumed.status is ExecutionStatus.RUNNING


async def test_the_service_never_reads_its_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flowmonkey.triggers import resume_token

    monkeypatch.setenv("FLOWMONKEY_SECRET", "from-env")  # the edges read it, not the library
    store = MemoryStore()
    engine = Engine(store, BASIC, [Flow.from_dict(chain("approve", ["wait", "echo"]))])
    service = TriggerService(store, engine, schedule=None)  # no secret: a random one
    execution, _ = await engine.create("approve", {})
    execution = await engine.run(execution.id)
    stray = resume_token(execution.id, "s0", visit=execution.visit, secret="from-env")
    with pytest.raises(InvalidTokenError, match="signature"):
        await service.resume_with_token(stray, {})
    resumed = await service.resume_with_token(
        service.resume_token(execution.id, "s0", visit=execution.visit), {}
    )
    assert resumed.status is ExecutionStatus.RUNNING


async def test_a_broken_schedule_in_the_store_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    service, _ = make(FakeClock(START))
    await service.register("good", type="schedule", flow_id="orders", config={"cron": "* * * * *"})
    broken = await service.register("bad", type="schedule", flow_id="orders", config={"cron": "* * * * *"})
    await service.store.save_trigger(replace(broken, config={"cron": "* * *"}))  # written by hand
    with caplog.at_level(logging.ERROR, logger="flowmonkey.triggers"):
        fired = await service.tick(START + timedelta(minutes=1))
    assert [o.trigger_id for o in fired] == ["good"]
    assert "'bad' could not be fired" in caplog.text

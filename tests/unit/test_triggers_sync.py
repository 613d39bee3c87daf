"""Triggers declared in flow files follow the flow events; ``flowmonkey emit`` from the store.

Note for the store engineer: no new TriggerDefinition fields; ``config["flowHash"]`` is
service bookkeeping that must round-trip like the rest of ``config``.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from flowmonkey import Engine, Event, EventType, Flow, MemoryStore
from flowmonkey import emit as emit_cli
from flowmonkey.triggers import TriggerService, emit_from_store
from tests.unit.conftest import FakeClock
from tests.unit.helpers import BASIC, chain

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def flow(version: str, triggers: list[dict[str, Any]]) -> Flow:
    return Flow.from_dict({**chain("orders", ["echo"]), "version": version, "triggers": triggers})


def announce(engine: Engine, kind: EventType, f: Flow, path: str = "flows/orders.yaml") -> None:
    """What FlowDirectory does when a file is loaded, changed or removed."""
    if kind is not EventType.FLOW_RETIRED:
        engine.flows.register(f)
    data = {"flow_id": f.id, "version": f.version, "hash": f.hash, "path": path}
    engine.events.emit(Event(type=kind, flow_id=f.id, data=data))


def setup() -> tuple[TriggerService, Engine]:
    store = MemoryStore()
    engine = Engine(store, BASIC, clock=FakeClock(START))
    return TriggerService(store, engine, secret="s"), engine


V1 = [
    {"id": "orders-hook", "type": "http", "contextKey": "order"},
    {"id": "orders-nightly", "type": "schedule", "cron": "0 2 * * *", "timezone": "Europe/Paris"},
    {"type": "event", "event": "order.paid"},
]


async def test_registered_flow_declares_its_triggers_with_the_file_as_source() -> None:
    service, engine = setup()
    announce(engine, EventType.FLOW_REGISTERED, flow("1.0.0", V1))
    await service.flow_sync.settle()
    triggers = {t.id: t for t in await service.list()}
    assert sorted(triggers) == ["orders-event-2", "orders-hook", "orders-nightly"]
    assert {t.source for t in triggers.values()} == {"flows/orders.yaml"}
    assert triggers["orders-nightly"].next_run_at == datetime(2026, 1, 2, 1, 0, tzinfo=UTC)
    assert triggers["orders-hook"].config["contextKey"] == "order"


async def test_reload_updates_adds_and_removes_and_retire_deletes() -> None:
    service, engine = setup()
    announce(engine, EventType.FLOW_REGISTERED, flow("1.0.0", V1))
    v2: list[dict[str, Any]] = [
        {"id": "orders-hook", "type": "http", "contextKey": "payload", "enabled": False},
        {"id": "orders-hourly", "type": "schedule", "cron": "0 * * * *"},
    ]
    announce(engine, EventType.FLOW_RELOADED, flow("1.1.0", v2))
    await service.flow_sync.settle()
    triggers = {t.id: t for t in await service.list()}
    assert sorted(triggers) == ["orders-hook", "orders-hourly"]
    assert triggers["orders-hook"].config["contextKey"] == "payload"
    assert triggers["orders-hook"].enabled is False
    assert triggers["orders-hook"].config["flowHash"] == engine.flows.get("orders").hash

    announce(engine, EventType.FLOW_RETIRED, flow("1.1.0", v2))
    await service.flow_sync.settle()
    assert await service.list() == []


async def test_startup_keeps_an_operators_pause_but_a_reload_applies_the_file() -> None:
    service, engine = setup()
    announce(engine, EventType.FLOW_REGISTERED, flow("1.0.0", V1))
    await service.flow_sync.settle()
    await service.disable("orders-hook")
    announce(engine, EventType.FLOW_REGISTERED, flow("1.0.0", V1))  # a restart
    await service.flow_sync.settle()
    assert (await service.get("orders-hook")).enabled is False  # type: ignore[union-attr]
    announce(engine, EventType.FLOW_RELOADED, flow("1.0.1", V1))  # the file was edited
    await service.flow_sync.settle()
    assert (await service.get("orders-hook")).enabled is True  # type: ignore[union-attr]


async def test_api_triggers_and_other_flows_triggers_are_left_alone() -> None:
    service, engine = setup()
    engine.flows.register(Flow.from_dict(chain("billing", ["echo"])))
    await service.register("orders-hook", type="http", flow_id="billing")
    announce(engine, EventType.FLOW_REGISTERED, flow("1.0.0", V1))
    await service.flow_sync.settle()
    kept = await service.get("orders-hook")
    assert kept is not None and kept.flow_id == "billing" and kept.source is None
    announce(engine, EventType.FLOW_RETIRED, flow("1.0.0", V1))
    await service.flow_sync.settle()
    assert [t.id for t in await service.list()] == ["orders-hook"]


async def test_a_bad_declaration_is_skipped_and_the_rest_still_sync() -> None:
    service, _ = setup()
    report = await service.flow_sync.sync_flow(
        flow("1.0.0", [{"id": "bad", "type": "schedule", "cron": "61 * * * *"}, V1[0]])
    )
    assert report.added == ["orders-hook"]
    assert "bad" in report.errors[0] and "not a valid cron" in report.errors[0]


async def test_start_syncs_flows_that_are_already_loaded() -> None:
    service, engine = setup()
    engine.flows.register(flow("1.0.0", V1))
    await service.start()
    try:
        assert len(await service.list()) == 3
    finally:
        await service.stop()


# -- flowmonkey emit ------------------------------------------------------------------


async def test_emit_from_the_store_alone_starts_the_declared_flow() -> None:
    service, engine = setup()
    announce(engine, EventType.FLOW_REGISTERED, flow("1.0.0", V1))
    await service.flow_sync.settle()
    # A separate process: a fresh engine that never saw the flow files, on the same store.
    outcomes = await emit_from_store(service.store, "order.paid", {"id": 3})
    assert [o.trigger_id for o in outcomes] == ["orders-event-2"]
    execution = await service.store.get_execution(outcomes[0].execution_id)  # type: ignore[arg-type]
    assert execution is not None and execution.context == {"input": {"id": 3}}
    assert execution.flow_version == "1.0.0"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    emit_cli.configure_parser(parser)
    return parser.parse_args(argv)


def test_emit_command_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert emit_cli.run(parse("order.paid", "--data", "{not json")) == 2
    assert "--data is not valid JSON" in capsys.readouterr().err
    assert emit_cli.run(parse("order.paid", "--store", "memory://", "--json")) == 0
    assert json.loads(capsys.readouterr().out) == {"event": "order.paid", "started": []}


def test_emit_options_do_not_clash_with_a_main_parser_that_has_them() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    emit_cli.configure_parser(parser)
    assert parser.parse_args(["x", "--json"]).json is True

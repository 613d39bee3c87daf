"""The example flows in flows/ load cleanly and do what their comments say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flowmonkey import Engine, Execution, ExecutionStatus, MemoryStore, StepStatus
from flowmonkey.flowdirectory import FlowDirectory

FLOWS = Path(__file__).resolve().parents[2] / "flows"


@pytest.fixture
async def engine() -> Engine:
    engine = Engine(MemoryStore())
    states = await FlowDirectory(FLOWS, engine).load()
    assert [str(p) for s in states for p in s.problems] == []
    assert all(s.ok for s in states)
    return engine


async def run(engine: Engine, flow_id: str, context: dict[str, Any]) -> Execution:
    execution, _ = await engine.create(flow_id, context)
    return await engine.run(execution.id, simulate_time=True)


def order(card: str, **extra: Any) -> dict[str, Any]:
    items = [{"sku": "monkey", "qty": 2, "price": 9.5}]
    return {"order": {"id": "o-1", "items": items, "card": card, **extra}}


async def test_every_example_flow_is_registered(engine: Engine) -> None:
    assert [f.id for f in engine.flows.latest()] == [
        "credit-check",
        "daily-report",
        "expense-approval",
        "fraud-check",
        "fulfil-order",
        "greeting",
        "process-order",
        "ship-item",
    ]
    assert engine.flows.get("daily-report").triggers[0]["cron"] == "0 8 * * *"


async def test_greeting(engine: Engine) -> None:
    done = await run(engine, "greeting", {"user": {"name": "World"}})

    assert done.status is ExecutionStatus.COMPLETED
    assert done.context["greeting"] == {"message": "Hello, World!"}


async def test_an_express_order_is_charged_and_shipped_express(engine: Engine) -> None:
    done = await run(engine, "process-order", order("4242424242424242", shipping="express"))

    assert done.status is ExecutionStatus.COMPLETED
    assert done.context["payment"]["charged"] == 19.0
    assert done.context["shipment"]["method"] == "express"


async def test_a_flaky_card_is_retried_until_it_goes_through(engine: Engine) -> None:
    done = await run(engine, "process-order", order("4000000000000119"))

    history = await engine.store.history(done.id)
    retries = [r for r in history if r.step_id == "charge" and r.outcome is StepStatus.RETRY]
    assert done.status is ExecutionStatus.COMPLETED
    assert len(retries) == 2
    assert done.context["shipment"]["method"] == "standard"


async def test_a_declined_card_and_an_invalid_order_end_in_a_notice(engine: Engine) -> None:
    declined = await run(engine, "process-order", order("4000000000000002"))
    invalid = await run(engine, "process-order", {"order": {"id": "o-2", "items": []}})

    assert declined.status is ExecutionStatus.COMPLETED
    assert declined.context["lastError"]["code"] == "CARD_DECLINED"
    assert invalid.context["lastError"]["code"] == "INVALID_ORDER"
    assert "payment" not in invalid.context


async def test_an_approval_waits_for_an_operator(engine: Engine) -> None:
    created, _ = await engine.create("expense-approval", {"expense": {"amount": 120, "reason": "a desk"}})
    waiting = await engine.run(created.id)
    assert waiting.status is ExecutionStatus.WAITING
    assert waiting.wait_reason is not None
    assert waiting.wait_reason.startswith("approval: Approve 120 EUR for a desk? (assignee finance)")

    await engine.resume(created.id, {"approved": True, "by": "ops"})
    done = await engine.run(created.id)

    assert done.status is ExecutionStatus.COMPLETED
    history = await engine.store.history(done.id)
    assert [r.step_id for r in history][-2:] == ["decide", "pay"]


async def test_an_approval_past_its_deadline_escalates(engine: Engine) -> None:
    done = await run(engine, "expense-approval", {"expense": {"amount": 5, "reason": "pens"}})

    assert done.status is ExecutionStatus.COMPLETED
    assert done.context["lastError"]["code"] == "WAIT_EXPIRED"
    history = await engine.store.history(done.id)
    assert history[-1].step_id == "escalate"


async def test_the_daily_report(engine: Engine) -> None:
    done = await run(engine, "daily-report", {"recipients": ["team@example.com"]})

    assert done.status is ExecutionStatus.COMPLETED
    assert done.context["report"]["orders"] == 42


def fulfilment(customer: str) -> dict[str, Any]:
    items = [
        {"sku": sku, "qty": 1, "price": 30.0} for sku in ("hat", "scarf", "gloves", "socks", "coat", "boots")
    ]
    return {"order": {"id": "o-9", "customer": customer, "items": items, "card": "4242424242424242"}}


async def test_an_order_is_checked_in_parallel_then_each_item_ships_in_order(engine: Engine) -> None:
    done = await run(engine, "fulfil-order", fulfilment("c-gold"))

    assert done.status is ExecutionStatus.COMPLETED, done.error
    assert done.context["checks"] == {
        "credit": {"customer": "c-gold", "limit": 10000.0},
        "fraud": {"risk": 0.018},
    }
    assert [s["tracking"] for s in done.context["shipments"]] == [
        "TRK-000-hat",
        "TRK-001-scarf",
        "TRK-002-gloves",
        "TRK-003-socks",
        "TRK-004-coat",
        "TRK-005-boots",
    ]


async def test_a_failed_credit_check_puts_the_order_on_hold(engine: Engine) -> None:
    done = await run(engine, "fulfil-order", fulfilment("c-new"))

    assert done.status is ExecutionStatus.COMPLETED and done.current_step_id == "hold"
    assert done.context["lastError"]["code"] == "BRANCH_FAILED"
    assert done.context["lastError"]["details"]["branch"] == "credit"
    assert "shipments" not in done.context

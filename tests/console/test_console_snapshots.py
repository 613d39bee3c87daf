"""SVG snapshots of every view at 80x24 and 160x48, on a seeded store and a frozen clock.

Regenerate after an intended change with ``pytest tests/console --snapshot-update`` and
review the SVGs in ``__snapshots__/`` before committing them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from flowmonkey import Engine
from flowmonkey.model import TriggerDefinition, TriggerFire, TriggerType
from flowmonkey_console.app import ConsoleApp
from flowmonkey_console.screens.confirm import ConfirmScreen
from flowmonkey_console.screens.flow_detail import FlowDetailScreen
from flowmonkey_console.screens.help import HelpScreen
from flowmonkey_console.widgets.status_counts import StatusCounts
from tests.console.support import FrozenClock, main_screen, make_app, seed_fixed, settle, wait_for

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]

GOOD_FLOW = """\
id: greeting
version: 2.0.0
initialStepId: hello
steps:
  hello: {type: work, transitions: {onSuccess: bye}}
  bye: {type: work}
"""
ROUTED_FLOW = """\
id: shipping
version: 1.0.0
initialStepId: route
steps:
  route:
    type: switch
    config: {path: order.method, cases: {express: fast}, default: slow}
  fast: {type: work}
  slow: {type: work}
"""
BROKEN_FLOW = """\
id: refund
version: 1.0.0
initialStepId: check
steps:
  check:
    type: work
    transitions: {onSuccess: pay}
"""


class Seeded(NamedTuple):
    app: ConsoleApp
    clock: FrozenClock
    engine: Engine


def seeded_app(tmp_path: Path, *, with_flows: bool = True) -> Seeded:
    clock = FrozenClock()
    engine = asyncio.run(seed_fixed(clock))
    for trigger in _triggers(clock):
        asyncio.run(engine.store.save_trigger(trigger))
    last_fire = TriggerFire(
        id="fire-1", trigger_id="nightly-report", fired_at=clock.now.replace(hour=2), status="ok"
    )
    asyncio.run(engine.store.record_fire(last_fire))
    if not with_flows:  # flow files bring flow.* events stamped with the real time
        return Seeded(make_app(engine), clock, engine)
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "greeting.yaml").write_text(GOOD_FLOW)
    (flows / "refund.yaml").write_text(BROKEN_FLOW)
    (flows / "shipping.yaml").write_text(ROUTED_FLOW)
    return Seeded(make_app(engine, flows_dir=flows), clock, engine)


def _triggers(clock: FrozenClock) -> list[TriggerDefinition]:
    common: dict[str, Any] = {"created_at": clock.now, "updated_at": clock.now}
    return [
        TriggerDefinition(
            id="nightly-report",
            type=TriggerType.SCHEDULE,
            flow_id="daily-report",
            config={"cron": "0 2 * * *"},
            next_run_at=clock.now.replace(hour=23),
            last_fired_at=clock.now.replace(hour=2),
            last_status="ok",
            **common,
        ),
        TriggerDefinition(
            id="order-webhook",
            type=TriggerType.HTTP,
            flow_id="process-order",
            enabled=False,
            config={"path": "/orders"},
            **common,
        ),
    ]


def ready(*keys: str) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await main_screen(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        await wait_for(pilot, lambda: screen.query_one(StatusCounts).counts is not None, what="the counts")
        await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_flows_view(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = seeded_app(tmp_path).app
    assert snap_compare(app, terminal_size=size, run_before=ready("1"))


@pytest.mark.parametrize("size", SIZES)
def test_executions_view(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = seeded_app(tmp_path).app
    assert snap_compare(app, terminal_size=size, run_before=ready("space", "down", "space"))


@pytest.mark.parametrize("size", SIZES)
def test_waits_view(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = seeded_app(tmp_path).app
    assert snap_compare(app, terminal_size=size, run_before=ready("3"))


@pytest.mark.parametrize("size", SIZES)
def test_triggers_view(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = seeded_app(tmp_path).app
    assert snap_compare(app, terminal_size=size, run_before=ready("4"))


@pytest.mark.parametrize("size", SIZES)
def test_events_view(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    """The store's history (the seeded runs), newest at the bottom, from its change feed."""
    app = seeded_app(tmp_path, with_flows=False).app

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready("5")(pilot)
        await wait_for(
            pilot, lambda: app.screen.query_one("#events-table", DataTable).row_count >= 15, what="the events"
        )
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_execution_detail(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = seeded_app(tmp_path).app

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready()(pilot)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: getattr(app.screen, "history", None), what="the detail")
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_retry_confirmation_wraps(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = seeded_app(tmp_path).app

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready()(pilot)
        await pilot.press("down", "down", "down", "R")  # a failed one: R applies to it
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the dialog")
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_help_of_the_executions_view(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = seeded_app(tmp_path, with_flows=False).app

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready()(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_flow_tree_draws_a_switch_with_its_targets(
    snap_compare: Any, tmp_path: Path, size: tuple[int, int]
) -> None:
    app = seeded_app(tmp_path).app

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready("1")(pilot)
        await pilot.press("end", "up", "enter")  # shipping: the last flow, above the broken file
        await wait_for(pilot, lambda: isinstance(app.screen, FlowDetailScreen), what="the flow tree")
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_flow_tree_shows_each_steps_health(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = seeded_app(tmp_path).app

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready("1")(pilot)
        await pilot.press("down", "down", "enter")  # process-order
        await wait_for(pilot, lambda: isinstance(app.screen, FlowDetailScreen), what="the flow tree")
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=run_before)

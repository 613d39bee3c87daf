"""Pilot tests of fix and continue in the console: a held execution in the Waits view and
the status bar, ``R`` continuing it (the same execution), ``S`` skipping with an output
checked against the step's outputSchema, ``F`` failing the step, ``f`` forking from a
step of the detail timeline with the context before it."""

from __future__ import annotations

from typing import Any

from textual.widgets import TextArea

from flowmonkey import (
    Engine,
    ExecutionStatus,
    Flow,
    HandlerParams,
    MemoryStore,
    Result,
    StepResult,
    StepStatus,
    handler,
)
from flowmonkey_console.screens.confirm import ConfirmScreen
from flowmonkey_console.screens.execution_detail import ExecutionDetailScreen
from flowmonkey_console.screens.json_editor import JsonEditorScreen
from flowmonkey_console.widgets.execution_list import ExecutionListView
from tests.console.support import FrozenClock, main_screen, make_app, screen_text, wait_for

API = {"down": True}


@handler("pay")
async def pay(params: HandlerParams) -> StepResult:
    return Result.success({"paid": True})


@handler("ship-api")
async def ship_api(params: HandlerParams) -> StepResult:
    if API["down"]:
        return Result.failure("HTTP_ERROR", "the shipping API answered 503")
    return Result.success({"tracking": "T-1"})


SHIPPING = Flow.from_dict(
    {
        "id": "shipping",
        "version": "1.0.0",
        "onExhausted": "hold",
        "initialStepId": "pay",
        "steps": {
            "pay": {"type": "pay", "outputKey": "payment", "transitions": {"onSuccess": "ship"}},
            "ship": {
                "type": "ship-api",
                "outputKey": "shipment",
                "errorKey": "problem",
                "outputSchema": {"type": "object", "required": ["tracking"]},
                "transitions": {"onFailure": "pay"},
            },
        },
    }
)


async def held_engine(clock: FrozenClock) -> tuple[Engine, str]:
    API["down"] = True
    engine = Engine(MemoryStore(), [pay, ship_api], [SHIPPING], clock=clock)
    execution, _ = await engine.create("shipping", {"order": 7})
    held = await engine.run(execution.id)
    assert held.status is ExecutionStatus.HELD
    return engine, held.id


async def test_a_held_execution_waits_in_the_waits_view_and_r_continues_it(clock: FrozenClock) -> None:
    engine, held = await held_engine(clock)
    app = make_app(engine, worker=True)
    async with app.run_test(size=(100, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        await wait_for(pilot, lambda: "⏸ 1 held" in screen_text(app), what="the status bar's count")
        await pilot.press("3")
        view = screen.active_view
        assert isinstance(view, ExecutionListView)
        await wait_for(pilot, lambda: list(view.rows) == [held], what="the waits view")
        assert "held: HTTP_ERROR" in screen_text(app)
        API["down"] = False  # the handler is fixed
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the retry dialog")
        assert "continues from the step that stopped it" in screen_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: not view.rows, what="the retried execution to leave the view")
    done = await engine.get(held)
    assert done is not None and done.status is ExecutionStatus.COMPLETED
    assert done.context["shipment"] == {"tracking": "T-1"} and "problem" not in done.context
    outcomes = [r.outcome for r in await engine.store.history(held)]
    assert outcomes.count(StepStatus.RETRIED) == 1 and outcomes.count(StepStatus.COMPLETED) == 2
    assert len((await engine.store.list_executions()).items) == 1  # the same execution, no new one


async def test_skip_checks_the_output_schema_in_the_editor(clock: FrozenClock) -> None:
    engine, held = await held_engine(clock)
    app = make_app(engine, worker=True)
    async with app.run_test(size=(100, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(app.screen, JsonEditorScreen), what="the editor")
        app.screen.query_one(TextArea).text = '{"carrier": "by hand"}'
        await pilot.press("f2")
        await wait_for(
            pilot, lambda: "'tracking' is a required property" in screen_text(app), what="the error"
        )
        assert isinstance(app.screen, JsonEditorScreen)
        app.screen.query_one(TextArea).text = '{"tracking": "BY-HAND"}'
        await pilot.press("f2")
        await wait_for(
            pilot, lambda: not isinstance(app.screen, JsonEditorScreen), what="the editor to close"
        )
        await wait_for(pilot, lambda: f"skipped {held}" in screen_text(app), what="the toast")
    done = await engine.get(held)
    assert done is not None and done.status is ExecutionStatus.COMPLETED
    assert done.context["shipment"] == {"tracking": "BY-HAND"}


async def test_f_fails_the_held_step_and_its_on_failure_applies(clock: FrozenClock) -> None:
    engine, held = await held_engine(clock)
    app = make_app(engine)
    async with app.run_test(size=(100, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("F")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the dialog")
        await pilot.press("y")
        await wait_for(pilot, lambda: f"failed {held}" in screen_text(app), what="the toast")
    execution = await engine.get(held)
    assert execution is not None and execution.current_step_id == "pay"  # onFailure
    assert execution.context["problem"]["code"] == "HTTP_ERROR"


async def test_f_in_the_timeline_forks_from_that_step_with_the_context_before_it(clock: FrozenClock) -> None:
    engine, held = await held_engine(clock)
    app = make_app(engine)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExecutionDetailScreen), what="the detail")
        detail = app.screen
        assert isinstance(detail, ExecutionDetailScreen)
        await wait_for(pilot, lambda: len(detail.history) == 2, what="the timeline")
        await pilot.press("down")  # the ship row
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, JsonEditorScreen), what="the editor")
        text: Any = app.screen.query_one(TextArea).text
        assert '"payment"' in text and '"problem"' not in text  # the context before ship
        app.screen.query_one(TextArea).text = '{"order": 8, "payment": {"paid": true}}'
        await pilot.press("f2")
        await wait_for(pilot, lambda: "forked" in screen_text(app), what="the toast")
        await wait_for(pilot, lambda: "forks: " in screen_text(app), what="the link in the origin")
    [fork] = [e for e in (await engine.store.list_executions()).items if e.id != held]
    assert fork.current_step_id == "ship" and fork.context == {"order": 8, "payment": {"paid": True}}
    assert fork.metadata["forked_from"]["execution_id"] == held


async def test_colon_retry_works_everything_the_filter_matches_after_a_typed_count(
    clock: FrozenClock,
) -> None:
    engine, first = await held_engine(clock)
    held = [first]
    for _ in range(11):
        clock.advance(seconds=1)
        execution, _ = await engine.create("shipping", {"order": 8})
        held.append((await engine.run(execution.id)).id)
    app = make_app(engine)
    async with app.run_test(size=(100, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("slash", *"status:held flow:ship", "enter")
        await pilot.press("colon", *"retry", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the preview")
        assert "Retry all 12 executions matching 'status:held flow:ship'" in screen_text(app)
        await pilot.press(*"12", "enter")
        await wait_for(pilot, lambda: ":retry: 12 done" in screen_text(app), what="the summary")
    statuses = {(await engine.get(i)).status for i in held}  # type: ignore[union-attr]
    assert statuses == {ExecutionStatus.RUNNING}
    for execution_id in held:
        outcomes = [r.outcome for r in await engine.store.history(execution_id)]
        assert outcomes.count(StepStatus.RETRIED) == 1


async def test_the_flows_view_offers_m_to_migrate_executions_on_older_definitions(clock: FrozenClock) -> None:
    engine, held = await held_engine(clock)
    fixed = Flow.from_dict({**SHIPPING.to_dict(), "version": "1.0.1"})  # a reloaded, fixed file
    engine.flows.register(fixed)
    app = make_app(engine)
    async with app.run_test(size=(100, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("1")
        await wait_for(pilot, lambda: "1 executions on older definitions — m to migrate" in screen_text(app))
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the preview")
        assert f"onto 1.0.1 ({fixed.hash[:12]})" in screen_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: ":migrate: 1 done" in screen_text(app), what="the summary")
    migrated = await engine.get(held)
    assert migrated is not None and migrated.flow_hash == fixed.hash and migrated.flow_version == "1.0.1"
    assert (await engine.store.history(held))[-1].outcome is StepStatus.MIGRATED

"""Flow health in the console: the Flows view's columns and sparkline, the steps' numbers."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from rich.text import Text
from textual.widgets import Sparkline, Tree

from flowmonkey import ExecutionStatus, FlowHealth, MemoryStore, StepStatus
from flowmonkey_console.screens.flow_detail import FlowDetailScreen
from flowmonkey_console.widgets.flows_view import FlowsView
from flowmonkey_console.widgets.health import spark_text
from tests.console.support import FrozenClock, main_screen, make_app, make_engine, settle, wait_for
from tests.integration.test_store_health import T0, add, run_steps

NOW = T0 + timedelta(hours=1)  # the hour shown starts at the store helpers' T0


async def seeded_store() -> MemoryStore:
    store = MemoryStore()
    for minute in range(0, 60, 3):  # 20 orders: 19 completed in 1 s to 19 s, one failed
        took = timedelta(seconds=minute // 3 + 1)
        status = ExecutionStatus.FAILED if minute == 30 else ExecutionStatus.COMPLETED
        execution = await add(
            store, created=timedelta(minutes=minute), took=took, status=status, flow_id="process-order"
        )
        charge = StepStatus.FAILED if minute == 30 else StepStatus.COMPLETED
        await run_steps(store, execution, [("validate", StepStatus.COMPLETED, 40), ("ship", charge, 900)])
    return store


def cells(view: FlowsView, key: str) -> list[str]:
    return [str(cell) for cell in view.table.get_row(key)]


async def test_the_flows_view_shows_rate_p95_and_starts_per_minute() -> None:
    store = await seeded_store()
    clock = FrozenClock(NOW)
    app = make_app(make_engine(clock, store))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("1")
        await settle(pilot)
        view = screen.query_one(FlowsView)
        row = cells(view, "process-order")
        headers = [str(column.label).strip() for column in view.table.columns.values()]
        shown = dict(zip(headers, row, strict=True))
        assert shown["OK 1H"] == "95%"  # 19 of 20
        assert shown["P95 1H"] == "19.0s"  # nearest rank: the 19th of 1..20 s
        starts = [1 if minute % 3 == 0 else 0 for minute in range(60)]
        assert shown["STARTS/MIN"] == str(spark_text(starts, view.widths["starts"]))
        await wait_for(pilot, lambda: view.current_key() is not None, what="a highlighted row")
        while view.current_key() != "process-order":
            await pilot.press("down")
        await pilot.pause(0.05)
        assert screen.query_one("#flow-starts Sparkline", Sparkline).data == starts
        assert "process-order: 95% ok, p95 19.0s, 20 started/h, max 1/min" in str(
            screen.query_one("#flow-starts Static").render()
        )

        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FlowDetailScreen), what="the flow tree")
        await app.workers.wait_for_complete()
        await pilot.pause(0.05)
        tree: Tree[str] = app.screen.query_one(Tree)
        labels: dict[str, str] = {str(n.data): str(n.label) for n in tree.root.children}
        assert labels["validate"].endswith("p50 40ms  p95 40ms  ✔ 20 runs")
        assert labels["ship"].endswith("p50 900ms  p95 900ms  ✘ 1/20 failed")
        assert labels["approve"].endswith("no runs in the last hour")


def test_a_sparkline_cell_sums_minutes_into_its_width() -> None:
    text: Any = spark_text([0, 1, 0, 0, 4, 4, 2, 0], 4)
    assert isinstance(text, Text) and str(text) == "▂▁█▃"  # sums 1, 0, 8, 2: a share of 7 steps, rounded up
    assert str(spark_text([0] * 60, 10)) == "▁" * 10


class SlowHealthStore(MemoryStore):
    """Health takes until ``answer`` is set, as a big store's can: the rest is quick."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = asyncio.Event()

    async def flow_health(self, flow_id: str, *, since: datetime, until: datetime) -> FlowHealth:
        await self.answer.wait()
        return await super().flow_health(flow_id, since=since, until=until)


async def test_the_rows_and_their_counts_are_drawn_before_the_health_is_in() -> None:
    store = SlowHealthStore()
    clock = FrozenClock(NOW)
    engine = make_engine(clock, store)
    await engine.create("process-order", {"order": {"id": "o-1", "total": 3}})
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("1")
        view = screen.query_one(FlowsView)
        await wait_for(pilot, lambda: view.table.row_count > 0, what="the rows, counted or not")
        await wait_for(pilot, lambda: cells(view, "process-order")[3] != "…", what="the counts")
        shown = dict(
            zip(
                [str(c.label).strip() for c in view.table.columns.values()],
                cells(view, "process-order"),
                strict=True,
            )
        )
        assert shown["OK 1H"] == shown["P95 1H"] == "…" and shown["EXECUTIONS"] != "…"
        store.answer.set()
        await wait_for(pilot, lambda: cells(view, "process-order")[6] != "…", what="the health")

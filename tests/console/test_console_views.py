"""Pilot tests: each view shows what the store holds, at 80x24, driven by the keyboard."""

from __future__ import annotations

from textual.widgets import DataTable

from tests.console.support import FrozenClock, main_screen, make_app, make_engine, start, wait_for
from tui.widgets.execution_list import ExecutionListView


def table_text(view: object) -> str:
    table = view.query_one(DataTable)  # type: ignore[attr-defined]
    lines = []
    for row_key in table.rows:
        cells = table.get_row(row_key)
        lines.append(" ".join(getattr(c, "plain", str(c)) for c in cells))
    return "\n".join(lines)


async def test_executions_view_lists_newest_first_with_symbols(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    first = await start(engine, "process-order")
    clock.advance(seconds=5)
    second = await start(engine, "daily-report")
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await main_screen(pilot)
        view = screen.active_view
        assert isinstance(view, ExecutionListView)
        assert list(view.rows) == [second, first]
        text = table_text(view)
        assert "✘ failed" in text and "◷ waiting" in text
        await wait_for(pilot, lambda: "2 waiting" not in str(screen.query_one("StatusCounts").render()))

"""View 4: triggers with their schedule or path, state, and next and last fire."""

from __future__ import annotations

import contextlib
from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from flowmonkey import Event, EventType, FlowMonkeyError

from ..backend import TriggerState
from ..format import DASH, ago, cell
from .console_table import ConsoleTable
from .console_view import ConsoleView


class TriggersView(ConsoleView):
    """``t`` fires the selected trigger now; ``p`` pauses or unpauses it."""

    BINDINGS = [
        Binding("t", "fire", "Fire now", id="triggers.fire"),
        Binding("p", "pause", "Pause/unpause", id="triggers.pause"),
    ]

    label = "Triggers"

    def compose_body(self) -> ComposeResult:
        self.table = ConsoleTable.with_columns(
            "triggers-table",
            (
                ("id", "ID", 12),
                ("type", "TYPE", 8),
                ("flow", "FLOW", 10),
                ("when", "SCHEDULE/PATH", 13),
                ("state", "STATE", 8),
                ("next", "NEXT", 6),
                ("last", "LAST", 9),
            ),
        )
        yield self.table

    def note_event(self, event: Event) -> None:
        if event.type in (EventType.TRIGGER_FIRED, EventType.TRIGGER_FAILED):
            self.stale = True

    async def reload(self) -> None:
        triggers = await self.backend.triggers()
        needle = self.filter_text.lower()
        now = self.backend.now()
        table = self.table
        keep = self._current_id()
        table.clear()
        shown = 0
        for state in sorted(triggers, key=lambda s: s.definition.id):
            trigger = state.definition
            if needle and needle not in f"{trigger.id} {trigger.flow_id} {trigger.type}".lower():
                continue
            table.add_row(*map(cell, _cells(state, now)), key=trigger.id)
            shown += 1
        if keep is not None and shown:
            with contextlib.suppress(RowDoesNotExist):  # the kept trigger is gone
                table.move_cursor(row=table.get_row_index(keep), animate=False)
        unavailable = self.backend.features.get("triggers")
        self.set_title(
            f"{shown} triggers", "" if unavailable in (None, "on") else f"(service: {unavailable})"
        )

    def _current_id(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate)[0].value
        except CellDoesNotExist:
            return None

    def action_fire(self) -> None:
        trigger_id = self._current_id()
        if trigger_id is not None:
            self.run_worker(self._fire(trigger_id), group="action")

    async def _fire(self, trigger_id: str) -> None:
        try:
            outcome = await self.backend.fire_trigger(trigger_id)
        except FlowMonkeyError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.notify(f"fired {trigger_id}: {outcome}", markup=False)
        self.request_reload()

    def action_pause(self) -> None:
        trigger_id = self._current_id()
        if trigger_id is not None:
            self.run_worker(self._toggle(trigger_id), group="action")

    async def _toggle(self, trigger_id: str) -> None:
        trigger = await self.backend.trigger(trigger_id)
        if trigger is None:
            return
        await self.backend.set_trigger_enabled(trigger_id, not trigger.enabled)
        self.notify(f"{trigger_id} {'paused' if trigger.enabled else 'enabled'}", markup=False)
        self.request_reload()
        self.flush()


def _cells(row: TriggerState, now: datetime) -> list[str | Text]:
    trigger, last_fire = row.definition, row.last_fire
    when = (
        trigger.config.get("cron")
        or trigger.config.get("schedule")
        or trigger.config.get("path")
        or trigger.config.get("event")
    )
    state = Text("✔ on", style="green") if trigger.enabled else Text("‖ paused", style="yellow")
    last = DASH
    if last_fire is not None:
        symbol = "✔" if last_fire.status == "ok" else "✘"
        last = f"{symbol} {ago(last_fire.fired_at, now)}"
    next_at = DASH if trigger.next_run_at is None else ago(trigger.next_run_at, now)
    return [trigger.id, trigger.type.value, trigger.flow_id, str(when or trigger.id), state, next_at, last]

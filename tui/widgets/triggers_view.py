"""View 4: triggers with their schedule or path, state, and next and last fire."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

from flowmonkey import Event, EventType, FlowMonkeyError

from .. import actions
from ..availability import Availability, hidden
from ..format import DASH, ago, cell
from ..outcomes import TriggerState
from .columns import Column
from .console_view import ConsoleView, RowTimes


class TriggersView(ConsoleView):
    """``t`` fires the selected trigger now; ``p`` pauses or unpauses it."""

    BINDINGS = [
        Binding("t", "fire", "Fire now", id="triggers.fire"),
        Binding("p", "pause", "Pause/unpause", id="triggers.pause"),
    ]

    COLUMNS = (
        Column(key="id", label="ID", width=12, stretch=0.3, max_width=40),
        Column(key="type", label="TYPE", width=8),
        Column(key="flow", label="FLOW", width=10, stretch=0.3, max_width=40),
        Column(key="when", label="SCHEDULE/PATH", width=13, stretch=0.4, max_width=40),
        Column(key="state", label="STATE", width=8),
        Column(key="next", label="NEXT", width=6, stretch=0.1, max_width=10),
        Column(key="last", label="LAST", width=9, stretch=0.1, max_width=12),
    )
    label = "Triggers"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._states: dict[str, TriggerState] = {}

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
        self._states = {state.definition.id: state for state in triggers}
        for state in sorted(triggers, key=lambda s: s.definition.id):
            trigger = state.definition
            if needle and needle not in f"{trigger.id} {trigger.flow_id} {trigger.type}".lower():
                continue
            table.add_row(*map(cell, _cells(state, now)), key=trigger.id)
            shown += 1
        if keep is not None and shown:
            with contextlib.suppress(RowDoesNotExist):  # the kept trigger is gone
                table.move_cursor(row=table.get_row_index(keep), animate=False)
        self.screen.refresh_bindings()
        unavailable = self.backend.features.get("triggers")
        self.set_title(
            f"{shown} triggers", "" if unavailable in (None, "on") else f"(service: {unavailable})"
        )

    def _current_id(self) -> str | None:
        return self.current_key()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.screen.refresh_bindings()

    def availability(self, action: str) -> Availability:
        if action in ("fire", "pause", "times") and self._current_id() is None:
            return hidden("no trigger here")
        return super().availability(action)

    def row_times(self) -> RowTimes | None:
        state = self._states.get(self._current_id() or "")
        if state is None:
            return None
        trigger, last = state.definition, state.last_fire
        return f"trigger {trigger.id}", [
            ("next fire", trigger.next_run_at),
            ("last fire", last.fired_at if last is not None else None),
            ("created", trigger.created_at),
            ("updated", trigger.updated_at),
        ]

    def action_fire(self) -> None:
        trigger_id = self._current_id()
        if trigger_id is not None:
            self.run_worker(self._fire(trigger_id), group="action")

    async def _fire(self, trigger_id: str) -> None:
        try:
            outcome, execution_id = await self.backend.fire_trigger(trigger_id)
        except FlowMonkeyError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        actions.fired(self.app, trigger_id, outcome, execution_id)
        self.request_reload()

    def action_pause(self) -> None:
        trigger_id = self._current_id()
        if trigger_id is not None:
            self.run_worker(self._toggle(trigger_id), group="action")

    async def _toggle(self, trigger_id: str) -> None:
        trigger = await self.backend.trigger(trigger_id)
        if trigger is None:
            return
        try:
            await self.backend.set_trigger_enabled(trigger_id, not trigger.enabled)
        except FlowMonkeyError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
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

"""The operator's actions on executions and flows, shared by the main and the detail screen.

Each runs in a Textual worker (it waits on modal screens) and reports the outcome as a
notification. Bulk actions show how many executions they will touch before doing anything.
Widgets do not call these: they post a message, and their screen runs the action.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

from textual.app import App
from textual.binding import Binding

from flowmonkey import Execution, Flow

from .backend import ActionReport, Backend
from .format import short_id
from .screens.confirm import ConfirmScreen
from .screens.json_editor import JsonEditorScreen
from .screens.raw_json import RawJsonScreen

# Actions that change state: disabled (shown dimmed) with --readonly.
MUTATING_ACTIONS = frozenset({"resume", "cancel", "retry", "start", "fire", "pause"})

EXECUTION_BINDINGS = [
    Binding("enter", "open", "Open", id="execution.open", show=False),
    Binding("r", "resume", "Resume", id="execution.resume"),
    Binding("x", "cancel", "Cancel", id="execution.cancel"),
    Binding("R", "retry", "Retry", id="execution.retry", show=False),
    Binding("c", "copy", "Copy id", id="execution.copy", show=False),
    Binding("y", "raw", "JSON", id="execution.raw", show=False),
]


def _preview(ids: Sequence[str]) -> str:
    shown = ", ".join(short_id(i, 12) for i in ids[:4])
    return shown + (f" and {len(ids) - 4} more" if len(ids) > 4 else "")


def _report(app: App[object], report: ActionReport) -> None:
    app.notify(report.summary(), severity="warning" if report.failed else "information", markup=False)


async def resume(app: App[object], backend: Backend, ids: Sequence[str]) -> ActionReport | None:
    """Ask for the resume data (validated JSON), then resume every execution in ``ids``."""
    if not ids:
        return None
    if len(ids) > 1:
        question = f"Resume {len(ids)} marked executions with the same data?"
        if await app.push_screen_wait(ConfirmScreen(question, details=_preview(ids))) is None:
            return None
    title = f"Resume {short_id(ids[0], 14)}" if len(ids) == 1 else f"Resume {len(ids)} executions"
    answer = await app.push_screen_wait(JsonEditorScreen(f"{title} — data (JSON)", ok_label="Resume"))
    if answer is None:
        return None
    report = await backend.resume(ids, answer.value)
    _report(app, report)
    return report


async def cancel(app: App[object], backend: Backend, ids: Sequence[str]) -> ActionReport | None:
    """Confirm (with an optional reason), then cancel every execution in ``ids``."""
    if not ids:
        return None
    what = f"execution {short_id(ids[0], 14)}" if len(ids) == 1 else f"{len(ids)} marked executions"
    reason = await app.push_screen_wait(
        ConfirmScreen(f"Cancel {what}?", details=_preview(ids), ask_reason=True)
    )
    if reason is None:
        return None
    report = await backend.cancel(ids, reason)
    _report(app, report)
    return report


async def retry(app: App[object], backend: Backend, ids: Sequence[str]) -> ActionReport | None:
    """Confirm, then start a new execution for each failed one (see :meth:`Backend.retry`)."""
    if not ids:
        return None
    question = (
        f"Retry {len(ids)} failed execution(s)? Each starts anew on the same flow version "
        "with its last context (metadata retry_of)."
    )
    if await app.push_screen_wait(ConfirmScreen(question, details=_preview(ids))) is None:
        return None
    report = await backend.retry(ids)
    _report(app, report)
    return report


def copy_id(app: App[object], execution_id: str) -> None:
    """Put the id on the clipboard (OSC 52, so it works over SSH)."""
    app.copy_to_clipboard(execution_id)
    app.notify(f"copied {execution_id}", markup=False)


async def show_raw(app: App[object], backend: Backend, ids: Sequence[str]) -> None:
    """Show the first execution in ``ids`` as JSON."""
    if not ids:
        return
    execution_id = ids[0]
    execution = await backend.execution(execution_id)
    if execution is None:
        app.notify(f"no execution {execution_id}", severity="error", markup=False)
        return
    app.push_screen(RawJsonScreen(f"execution {execution_id}", execution.to_dict()))


async def start(app: App[object], backend: Backend, flow: Flow) -> Execution | None:
    """Ask for the context (a JSON object), then start an execution of ``flow``."""
    editor = JsonEditorScreen(
        f"Start {flow.id} {flow.version} — context (JSON object)", require_object=True, ok_label="Start"
    )
    answer = await app.push_screen_wait(editor)
    if answer is None:
        return None
    execution = await backend.start_execution(flow.id, answer.value)
    app.notify(f"started {execution.id}", markup=False)
    return execution


ExecutionActionName = Literal["resume", "cancel", "retry", "raw"]
ExecutionAction = Callable[[App[object], Backend, Sequence[str]], Awaitable[ActionReport | None]]
"""An action on executions; the report is None when the operator backed out (or for ``raw``)."""

EXECUTION_ACTIONS: dict[ExecutionActionName, ExecutionAction] = {
    "resume": resume,
    "cancel": cancel,
    "retry": retry,
    "raw": show_raw,
}

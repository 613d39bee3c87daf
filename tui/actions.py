"""The operator's actions on executions and flows, shared by the main and the detail screen.

Each runs in a Textual worker (it waits on modal screens) and reports the outcome as a
notification that names what it did and offers ``o`` to open the execution concerned.
Bulk actions show how many executions they will touch before doing anything; past
:data:`TYPE_THE_COUNT` the operator types the count to confirm. Widgets do not call
these: they post a message, and their screen runs the action.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

from textual.app import App
from textual.binding import Binding
from textual.message import Message

from flowmonkey import Execution, Flow

from .backend import Backend
from .format import short_id
from .outcomes import ActionReport
from .resume_data import describe, skeleton_text
from .screens.confirm import ConfirmScreen
from .screens.json_editor import JsonEditorScreen
from .screens.raw_json import RawJsonScreen

TYPE_THE_COUNT = 10
"""A bulk action on more executions than this asks the operator to type how many."""

# Shown only where they apply to the selected row (see ExecutionListView.availability).
EXECUTION_BINDINGS = [
    Binding("enter", "open", "Open", id="execution.open"),
    Binding("r", "resume", "Resume", id="execution.resume"),
    Binding("x", "cancel", "Cancel", id="execution.cancel"),
    Binding("R", "retry", "Retry", id="execution.retry"),
    Binding("S", "skip", "Skip step", id="execution.skip"),
    Binding("F", "fail", "Fail step", id="execution.fail"),
    Binding("c", "copy", "Copy", id="execution.copy"),
    Binding("y", "raw", "JSON", id="execution.raw"),
]
OPEN_AFFECTED_KEY = "o"


class AffectedExecution(Message):
    """An action changed or made ``execution_id``: the app opens it on ``o``."""

    def __init__(self, execution_id: str) -> None:
        super().__init__()
        self.execution_id = execution_id


def _preview(ids: Sequence[str]) -> str:
    shown = ", ".join(short_id(i, 12) for i in ids[:4])
    return shown + (f" and {len(ids) - 4} more" if len(ids) > 4 else "")


def _report(app: App[object], report: ActionReport) -> None:
    _tell(app, report.summary(), report.affected, warning=bool(report.failed))


def _tell(app: App[object], text: str, affected: str | None, *, warning: bool = False) -> None:
    """A toast saying what was done, and the key that opens the execution concerned."""
    if affected is not None:
        app.post_message(AffectedExecution(affected))
        text += f"\n{OPEN_AFFECTED_KEY} opens {short_id(affected, 14)}"
    app.notify(text, severity="warning" if warning else "information", markup=False)


async def _confirmed(
    app: App[object], question: str, ids: Sequence[str], *, ask_reason: bool = False
) -> str | None:
    """The operator's yes (the reason typed, or ``""``), or None; past
    :data:`TYPE_THE_COUNT` executions they must type how many."""
    count = len(ids) if len(ids) > TYPE_THE_COUNT else None
    details = _preview(ids) if len(ids) > 1 else ""  # one id is in the question already
    dialog = ConfirmScreen(question, details=details, ask_reason=ask_reason, type_count=count)
    return await app.push_screen_wait(dialog)


async def resume(app: App[object], backend: Backend, ids: Sequence[str]) -> ActionReport | None:
    """Ask for the resume data (validated JSON), then resume every execution in ``ids``.

    The editor shows the waiting step's ``resumeSchema`` and starts from a skeleton of it;
    a refusal of one execution's data (every error with its JSON path) shows in the
    editor, which stays open to fix it.
    """
    if not ids:
        return None
    if len(ids) > 1:
        question = f"Resume {len(ids)} marked executions with the same data?"
        if await _confirmed(app, question, ids) is None:
            return None
    title = f"Resume {short_id(ids[0], 14)}" if len(ids) == 1 else f"Resume {len(ids)} executions"
    schema = await backend.resume_schema(ids[0])
    sent: list[ActionReport] = []

    async def send(value: object) -> list[str]:
        report = await backend.resume(ids, value)
        sent.append(report)
        return report.failed[0][1].splitlines() if len(ids) == 1 and report.failed else []

    editor = JsonEditorScreen(
        f"{title} — data (JSON)",
        initial=skeleton_text(schema),
        ok_label="Resume",
        expects=describe(schema) if schema is not None else "",
        send=send,
    )
    if await app.push_screen_wait(editor) is None:
        return None
    _report(app, sent[-1])
    return sent[-1]


async def cancel(app: App[object], backend: Backend, ids: Sequence[str]) -> ActionReport | None:
    """Confirm (with an optional reason), then cancel every execution in ``ids``."""
    if not ids:
        return None
    what = f"execution {short_id(ids[0], 14)}" if len(ids) == 1 else f"{len(ids)} marked executions"
    reason = await _confirmed(app, f"Cancel {what}?", ids, ask_reason=True)
    if reason is None:
        return None
    report = await backend.cancel(ids, reason)
    _report(app, report)
    return report


async def retry(app: App[object], backend: Backend, ids: Sequence[str]) -> ActionReport | None:
    """Confirm, then continue each failed, cancelled or held execution from the step that
    stopped it (see :meth:`Backend.retry`)."""
    if not ids:
        return None
    what, each = (
        (f"execution {short_id(ids[0], 14)}", "It") if len(ids) == 1 else (f"{len(ids)} executions", "Each")
    )
    question = (
        f"Retry {what}? {each} continues from the step that stopped it, with the context as it "
        "was when that step started, on the handler code as it is now; steps that succeeded do not run again."
    )
    if await _confirmed(app, question, ids) is None:
        return None
    report = await backend.retry(ids)
    _report(app, report)
    return report


async def skip(app: App[object], backend: Backend, ids: Sequence[str]) -> ActionReport | None:
    """Ask for the held step's output (checked against its ``outputSchema``), then go on."""
    execution = await backend.execution(ids[0]) if ids else None
    if execution is None:
        return None
    schema = await backend.output_schema(execution)
    title = f"Skip step {execution.current_step_id} of {short_id(execution.id, 14)} — its output (JSON)"
    editor = JsonEditorScreen(title, ok_label="Skip", schema=schema)
    answer = await app.push_screen_wait(editor)
    if answer is None:
        return None
    report = await backend.skip(execution.id, answer.value)
    _report(app, report)
    return report


async def fail(app: App[object], backend: Backend, ids: Sequence[str]) -> ActionReport | None:
    """Confirm, then fail the held step (its ``onFailure`` applies, else the execution fails)."""
    if not ids:
        return None
    question = (
        f"Fail the held step of {short_id(ids[0], 14)}? Its onFailure applies, else the execution fails."
    )
    if await _confirmed(app, question, ids[:1]) is None:
        return None
    report = await backend.fail_step(ids[0])
    _report(app, report)
    return report


async def fork(
    app: App[object], backend: Backend, execution_id: str, step_id: str, visit: int | None
) -> None:
    """Open the context as it was before the step in the editor, then fork from there."""
    context = await backend.context_before(execution_id, step_id, visit)
    title = f"Fork {short_id(execution_id, 14)} from step {step_id} — context (JSON object)"
    editor = JsonEditorScreen(
        title, initial=json.dumps(context, indent=2), require_object=True, ok_label="Fork"
    )
    answer = await app.push_screen_wait(editor)
    if answer is None:
        return
    forked = await backend.fork(execution_id, step_id, answer.value)
    _tell(app, f"forked {short_id(execution_id, 14)} at {step_id} as {forked.id}", forked.id)


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
    _tell(app, f"started {flow.id} {flow.version} as {execution.id}", execution.id)
    return execution


def fired(app: App[object], trigger_id: str, outcome: str, execution_id: str | None) -> None:
    """Say what firing ``trigger_id`` did (and offer the execution it started)."""
    _tell(app, f"fired {trigger_id}: {outcome}", execution_id)


ExecutionActionName = Literal["resume", "cancel", "retry", "skip", "fail", "raw"]
ExecutionAction = Callable[[App[object], Backend, Sequence[str]], Awaitable[ActionReport | None]]
"""An action on executions; the report is None when the operator backed out (or for ``raw``)."""

EXECUTION_ACTIONS: dict[ExecutionActionName, ExecutionAction] = {
    "resume": resume,
    "cancel": cancel,
    "retry": retry,
    "skip": skip,
    "fail": fail,
    "raw": show_raw,
}

"""``:cancel``, ``:retry``, ``:resume`` and ``:migrate``: an action on everything the current
filter of an executions view matches, across all pages.

The set is frozen at the preview (its count and first ids, in the confirmation), which
past :data:`~.actions.TYPE_THE_COUNT` executions asks to type the count; it is then worked
in batches (see :class:`flowmonkey.BulkRun`) with a progress line in the status bar.
``:resume`` asks for one JSON body for all; ``:migrate`` moves the filter's flow (``flow:``)
to its live definition, each execution checked first (the refused are counted, with why).
"""

from __future__ import annotations

from dataclasses import replace

from textual.app import App

from flowmonkey import BulkProgress, ExecutionQuery, ExecutionStatus, Flow

from .actions import TYPE_THE_COUNT
from .availability import READONLY
from .backend import Backend
from .format import short_id
from .screens.confirm import ConfirmScreen
from .screens.json_editor import JsonEditorScreen
from .widgets.status_counts import StatusCounts

BULK_COMMANDS = ("cancel", "retry", "resume", "migrate")
_ACTIVE = {ExecutionStatus.PENDING, ExecutionStatus.RUNNING, ExecutionStatus.WAITING, ExecutionStatus.HELD}
_APPLIES = {
    "cancel": _ACTIVE,
    "retry": {ExecutionStatus.FAILED, ExecutionStatus.CANCELLED, ExecutionStatus.HELD},
    "resume": {ExecutionStatus.WAITING},
    "migrate": _ACTIVE,
}


def bulk_query(name: str, query: ExecutionQuery) -> ExecutionQuery | None:
    """The view's query narrowed to the statuses the action applies to (None: none left)."""
    applies = _APPLIES[name]
    statuses = [s for s in query.statuses if s in applies] if query.statuses else sorted(applies)
    return replace(query, statuses=tuple(statuses)) if statuses else None


async def run_bulk(
    app: App[object], backend: Backend, name: str, query: ExecutionQuery, filter_text: str, line: StatusCounts
) -> None:
    """Preview, confirm, then run the bulk action ``name`` (see the module docstring)."""
    if backend.readonly:
        app.notify(READONLY, severity="error", markup=False)
        return
    target: Flow | None = None
    if name == "migrate":
        target = backend.flow(query.flow_id or "")
        if target is None:
            app.notify(
                ":migrate needs a filter naming a loaded flow (flow:ID)", severity="error", markup=False
            )
            return
    narrowed = bulk_query(name, query)
    plan = await backend.bulk_preview(narrowed) if narrowed is not None else None
    if plan is None or plan.count == 0:
        app.notify(f":{name}: no execution matches {filter_text or 'this view'}", markup=False)
        return
    what = (
        f"all {plan.count:,} executions matching {filter_text!r}"
        if filter_text
        else f"all {plan.count:,} executions"
    )
    onto = f" onto {target.version} ({target.hash[:12]})" if target is not None else ""
    question = f"{name.capitalize()} {what}{onto}? Those created after this preview are left alone."
    first = ", ".join(short_id(i, 12) for i in plan.first_ids[:4]) + (" …" if plan.count > 4 else "")
    count = plan.count if plan.count > TYPE_THE_COUNT else None
    if await app.push_screen_wait(ConfirmScreen(question, details=first, type_count=count)) is None:
        return
    value: object = target
    if name == "resume":
        answer = await app.push_screen_wait(
            JsonEditorScreen(f"Resume {plan.count:,} executions — data (JSON)")
        )
        if answer is None:
            return
        value = answer.value

    def show(progress: BulkProgress) -> None:
        line.progress = f":{name}: {progress.seen:,} of {progress.total:,} ({progress.done:,} done)"

    try:
        result = await backend.bulk_run(plan, name, value, show).run()
    finally:
        line.progress = ""
    on_target = result.refused.pop("ON_TARGET", 0)  # a migration's: already there
    refused = sum(result.refused.values())
    reasons = ", ".join(f"{n} {code}" for code, n in result.refused.most_common(3))
    summary = f":{name}: {result.done:,} done" + (f", {refused:,} refused ({reasons})" if refused else "")
    summary += f", {on_target:,} on it already" if on_target else ""
    app.notify(summary, severity="warning" if refused else "information", markup=False)

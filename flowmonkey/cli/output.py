"""How the commands print: rich text for people, JSON for scripts (``--json``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

from flowmonkey.model import Execution, ExecutionStatus

STATUS_MARKS = {
    ExecutionStatus.PENDING: ("·", "dim"),
    ExecutionStatus.RUNNING: ("▶", "cyan"),
    ExecutionStatus.WAITING: ("◷", "yellow"),
    ExecutionStatus.HELD: ("⏸", "yellow"),
    ExecutionStatus.COMPLETED: ("✔", "green"),
    ExecutionStatus.FAILED: ("✘", "red"),
    ExecutionStatus.CANCELLED: ("⊘", "magenta"),
}

# Piped output is read by people too (less, CI logs): give tables room rather than 80 columns.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(args: argparse.Namespace, message: str, *, code: str = "ERROR", details: Any = None) -> None:
    """Report a failure: with ``--json`` as ``{"error": {"code", "message", "details"}}`` on
    stdout (every command, every error: one shape for scripts), else on stderr."""
    if getattr(args, "json", False):
        print_error_json(code, message, details)
    else:
        err.print(f"[red]error:[/red] {escape(f'{code}: {message}' if code != 'ERROR' else message)}")


def print_error_json(code: str, message: str, details: Any = None) -> None:
    error = {"code": code, "message": message, "details": details if details is not None else {}}
    print(json.dumps({"error": error}, default=str, ensure_ascii=False))


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def status_text(status: ExecutionStatus) -> str:
    mark, colour = STATUS_MARKS[status]
    return f"[{colour}]{mark} {status.value}[/{colour}]"


def print_summary(execution: Execution) -> None:
    """An execution's status, where it stands, its error and its context."""
    out.print(f"status   {status_text(execution.status)}")
    if execution.current_step_id and not execution.is_terminal:
        out.print(f"step     {escape(execution.current_step_id)}")
    if execution.status is ExecutionStatus.WAITING:
        out.print(f"waiting  {escape(execution.wait_reason or '')}")
        if execution.wake_at:
            out.print(f"wakes    {execution.wake_at.isoformat()}")
    if execution.error:
        out.print(f"error    [red]{escape(execution.error.code)}[/red]: {escape(execution.error.message)}")
    if execution.cancellation:
        cancel = execution.cancellation
        out.print(f"cancel   by {escape(cancel.source)}: {escape(cancel.reason or '')}")
    out.print("context  " + escape(json.dumps(execution.context, default=str, ensure_ascii=False)))

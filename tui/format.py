"""How values look on screen: status symbols and words, relative times, short ids.

Status is never shown by colour alone: every status has a symbol and a word.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from rich.text import Text

from flowmonkey import ExecutionStatus, StepStatus

STATUS_SYMBOLS: dict[str, str] = {
    ExecutionStatus.PENDING: "…",
    ExecutionStatus.RUNNING: "▶",
    ExecutionStatus.WAITING: "◷",
    ExecutionStatus.HELD: "⏸",
    ExecutionStatus.COMPLETED: "✔",
    ExecutionStatus.FAILED: "✘",
    ExecutionStatus.CANCELLED: "⊘",
    StepStatus.RETRY: "↻",
    StepStatus.RESUMED: "↪",
    StepStatus.TAKEOVER: "↻",  # with its note: "re-run: worker w1 was lost (...)"
    StepStatus.HELD: "⏸",
    StepStatus.RETRIED: "⟲",
    StepStatus.SKIPPED: "⤼",
    StepStatus.MIGRATED: "⇢",
}

STATUS_STYLES: dict[str, str] = {
    ExecutionStatus.PENDING: "dim",
    ExecutionStatus.RUNNING: "bold cyan",
    ExecutionStatus.WAITING: "yellow",
    ExecutionStatus.HELD: "bold yellow",
    ExecutionStatus.COMPLETED: "green",
    ExecutionStatus.FAILED: "bold red",
    ExecutionStatus.CANCELLED: "magenta",
    StepStatus.RETRY: "yellow",
    StepStatus.RESUMED: "cyan",
    StepStatus.TAKEOVER: "bold yellow",
    StepStatus.RETRIED: "cyan",
    StepStatus.SKIPPED: "cyan",
    StepStatus.MIGRATED: "cyan",
}

# The order statuses are counted in, in the status bar and the flows table.
COUNT_ORDER = (
    ExecutionStatus.COMPLETED,
    ExecutionStatus.WAITING,
    ExecutionStatus.HELD,
    ExecutionStatus.RUNNING,
    ExecutionStatus.PENDING,
    ExecutionStatus.FAILED,
    ExecutionStatus.CANCELLED,
)

DASH = "—"


def status_text(status: str) -> Text:
    """``✔ completed``: symbol and word, coloured as a bonus."""
    return Text(f"{STATUS_SYMBOLS.get(status, '?')} {status}", style=STATUS_STYLES.get(status, ""))


def count_text(counts: dict[ExecutionStatus, int], *, compact: bool = False) -> Text:
    """``✔ 1,102 completed  ◷ 87 waiting ...`` (compact: ``✔1102 ◷87``)."""
    text = Text()
    for status in COUNT_ORDER:
        number = counts.get(status, 0)
        if status in (ExecutionStatus.PENDING, ExecutionStatus.HELD) and not number:
            continue  # rarely non-zero for long; the line must fit 80 columns
        if compact:
            if number:
                text.append(f"{STATUS_SYMBOLS[status]}{number} ", style=STATUS_STYLES[status])
            continue
        text.append(f"{STATUS_SYMBOLS[status]} {number:,} {status.value}", style=STATUS_STYLES[status])
        text.append("  ")
    text.rstrip()
    return text if text.plain else Text(DASH)


def short_id(execution_id: str, width: int = 10) -> str:
    """``01J9X…3F``: the time prefix and the tail, which together tell ids apart."""
    if len(execution_id) <= width:
        return execution_id
    head = width - 3
    return f"{execution_id[:head]}…{execution_id[-2:]}"


def ago(then: datetime | None, now: datetime) -> str:
    """``2h ago``, ``in 5m``, or a dash."""
    if then is None:
        return DASH
    delta = now - then
    if delta < timedelta(0):
        return f"in {span(-delta)}"
    return f"{span(delta)} ago"


def span(delta: timedelta) -> str:
    """A duration in its largest unit: ``45s``, ``12m``, ``3h``, ``2d``."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def duration_ms(ms: float) -> str:
    """``12ms``, ``1.4s``, ``3m``."""
    if ms < 1000:
        return f"{ms:.0f}ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    return span(timedelta(milliseconds=ms))


def clock_time(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S")


def to_json(value: Any) -> str:
    """Pretty JSON for display; anything not JSON is shown by its ``str``."""
    return json.dumps(value, indent=2, sort_keys=False, default=str, ensure_ascii=False)


def cell(value: str | Text) -> Text:
    """A table cell as literal text: a plain ``str`` would be parsed as Rich markup, and
    ids, reasons and payloads (``[deadline …]``) must show as they are."""
    if isinstance(value, Text):
        return value
    return Text(value, no_wrap=True, overflow="ellipsis", end="")


def elide_file(where: str, width: int) -> str:
    """``expense-ap…:12:5``: ``file:line:col`` in ``width`` cells, cutting the file name
    and never the line and column."""
    if len(where) <= width:
        return where
    name, sep, place = where.partition(":")
    room = width - len(sep + place) - 1
    if room < 1:
        return "…" + where[len(where) - width + 1 :]
    return f"{name[:room]}…{sep}{place}"

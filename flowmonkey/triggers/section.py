"""The ``triggers:`` section of a flow file, checked when the file loads.

Pass :data:`TRIGGERS_SECTION` to whatever loads flow files
(``FlowDirectory(..., sections=[TRIGGERS_SECTION])``, ``parse_flow(..., sections=...)``), so
a bad declaration is reported with its file, line and column instead of being skipped
when the flow is synced.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from flowmonkey.errors import TriggerError
from flowmonkey.model import Flow
from flowmonkey.triggers.config import parse_declaration

Finding = tuple[tuple[str | int, ...], str]


class TriggersSection:
    """Checks every item of a flow's ``triggers:`` list (a flow-file section checker)."""

    name = "triggers"

    def check(self, flow: Flow) -> Iterator[Finding]:
        """Every error, as (path inside ``triggers``, message)."""
        for index, item in enumerate(flow.triggers):
            # The cron and zone are pointed at first; the rest is what registering would say.
            placed = list(_schedule_problems(item, index))
            yield from placed or _declaration_problems(flow, index, item)

    def __repr__(self) -> str:
        return "TRIGGERS_SECTION"


TRIGGERS_SECTION = TriggersSection()
"""The checker of the ``triggers:`` section, for ``FlowDirectory`` and ``parse_flow``."""


def _schedule_problems(item: Mapping[str, Any], index: int) -> Iterator[Finding]:
    cron = item.get("cron")
    if isinstance(cron, str) and not croniter.is_valid(cron):
        yield (index, "cron"), f'invalid cron expression "{cron}"'
    zone = item.get("timezone")
    if isinstance(zone, str):
        try:
            ZoneInfo(zone)
        except (ValueError, OSError, ZoneInfoNotFoundError):
            yield (index, "timezone"), f'unknown time zone "{zone}"'


def _declaration_problems(flow: Flow, index: int, item: Any) -> Iterator[Finding]:
    try:
        parse_declaration(flow.id, index, item)
    except TriggerError as exc:
        yield (index,), exc.message
    except Exception as exc:  # e.g. an inputSchema jsonschema cannot even inspect
        yield (index,), f"invalid trigger: {type(exc).__name__}: {exc}"

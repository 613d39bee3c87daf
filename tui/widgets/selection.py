"""What an execution list's actions act on (the marked rows, else the cursor's) and whether
they apply to it, by status."""

from __future__ import annotations

from collections.abc import Mapping, Set

from flowmonkey import Execution

from ..availability import APPLIES_TO, USABLE, Availability, for_statuses, hidden
from ..format import short_id

ROW_ACTIONS = frozenset({"open", "copy", "raw", "mark", "times"})
"""Actions that need a row under the cursor, whatever its status."""


def targets(
    action: str | None, current: str | None, rows: Mapping[str, Execution], marked: Set[str]
) -> list[str]:
    """The marked executions that ``action`` applies to (newest first), else ``current``.

    A marked execution on another page is kept: the store decides for it.
    """
    if marked:
        applies = APPLIES_TO.get(action or "")
        fits = [i for i in marked if applies is None or i not in rows or rows[i].status in applies]
        return sorted(fits, reverse=True)
    return [current] if current else []


def applicability(
    action: str, current: str | None, rows: Mapping[str, Execution], marked: Set[str]
) -> Availability:
    """Whether ``action`` applies to what it would act on (read-only is decided elsewhere)."""
    if action in ROW_ACTIONS and current is None:
        return hidden("no execution here")
    if action == "unmark" and not marked:
        return hidden("nothing is marked")
    if action not in APPLIES_TO:
        return USABLE
    if marked:
        known = [rows[i].status for i in marked if i in rows]
        if len(known) < len(marked):
            known.extend(APPLIES_TO[action])  # marks on other pages: let the store decide
        return for_statuses(action, known, "every marked execution")
    if current is None or current not in rows:
        return hidden("no execution here")
    return for_statuses(action, [rows[current].status], short_id(current, 14))

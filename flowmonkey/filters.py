"""The filter language of the console's executions views (``/``) and of the bulk commands
(``flowmonkey cancel --filter ...``): one parser for both.

``status:failed,waiting flow:process-order since:1h 01J9X`` — ``key:value`` words narrow
the query; any other word must be part of the id. Every word must match. ``flow:`` takes
a prefix of a known flow id (``flow:expense`` is ``expense-approval``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from flowmonkey.model import ExecutionStatus
from flowmonkey.stores.base import ExecutionQuery

_SINCE = re.compile(r"^(\d+)(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class FilterError(ValueError):
    """The filter text cannot be understood; the message says which word and why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionFilter:
    """A parsed filter: what the user typed and the query it means (``since`` kept relative)."""

    text: str = ""
    statuses: tuple[ExecutionStatus, ...] = ()
    flow_id: str | None = None
    since: timedelta | None = None
    id_contains: str | None = None

    def query(self, now: datetime, *, statuses: tuple[ExecutionStatus, ...] = ()) -> ExecutionQuery:
        """The store query at ``now``; ``statuses`` (a view's own) apply when none were typed."""
        return ExecutionQuery(
            statuses=self.statuses or statuses,
            flow_id=self.flow_id,
            created_after=now - self.since if self.since is not None else None,
            id_contains=self.id_contains,
        )


def parse_filter(text: str, *, flow_ids: Collection[str] = ()) -> ExecutionFilter:
    """Parse the filter language; ``flow:`` prefixes are resolved among ``flow_ids``.

    Raises :class:`FilterError` naming the bad word.
    """
    parsers: dict[str, Callable[[ExecutionFilter, str], ExecutionFilter]] = {
        **_PARSERS,
        "flow": partial(_flow, flow_ids=flow_ids),
    }
    result = ExecutionFilter(text=text.strip())
    for word in text.split():
        key, sep, value = word.partition(":")
        if not sep:
            result = replace(result, id_contains=word)
            continue
        parser = parsers.get(key.lower())
        if parser is None:
            raise FilterError(f"unknown filter {key!r} in {word!r} (use status:, flow:, since:)")
        if not value:
            raise FilterError(f"{word!r} needs a value after the colon")
        result = parser(result, value)
    return result


def _statuses(result: ExecutionFilter, value: str) -> ExecutionFilter:
    statuses: list[ExecutionStatus] = []
    for name in value.split(","):
        try:
            statuses.append(ExecutionStatus(name.lower()))
        except ValueError:
            known = ", ".join(s.value for s in ExecutionStatus)
            raise FilterError(f"unknown status {name!r} (expected one of {known})") from None
    return replace(result, statuses=tuple(statuses))


def _flow(result: ExecutionFilter, value: str, *, flow_ids: Collection[str]) -> ExecutionFilter:
    """The flow id itself, else the one known id it begins (a retired flow by its full id)."""
    starting = sorted(flow_id for flow_id in flow_ids if flow_id.startswith(value))
    if value in flow_ids or not starting:
        return replace(result, flow_id=value)
    if len(starting) > 1:
        raise FilterError(f"flow:{value} could be {', '.join(starting)}: type more of it")
    return replace(result, flow_id=starting[0])


def _since(result: ExecutionFilter, value: str) -> ExecutionFilter:
    match = _SINCE.match(value.lower())
    if match is None:
        raise FilterError(f"since:{value} is not a duration like 30m, 1h, 7d")
    amount, unit = match.groups()
    return replace(result, since=timedelta(seconds=int(amount) * _UNITS[unit]))


_PARSERS = {"status": _statuses, "since": _since}

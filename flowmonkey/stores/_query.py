"""Query building shared by the SQL stores, and URL masking for display."""

from __future__ import annotations

from typing import Any

from flowmonkey.stores._columns import EncodeTime
from flowmonkey.stores._urls import mask_url as mask_url  # where it lives; kept for callers
from flowmonkey.stores.base import ExecutionQuery


def like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere (``\\`` escapes ``%`` and ``_``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Params:
    """Collects query parameters; ``add`` returns the placeholder for the dialect."""

    def __init__(self, style: str) -> None:
        self.values: list[Any] = []
        self._numbered = style == "numbered"  # PostgreSQL $1, $2, ...; else SQLite ?

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}" if self._numbered else "?"


def execution_filter(query: ExecutionQuery, params: Params, enc: EncodeTime, like: str) -> list[str]:
    """SQL conditions (ANDed by the caller) for every filter ``query`` sets."""
    where: list[str] = []
    if query.statuses:
        where.append(f"status IN ({', '.join(params.add(s.value) for s in query.statuses)})")
    for column, value in (
        ("flow_id", query.flow_id),
        ("tenant_id", query.tenant_id),
        ("parent_execution_id", query.parent_execution_id),
    ):
        if value is not None:
            where.append(f"{column} = {params.add(value)}")
    if query.created_after is not None:
        where.append(f"created_at >= {params.add(enc(query.created_after))}")
    if query.created_before is not None:
        where.append(f"created_at < {params.add(enc(query.created_before))}")
    if query.id_contains:
        where.append(f"id {like} {params.add(like_pattern(query.id_contains))} ESCAPE '\\'")
    return where

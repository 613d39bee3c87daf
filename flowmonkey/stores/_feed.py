"""The change feed's cursors: a store's position in its feed, written as a short string.

A cursor names the last record a reader has (``m12`` in memory, ``s12`` on SQLite,
``p7305.12`` on PostgreSQL: the writing transaction's id and the record's feed sequence).
A cursor of another kind of store, or one that is not a cursor, is refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from flowmonkey.errors import StoreError
from flowmonkey.stores._columns import STEP_RECORDS, DecodeTime
from flowmonkey.stores.base import FeedEntry, FeedPage


def cursor(kind: str, *numbers: int) -> str:
    """The cursor of ``kind`` (one letter) at ``numbers``."""
    return kind + ".".join(str(number) for number in numbers)


def position(value: str | None, kind: str, size: int) -> tuple[int, ...] | None:
    """The numbers of a ``kind`` cursor (None for ``None``: the feed's newest records)."""
    if value is None:
        return None
    parts = value[1:].split(".")
    if value[:1] != kind or len(parts) != size or not all(part.isdigit() for part in parts):
        raise StoreError(f"not a change feed cursor of this store: {value!r}")
    return tuple(int(part) for part in parts)


def page(rows: Sequence[Sequence[Any]], dec: DecodeTime, kind: str, width: int, before: str) -> FeedPage:
    """The feed page of ``rows``, oldest first: each row is its position (``width``
    numbers), its execution's flow, then the history record's columns. The cursor is the
    last row's position (``before`` when there is none)."""
    entries = [
        FeedEntry(record=STEP_RECORDS.from_row(row[width + 1 :], dec), flow_id=row[width]) for row in rows
    ]
    return FeedPage(entries=entries, cursor=cursor(kind, *rows[-1][:width]) if rows else before)


async def read_postgres(
    fetch: Callable[..., Awaitable[list[Any]]], queries: Mapping[str, str], after: str | None, limit: int
) -> FeedPage:
    """PostgreSQL's feed page (``fetch(what, query, *args)``: the store's)."""
    start = position(after, "p", 2)
    if start is None:
        rows = list(reversed(await fetch("feed", queries["feed_tail"], limit)))
    else:
        rows = await fetch("feed", queries["feed_after"], str(start[0]), start[1], limit)
    return page(rows, lambda value: value, "p", 2, after or cursor("p", 0, 0))


async def read_sqlite(
    fetch: Callable[[str, tuple[Any, ...]], Awaitable[list[Any]]],
    dec: DecodeTime,
    after: str | None,
    limit: int,
) -> FeedPage:
    """SQLite's feed page (``fetch(query name, parameters)``: the store's reader)."""
    start = position(after, "s", 1)
    if start is None:
        rows = list(reversed(await fetch("feed_tail", (limit,))))
    else:
        rows = await fetch("feed_after", (start[0], limit))
    return page(rows, dec, "s", 1, after or cursor("s", 0))

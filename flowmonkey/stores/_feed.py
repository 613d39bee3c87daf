"""The change feed's cursors: a store's position in its feed, written as a short string.

A cursor names the last record a reader has (``m12`` in memory, ``s12`` on SQLite,
``p7305.12`` on PostgreSQL: the writing transaction's id and the record's feed sequence).
A cursor of another kind of store, or one that is not a cursor, is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
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

"""Fan-in on SQLite: the statements, as functions run on the writer's (or reader's) thread.

A child's end (:func:`children_ended`) runs inside the transaction of its terminal commit
(:mod:`._sqlite_commit`): it marks the child's join row ended and moves its fan's counters
on, and returns only the parents to wake: those of children without a join row, and
those whose fan crossed a threshold (:func:`~flowmonkey.model.fanout.wakes_parent`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from flowmonkey.model.fanout import wakes_parent
from flowmonkey.stores._fan_rows import FAN_COLUMN_LIST, FAN_COLUMNS, fan_of

Ended = tuple[str, Any, str, int]
"""A child's end: (parent id, the commit's time, child id, 1 if it did not complete)."""

_GET = f"SELECT {FAN_COLUMN_LIST} FROM fan_ins WHERE fan_id = ?"
_INSERT = f"INSERT OR IGNORE INTO fan_ins ({FAN_COLUMN_LIST}) VALUES ({', '.join('?' * len(FAN_COLUMNS))})"
_JOIN = "INSERT OR IGNORE INTO fan_children (child_id, fan_id, idx) VALUES (?, ?, ?)"
_STARTED = "UPDATE fan_ins SET started = started + ? WHERE fan_id = ?"
_PARENT_ACTIVE = (
    "SELECT 1 FROM executions WHERE id = ? AND status IN ('pending', 'running', 'waiting', 'held')"
)
_JOIN_OF = "SELECT fan_id, ended FROM fan_children WHERE child_id = ?"
_MARK_ENDED = "UPDATE fan_children SET ended = 1 WHERE child_id = ?"
_COUNT_END = (
    "UPDATE fan_ins SET done = done + 1, failed = failed + ?, succeeded = succeeded + ? "
    f"WHERE fan_id = ? RETURNING {FAN_COLUMN_LIST}"
)


def get(conn: sqlite3.Connection, fan_id: str) -> Any:
    return conn.execute(_GET, (fan_id,)).fetchone()


def open_fan(conn: sqlite3.Connection, row: Sequence[Any]) -> Any:
    conn.execute(_INSERT, row)
    return get(conn, row[0])


def add_children(
    conn: sqlite3.Connection,
    fan_id: str,
    parent_id: str,
    children: list[tuple[int, str, Sequence[Any]]],
    insert: str,
) -> Any:
    """Insert each child whose index is free, with its join row; count them started."""
    if conn.execute(_PARENT_ACTIVE, (parent_id,)).fetchone() is not None:
        added = 0
        for index, child_id, row in children:
            if conn.execute(_JOIN, (child_id, fan_id, index)).rowcount == 1:
                conn.execute(insert, row)
                added += 1
        if added:
            conn.execute(_STARTED, (added, fan_id))
    return get(conn, fan_id)


def children(
    conn: sqlite3.Connection, fan_id: str, running: bool, columns: str, limit: int | None
) -> list[Any]:
    """The children's execution rows in index order."""
    only = " AND c.ended = 0" if running else ""
    sql = (
        f"SELECT {columns} FROM fan_children AS c JOIN executions AS e ON e.id = c.child_id "
        f"WHERE c.fan_id = ?{only} ORDER BY c.idx LIMIT ?"
    )
    return conn.execute(sql, (fan_id, -1 if limit is None else limit)).fetchall()


def of_parent(conn: sqlite3.Connection, parent_id: str) -> list[Any]:
    sql = f"SELECT {FAN_COLUMN_LIST} FROM fan_ins WHERE parent_id = ? ORDER BY rowid"
    return conn.execute(sql, (parent_id,)).fetchall()


def children_ended(conn: sqlite3.Connection, ends: list[Ended]) -> list[tuple[str, Any]]:
    """Count each child's end; the (parent, time) pairs to wake."""
    wakes = []
    for parent, at, child_id, failed in ends:
        join = conn.execute(_JOIN_OF, (child_id,)).fetchone()
        if join is None:
            wakes.append((parent, at))
            continue
        if join[1]:
            continue
        conn.execute(_MARK_ENDED, (child_id,))
        after = fan_of(conn.execute(_COUNT_END, (failed, 1 - failed, join[0])).fetchone())
        before = after.ended(-failed, failed - 1)
        if wakes_parent(before, after):
            wakes.append((parent, at))
    return wakes

"""Step commits on SQLite: compare-and-set updates of many executions in few statements.

A commit writes only the columns its change touches; SQLite then leaves untouched the
indexes on columns that did not change (status, wake and timeout times), which is most
of what an UPDATE costs. Rows are written with multi-row statements because the sqlite3
module releases and retakes the GIL at every statement step: one statement per row would
make the writer thread contend with the event loop dozens of times per batch.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from flowmonkey.stores._changes import COMMIT_COLUMNS, lease_given_back
from flowmonkey.stores._columns import STEP_RECORDS
from flowmonkey.stores._fan_sqlite import Ended, children_ended
from flowmonkey.stores._sql import queries

Wake = Ended
"""A child's end to count and perhaps wake its parent with: (parent id, the commit's
time, child id, 1 if the child did not complete); see :mod:`._fan_sqlite`."""
Request = tuple[Sequence[Any], str, int, tuple[int, ...], Sequence[Any] | None, Wake | None]
"""(the values of the columns to write, execution id, expected revision, those columns as
indexes into COMMIT_COLUMNS, history row or None, the parent to wake or None)."""

_WAKE_PARENT = queries("sqlite", "?")["wake_parent"]


def commit(
    conn: sqlite3.Connection,
    values: Sequence[Any],
    execution_id: str,
    expected: int,
    columns: tuple[int, ...],
    record: Sequence[Any] | None,
    wake: Wake | None = None,
) -> bool:
    """Apply one commit if the stored revision is still ``expected``."""
    params = [*values, execution_id, expected]
    if conn.execute(_update_sql(columns), params).rowcount != 1:
        return False
    if record is not None:
        conn.execute(_insert_records_sql(1), record)
    if wake is not None:
        _wake_parents(conn, [wake])
    return True


def _wake_parents(conn: sqlite3.Connection, ends: list[Wake]) -> None:
    wakes = children_ended(conn, ends)
    if wakes:
        conn.executemany(_WAKE_PARENT, [{"parent": parent, "at": at} for parent, at in wakes])


def commit_many(conn: sqlite3.Connection, batch: list[Request]) -> list[bool]:
    """:func:`commit` for every request, in few statements; one outcome per request.

    A second commit of an execution already in the batch runs after the others, alone,
    so its compare-and-set sees the first one's outcome.
    """
    firsts: dict[str, int] = {}
    for i, request in enumerate(batch):
        firsts.setdefault(request[1], i)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i in firsts.values():
        by_shape.setdefault(batch[i][3], []).append(i)
    outcomes = [False] * len(batch)
    for columns, indexes in by_shape.items():
        start = 0
        for size in _chunks(len(indexes)):
            chunk = indexes[start : start + size]
            start += size
            won = _commit_chunk(conn, columns, [batch[i] for i in chunk])
            for i, ok in zip(chunk, won, strict=True):
                outcomes[i] = ok
    lead = set(firsts.values())
    for i, request in enumerate(batch):
        if i not in lead:
            outcomes[i] = commit(conn, *request)
    return outcomes


_CHUNK_SIZES = (64, 32, 16, 8, 4, 2, 1)  # few statement shapes, so all stay prepared


def _chunks(n: int) -> list[int]:
    sizes = []
    for size in _CHUNK_SIZES:
        while n >= size:
            sizes.append(size)
            n -= size
    return sizes


def _commit_chunk(conn: sqlite3.Connection, columns: tuple[int, ...], chunk: list[Request]) -> list[bool]:
    if len(chunk) == 1:
        return [commit(conn, *chunk[0])]
    keys = [key for request in chunk for key in request[1:3]]
    (found,) = conn.execute(_winners_sql(len(chunk)), keys).fetchone()
    winners = set(json.loads(found))
    won = [request for request in chunk if request[1] in winners]
    if won:
        params = [value for values, id_, rev, *_ in won for value in (*values, id_, rev)]
        conn.execute(_update_many_sql(columns, len(won)), params)
    records = [request[4] for request in won if request[4] is not None]
    if records:
        conn.execute(_insert_records_sql(len(records)), [value for record in records for value in record])
    wakes = [request[5] for request in won if request[5] is not None]
    if wakes:
        _wake_parents(conn, wakes)
    return [request[1] in winners for request in chunk]


def _values(rows: int, columns: int) -> str:
    row = f"({', '.join('?' * columns)})"
    return ", ".join([row] * rows)


_STATUS = COMMIT_COLUMNS.index("status")  # only a commit that writes it can end its execution


@functools.lru_cache(maxsize=256)
def _update_sql(columns: tuple[int, ...]) -> str:
    assignments = ", ".join(f"{COMMIT_COLUMNS[i]} = ?" for i in columns)
    if _STATUS in columns:  # ?N: the status parameter again (numbered after the plain ? before it)
        assignments += lease_given_back(f"?{columns.index(_STATUS) + 1}")
    return f"UPDATE executions SET {assignments} WHERE id = ? AND revision = ?"


@functools.cache
def _winners_sql(rows: int) -> str:
    return (
        "SELECT json_group_array(e.id) FROM executions AS e "
        f"JOIN (VALUES {_values(rows, 2)}) AS v ON e.id = v.column1 AND e.revision = v.column2"
    )


@functools.lru_cache(maxsize=512)
def _update_many_sql(columns: tuple[int, ...], rows: int) -> str:
    names = [*(COMMIT_COLUMNS[i] for i in columns), "id", "expected"]
    assignments = ", ".join(f"{COMMIT_COLUMNS[i]} = v.{COMMIT_COLUMNS[i]}" for i in columns)
    if _STATUS in columns:
        assignments += lease_given_back("v.status")
    return (
        f"WITH v({', '.join(names)}) AS (VALUES {_values(rows, len(names))}) "
        f"UPDATE executions SET {assignments} FROM v "
        "WHERE executions.id = v.id AND executions.revision = v.expected"
    )


@functools.cache
def _insert_records_sql(rows: int) -> str:
    return f"INSERT INTO step_records ({STEP_RECORDS.column_list}) VALUES {_values(rows, len(STEP_RECORDS.names))}"

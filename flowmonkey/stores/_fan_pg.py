"""Fan-in on PostgreSQL: the :class:`~flowmonkey.stores.base.FanInStore` part of the
store, and the count of children's ends inside the transaction of their terminal commits.

Ends are counted per fan with one ``UPDATE ... RETURNING`` of its counters; the row lock
serializes the children of one fan, and each sees the counters before and after its own
ends, so exactly one transaction crosses each threshold the parent waits for. Locks are
taken in one order everywhere (execution rows in id order, then the fan's row), so a
child's end, the parent starting children and the parent's own commit in the same batch
as a child's end never deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from flowmonkey.change import Change
from flowmonkey.model import Execution, ExecutionStatus
from flowmonkey.model.fanout import FanIn, wakes_parent
from flowmonkey.stores import _pg_sql as sql
from flowmonkey.stores._columns import EXECUTIONS, as_is
from flowmonkey.stores._errors import again_if_contended
from flowmonkey.stores._fan_rows import FAN_COLUMN_LIST, FAN_COLUMNS, fan_of, fan_row

Ended = tuple[str, datetime, str, int]
"""A child's end: (parent id, the commit's time, child id, 1 if it did not complete)."""

_GET = f"SELECT {FAN_COLUMN_LIST} FROM fan_ins WHERE fan_id = $1"
_INSERT = (
    f"INSERT INTO fan_ins ({FAN_COLUMN_LIST}) VALUES ({', '.join(f'${i + 1}' for i in range(len(FAN_COLUMNS)))}) "
    "ON CONFLICT (fan_id) DO NOTHING"
)
_PARENT_ACTIVE = (
    "SELECT 1 FROM executions WHERE id = (SELECT parent_id FROM fan_ins WHERE fan_id = $1) "
    "AND status IN ('pending', 'running', 'waiting', 'held') FOR SHARE"
)
_LOCK_FAN = "SELECT 1 FROM fan_ins WHERE fan_id = $1 FOR UPDATE"
_JOIN = (
    "INSERT INTO fan_children (child_id, fan_id, idx) "
    "SELECT u.child, $1, u.idx FROM unnest($2::text[], $3::integer[]) AS u(child, idx) "
    "ON CONFLICT DO NOTHING RETURNING child_id"
)
_STARTED = "UPDATE fan_ins SET started = started + $2 WHERE fan_id = $1"
_COLUMNS = ", ".join(f"e.{name}" for name in EXECUTIONS.names)
_CHILDREN = (
    f"SELECT c.idx, {_COLUMNS} FROM fan_children AS c JOIN executions AS e ON e.id = c.child_id "
    "WHERE c.fan_id = $1 AND (NOT $2 OR c.ended = 0) ORDER BY c.idx LIMIT $3"
)
_OF_PARENT = (  # oldest first: by visit, then attempt (the parts of the fan's id)
    f"SELECT {FAN_COLUMN_LIST} FROM fan_ins WHERE parent_id = $1 "
    "ORDER BY split_part(fan_id, '/', 2)::integer, split_part(fan_id, '/', 3)::integer"
)
_MARK_ENDED = "UPDATE fan_children SET ended = 1 WHERE child_id = ANY($1::text[]) AND ended = 0 RETURNING child_id, fan_id"
_JOINED = "SELECT child_id FROM fan_children WHERE child_id = ANY($1::text[])"
_COUNT_ENDS = (
    "UPDATE fan_ins SET done = done + $2 + $3, failed = failed + $2, succeeded = succeeded + $3 "
    f"WHERE fan_id = $1 RETURNING {FAN_COLUMN_LIST}"
)


def ended_of(change: Change) -> Ended | None:
    """What a commit tells the fan-in: a child's end, or nothing."""
    parent = change.wake_parent
    if parent is None:
        return None
    failed = int(change.value("status") is not ExecutionStatus.COMPLETED)
    return (parent, change.at, change.execution_id, failed)


async def children_ended(conn: Any, ends: list[Ended]) -> list[tuple[str, datetime]]:
    """Count the children's ends in the caller's transaction, which has locked the
    parents' rows first, with its own, in id order (``LOCK_ROWS``); the parents to wake."""
    marked = {row[0]: row[1] for row in await conn.fetch(_MARK_ENDED, [end[2] for end in ends])}
    joined = {row[0] for row in await conn.fetch(_JOINED, [end[2] for end in ends])}
    wakes = [(parent, at) for parent, at, child, _ in ends if child not in joined]
    by_fan: dict[str, list[Ended]] = {}
    for end in ends:
        if end[2] in marked:
            by_fan.setdefault(marked[end[2]], []).append(end)
    for fan_id in sorted(by_fan):  # (the caller holds the parents' rows already)
        fan_ends = by_fan[fan_id]
        failed = sum(end[3] for end in fan_ends)
        succeeded = len(fan_ends) - failed
        after = fan_of(await conn.fetchrow(_COUNT_ENDS, fan_id, failed, succeeded))
        if wakes_parent(after.ended(-failed, -succeeded), after):
            wakes.append(max(((end[0], end[1]) for end in fan_ends), key=lambda w: w[1]))
    return wakes


class PostgresFanIns:
    """Mixed into :class:`~flowmonkey.stores.postgres.PostgresStore`: its pool and its
    translation of driver errors."""

    _pool: Any

    def _translate(self, what: str) -> AbstractAsyncContextManager[None]:  # pragma: no cover
        raise NotImplementedError

    async def open_fan(self, fan: FanIn) -> FanIn:
        return await again_if_contended(lambda: self._open_fan(fan))

    async def _open_fan(self, fan: FanIn) -> FanIn:
        async with self._translate("open_fan"), self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_INSERT, *fan_row(fan))
            return fan_of(await conn.fetchrow(_GET, fan.fan_id))

    async def get_fan(self, fan_id: str) -> FanIn | None:
        async with self._translate("get_fan"):
            row = await self._pool.fetchrow(_GET, fan_id)
        return fan_of(row) if row is not None else None

    async def add_fan_children(self, fan_id: str, children: Sequence[tuple[int, Execution]]) -> FanIn:
        # Whole again after a deadlock: a child already joined is not added twice.
        return await again_if_contended(lambda: self._add_fan_children(fan_id, children))

    async def _add_fan_children(self, fan_id: str, children: Sequence[tuple[int, Execution]]) -> FanIn:
        by_id = {child.id: child for _, child in children}
        async with self._translate("add_fan_children"), self._pool.acquire() as conn, conn.transaction():
            # The parent's row first, then the fan's: the order a child's end locks them in.
            active = await conn.fetchval(_PARENT_ACTIVE, fan_id)
            await conn.execute(_LOCK_FAN, fan_id)
            if active:
                ids = [child.id for _, child in children]
                fresh = [row[0] for row in await conn.fetch(_JOIN, fan_id, ids, [i for i, _ in children])]
                if fresh:
                    rows = [EXECUTIONS.values(by_id[child_id], as_is) for child_id in fresh]
                    await conn.execute(sql.INSERT_EXECUTIONS, *[list(c) for c in zip(*rows, strict=True)])
                    await conn.execute(_STARTED, fan_id, len(fresh))
            return fan_of(await conn.fetchrow(_GET, fan_id))

    async def fan_children(
        self, fan_id: str, *, running: bool = False, limit: int | None = None
    ) -> list[tuple[int, Execution]]:
        async with self._translate("fan_children"):
            rows = await self._pool.fetch(_CHILDREN, fan_id, running, limit)
        return [(row[0], EXECUTIONS.from_row(tuple(row)[1:], as_is)) for row in rows]

    async def fans_of(self, parent_id: str) -> list[FanIn]:
        async with self._translate("fans_of"):
            rows = await self._pool.fetch(_OF_PARENT, parent_id)
        return [fan_of(row) for row in rows]

"""The retention part of :class:`~flowmonkey.stores.postgres.PostgresStore` (see
:mod:`flowmonkey.stores.retention` for the rules).

A batch is one short transaction of three statements (what it examines, what of that may
go, the deletes). PostgreSQL counts executions with an index scan, so the counts are true
once the transaction commits. Space: deleted rows are reclaimed by autovacuum for reuse
by new rows; the files do not shrink (``VACUUM FULL`` would, but locks the tables).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flowmonkey.stores._pg_sql import SQL
from flowmonkey.stores.retention import PruneCut, PrunedBatch

AUTOVACUUM_NOTE = (
    "PostgreSQL: autovacuum reclaims the space of deleted rows for new ones "
    "(the files do not shrink; VACUUM FULL would shrink them but locks the tables)"
)

# The tables whose old rows go by a selection of their keys (queries old_*).
_KEYS = {
    "old_trigger_fires": ("trigger_fires", "seq"),
    "old_trigger_slots": ("trigger_slots", "(trigger_id, slot_at)"),
    "old_signatures": ("webhook_signatures", "(trigger_id, signature)"),
}


class PostgresRetention:
    """Mixed into ``PostgresStore``: the retention operations on its pool."""

    _pool: Any

    if TYPE_CHECKING:

        def _translate(self, what: str) -> AbstractAsyncContextManager[None]: ...
        async def _fetch(self, what: str, query: str, *args: Any) -> list[Any]: ...
        async def _execute(self, what: str, query: str, *args: Any) -> str: ...

    async def prune_executions(
        self, cut: PruneCut, *, after: str, limit: int, dry_run: bool = False
    ) -> PrunedBatch:
        if dry_run:
            last, examined, rows = await self._prunable(self._pool, cut, after, limit)
            gone = _by_flow((flow, 1) for _, flow in rows)
        else:
            async with self._translate("prune"), self._pool.acquire() as conn, conn.transaction():
                last, examined, rows = await self._prunable(conn, cut, after, limit)
                ids = [row[0] for row in rows]
                counted = await conn.fetch(SQL["prune_executions"], ids, cut.status.value) if ids else []
            gone = _by_flow((flow, n) for flow, n in counted)
        counts = {(flow, cut.status): n for flow, n in gone.items()}
        return PrunedBatch(gone=counts, last_id=last if examined == limit else None)

    async def _prunable(
        self, conn: Any, cut: PruneCut, after: str, limit: int
    ) -> tuple[str | None, int, list[Any]]:
        status = cut.status.value
        last, examined = await conn.fetchrow(SQL["prune_examined"], status, after, cut.id_below, limit)
        if last is None:
            return None, 0, []
        when = (cut.finished_before, cut.flow_id, cut.now)
        return last, examined, list(await conn.fetch(SQL["prunable"], status, after, last, *when))

    async def prune_trigger_fires(self, *, fired_before: datetime, limit: int, dry_run: bool = False) -> int:
        return await self._old("old_trigger_fires", fired_before, limit, dry_run)

    async def prune_trigger_slots(self, *, before: datetime, limit: int, dry_run: bool = False) -> int:
        return await self._old("old_trigger_slots", before, limit, dry_run)

    async def prune_signatures(self, *, expired_before: datetime, limit: int, dry_run: bool = False) -> int:
        return await self._old("old_signatures", expired_before, limit, dry_run)

    async def prune_feed(self, *, before: datetime, limit: int, dry_run: bool = False) -> int:
        return 0  # the feed is the history's own columns (migration 11): it went with it

    async def _old(self, name: str, before: datetime, limit: int, dry_run: bool) -> int:
        table, key = _KEYS[name]
        selection = SQL[name]
        if dry_run:
            rows = await self._fetch("prune", f"SELECT count(*) FROM ({selection}) AS old", before, limit)
            count: int = rows[0][0]
            return count
        status = await self._execute(
            "prune", f"DELETE FROM {table} WHERE {key} IN ({selection})", before, limit
        )
        return int(status.split()[-1])

    async def reclaim_space(self, *, full: bool = False) -> str:
        return AUTOVACUUM_NOTE


def _by_flow(pairs: Iterable[tuple[str, int]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for flow, n in pairs:
        counts[flow] += n
    return counts

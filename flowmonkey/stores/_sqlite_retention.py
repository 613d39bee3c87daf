"""The retention part of :class:`~flowmonkey.stores.sqlite.SQLiteStore` (see
:mod:`flowmonkey.stores.retention` for the rules).

A batch is one write on the writer thread (``BEGIN IMMEDIATE`` ... ``COMMIT``, shared
with the step commits queued meanwhile), so it holds SQLite's write lock for the time of
at most ``limit`` row deletes. The per (flow, status) counts move in that transaction
(the ``executions_uncounted`` trigger). Space: a database made with
``auto_vacuum = INCREMENTAL`` (every one this version creates) gives freed pages back in
small steps after a prune; an older one does after one ``VACUUM`` (``--vacuum``).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from flowmonkey.stores._sqlite_ops import SQL, enc
from flowmonkey.stores.retention import PruneCut, PrunedBatch

T = TypeVar("T")

VACUUM_STEP = 2000
"""Pages given back per incremental vacuum step (one short write each)."""
MAX_VACUUM_STEPS = 1000

# The tables whose old rows go by a selection of their keys (queries old_*).
_KEYS = {
    "old_trigger_fires": ("trigger_fires", "seq"),
    "old_trigger_slots": ("trigger_slots", "(trigger_id, slot_at)"),
    "old_signatures": ("webhook_signatures", "(trigger_id, signature)"),
    "old_feed": ("change_feed", "seq"),
}


def prunable(
    conn: sqlite3.Connection, cut: PruneCut, after: str, limit: int
) -> tuple[str | None, int, list[Any]]:
    """The last id a batch examines, how many it examines, and the rows of those that may go."""
    last, examined = conn.execute(
        SQL["prune_examined"], (cut.status.value, after, cut.id_below, limit)
    ).fetchone()
    if last is None:
        return None, 0, []
    arguments = {
        "status": cut.status.value,
        "after": after,
        "last": last,
        "before": enc(cut.finished_before),
        "flow": cut.flow_id,
        "now": enc(cut.now),
    }
    return last, examined, conn.execute(SQL["prunable"], arguments).fetchall()


def prune_batch(
    conn: sqlite3.Connection, cut: PruneCut, after: str, limit: int, dry_run: bool
) -> tuple[str | None, int, list[Any]]:
    """:func:`prunable`, and unless ``dry_run`` delete those rows and what goes with them."""
    last, examined, rows = prunable(conn, cut, after, limit)
    if rows and not dry_run:
        ids = [(row[0],) for row in rows]
        conn.executemany(SQL["forget_history"], ids)
        conn.executemany(SQL["forget_jobs"], ids)
        conn.executemany(SQL["forget_fan_children"], [(i, i) for (i,) in ids])
        conn.executemany(SQL["forget_fans"], ids)
        keys = [(tenant or "", flow, key, i) for i, flow, tenant, key in rows if key is not None]
        conn.executemany(SQL["forget_idempotency_key"], keys)
        conn.executemany(SQL["forget_execution"], ids)
    return last, examined, rows


def prune_old(conn: sqlite3.Connection, name: str, before: int, limit: int, dry_run: bool) -> int:
    """Delete (or count) up to ``limit`` rows of the selection ``name``."""
    table, key = _KEYS[name]
    selection = SQL[name]
    if dry_run:
        count: int = conn.execute(f"SELECT count(*) FROM ({selection})", (before, limit)).fetchone()[0]
        return count
    return conn.execute(f"DELETE FROM {table} WHERE {key} IN ({selection})", (before, limit)).rowcount


def vacuum_step(conn: sqlite3.Connection) -> int:
    """Give back up to :data:`VACUUM_STEP` free pages; how many are left free.

    ``executescript``: a plain ``execute`` steps the pragma once, which frees one page.
    It runs outside any transaction (the writer's own call, not a queued write).
    """
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:  # 2: incremental
        return 0
    conn.executescript(f"PRAGMA incremental_vacuum({VACUUM_STEP});")
    left: int = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return left


def vacuum(conn: sqlite3.Connection) -> None:
    """Rewrite the file without its free pages, and make it incremental from then on."""
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    conn.execute("VACUUM")


def file_size(conn: sqlite3.Connection) -> tuple[int, int]:
    """The database's size and its free part, in bytes."""
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return pages * page, free * page


class SQLiteRetention:
    """Mixed into ``SQLiteStore``: the retention operations on its connections."""

    path: str

    if TYPE_CHECKING:

        async def _write(self, what: str, fn: Callable[..., T], *args: Any) -> T: ...
        async def _read(self, what: str, fn: Callable[..., T], *args: Any) -> T: ...
        async def _call(self, conn: Any, what: str, fn: Callable[..., T], *args: Any) -> T: ...

    _writer: Any

    async def prune_executions(
        self, cut: PruneCut, *, after: str, limit: int, dry_run: bool = False
    ) -> PrunedBatch:
        if dry_run:
            last, examined, rows = await self._read("prune", prunable, cut, after, limit)
        else:
            last, examined, rows = await self._write("prune", prune_batch, cut, after, limit, False)
        gone = Counter((flow, cut.status) for _, flow, _, _ in rows)
        return PrunedBatch(gone=dict(gone), last_id=last if examined == limit else None)

    async def prune_trigger_fires(self, *, fired_before: datetime, limit: int, dry_run: bool = False) -> int:
        return await self._old("old_trigger_fires", enc(fired_before), limit, dry_run)

    async def prune_trigger_slots(self, *, before: datetime, limit: int, dry_run: bool = False) -> int:
        return await self._old("old_trigger_slots", enc(before), limit, dry_run)

    async def prune_signatures(self, *, expired_before: datetime, limit: int, dry_run: bool = False) -> int:
        return await self._old("old_signatures", enc(expired_before), limit, dry_run)

    async def prune_feed(self, *, before: datetime, limit: int, dry_run: bool = False) -> int:
        return await self._old("old_feed", enc(before), limit, dry_run)

    async def _old(self, name: str, before: int | None, limit: int, dry_run: bool) -> int:
        if dry_run:
            return await self._read("prune", prune_old, name, before, limit, True)
        return await self._write("prune", prune_old, name, before, limit, False)

    async def reclaim_space(self, *, full: bool = False) -> str:
        # On the writer's connection, between its batches of writes: outside any transaction.
        size, _ = await self._call(self._writer, "reclaim_space", file_size)
        if full:
            await self._call(self._writer, "vacuum", vacuum)
        else:
            for _ in range(MAX_VACUUM_STEPS):  # writers may free pages meanwhile: do not chase them
                if not await self._call(self._writer, "reclaim_space", vacuum_step):
                    break
        after, free = await self._call(self._writer, "reclaim_space", file_size)
        given = max(size - after, 0)
        how = "VACUUM" if full else "incremental vacuum"
        note = f"; {_mb(free)} stay free for new rows (--vacuum gives them back)" if free else ""
        return f"SQLite {self.path}: {_mb(given)} given back ({how}), {_mb(after)} now{note}"


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"

"""``PostgresStore``: the shared store for several workers (asyncpg).

``PostgresStore("postgresql://user:pw@host/db")`` opens (and later closes) its own pool;
``PostgresStore(pool)`` uses an existing asyncpg pool and never closes it. Opening applies
the schema (:func:`apply_schema`: versioned, idempotent, safe from many processes at once).
Work is claimed with ``FOR UPDATE SKIP LOCKED`` and a lease that lapses if its owner dies.
Step commits of concurrent executions share one statement through a :class:`GroupCommitter`.
``PostgresStore(url, readonly=True)`` opens sessions with ``default_transaction_read_only``,
so the server refuses every write, and applies no schema.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, Self

import asyncpg

from flowmonkey.change import Change
from flowmonkey.errors import ConflictError, StoreError
from flowmonkey.model import (
    Execution,
    ExecutionStatus,
    Flow,
    StepRecord,
    build_flow,
)
from flowmonkey.stores import _changes, _feed, _query
from flowmonkey.stores import _pg_sql as sql
from flowmonkey.stores._batch import BatchListener, GroupCommitter
from flowmonkey.stores._columns import (
    EXECUTIONS,
    STEP_RECORDS,
    as_is,
    dumps,
)
from flowmonkey.stores._errors import again_if_contended, classify_pg, contended_pg
from flowmonkey.stores._fan_pg import Ended, PostgresFanIns, children_ended, ended_of
from flowmonkey.stores._pg_counts import CountFolder
from flowmonkey.stores._pg_health import PostgresHealth
from flowmonkey.stores._pg_retention import PostgresRetention
from flowmonkey.stores._pg_schema import SCHEMA_VERSION, apply_schema
from flowmonkey.stores._pg_side import PostgresSideTables
from flowmonkey.stores._sql import check_version
from flowmonkey.stores._urls import check_postgres_url, postgres_settings_named
from flowmonkey.stores.base import Claim, CreateResult, ExecutionQuery, FeedPage, Page

__all__ = ["SCHEMA_VERSION", "PostgresStore", "apply_schema"]

_Commit = tuple[tuple[Any, ...], tuple[Any, ...] | None, Ended | None]
"""One queued commit: (id, expected revision, *COMMIT_COLUMNS values) and its history row."""
Q = sql.SQL


def _commit_id(commit: _Commit) -> str:
    return str(commit[0][0])


def _queued(change: Change) -> _Commit:
    """A commit as the batch writes it: its row's new values, its history row, its end."""
    update = (change.execution_id, change.expected_revision, *_changes.commit_values(change, as_is))
    record = change.record
    row = STEP_RECORDS.values(record, as_is) if record is not None else None
    return update, row, ended_of(change)


async def _keep_session(conn: Any) -> None:
    """Skip asyncpg's reset query when a connection returns to the pool: this store
    leaves no session state (no LISTEN, no SET, only transaction-scoped locks), and the
    reset would cost a round trip on every operation. asyncpg still rolls back any
    transaction left open."""


SESSION_SETTINGS = {"enable_seqscan": "off", "jit": "off"}
"""Settings of the sessions a store opens. Every statement of the store is written for an
index, but PostgreSQL plans by the table's size: a connection that first ran the commit
batch while ``executions`` was a few pages kept a sequential-scan plan (a generic plan is
cached until the table is next analyzed), and every batch then read the whole table (about
200 rows read per step at 2,000 executions, growing with the table). Off, the planner takes
a sequential scan only where no index serves; migrations turn it back on for their own
transaction. JIT is off: no statement here is big enough to gain from it, and a scan that
has no index to take (the fold of the counters) is costed past ``jit_above_cost`` and
compiled itself for 300 ms a time. A setting the URL names itself is the URL's; a store
given a pool leaves its sessions as they are."""


class PostgresStore(PostgresSideTables, PostgresHealth, PostgresFanIns, PostgresRetention):
    """The Store protocol on PostgreSQL.

    Args:
        url_or_pool: a ``postgresql://`` URL, or an asyncpg pool to borrow.
        min_size: smallest pool size when the store opens its own pool.
        max_size: largest pool size when the store opens its own pool.
        connect_timeout: seconds to wait for the server when opening.
        readonly: read-only sessions (``default_transaction_read_only``); needs a URL.
    """

    def __init__(
        self,
        url_or_pool: str | Any,
        *,
        min_size: int = 2,
        max_size: int = 10,
        connect_timeout: float = 10.0,
        readonly: bool = False,
    ) -> None:
        if isinstance(url_or_pool, str):
            self._dsn: str | None = url_or_pool
            self._pool: Any = None
            check_postgres_url(url_or_pool)
            self.url = _query.mask_url(url_or_pool)
        else:
            self._dsn, self._pool = None, url_or_pool
            self.url = "postgresql://(existing asyncpg pool)"
            if readonly:
                raise StoreError("a read-only PostgresStore needs a URL: it makes its sessions read-only")
        self.readonly = readonly
        self._owns_pool = False
        self._pool_options: dict[str, Any] = {
            "min_size": min_size,
            "max_size": max_size,
            "timeout": connect_timeout,
        }
        named = postgres_settings_named(url_or_pool) if self._dsn is not None else set()
        settings = {name: value for name, value in SESSION_SETTINGS.items() if name not in named}
        if readonly:
            settings["default_transaction_read_only"] = "on"
        self._pool_options["server_settings"] = settings
        self._batch_listener: BatchListener | None = None
        self._commits, self._creates = self._batchers()
        self._folder = CountFolder(self._execute)

    def _batchers(self) -> tuple[GroupCommitter[_Commit, bool], GroupCommitter[tuple[Any, ...], bool]]:
        # One batch of commits in flight per process. A free slot wrote the next commit
        # alone, so more slots meant more, smaller statements. Against 4 (bench, 5
        # alternating rounds): round trips per step 0.16 -> 0.04 with workers, in process
        # the same, one worker 11% and two workers 64% more steps/s. Against 2: in process
        # 15% slower, two workers 18% faster; workers are what this store is for.
        commits = GroupCommitter(self._flush, key=lambda c: str(c[0][0]), in_flight=1)
        commits.listener = self._batch_listener
        creates = GroupCommitter(self._insert, in_flight=2)
        return commits, creates

    def watch_commits(self, listener: BatchListener | None) -> None:
        """Tell ``listener(size, seconds)`` of every batch of step commits written."""
        self._batch_listener = self._commits.listener = listener

    # -- lifecycle --------------------------------------------------------------------

    async def open(self) -> None:
        """Connect (unless given a pool) and apply the schema (read-only: check it)."""
        if self._dsn is not None and self._pool is None:
            try:
                self._pool = await asyncpg.create_pool(self._dsn, reset=_keep_session, **self._pool_options)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                message = f"cannot connect to PostgreSQL at {self.url}: {exc}"
                raise StoreError(message, transient=classify_pg(exc)) from exc
            self._owns_pool = True
        try:
            if self.readonly:
                await self._check_schema()
            else:
                async with self._translate("apply_schema"):
                    await apply_schema(self._pool)
        except StoreError:
            await self.close()
            raise

    async def _check_schema(self) -> None:
        """A read-only store migrates nothing: the schema must be there already."""
        try:
            rows = await self._fetch("open", "SELECT max(version) FROM flowmonkey_schema_version")
        except StoreError as exc:
            if isinstance(exc.__cause__, asyncpg.UndefinedTableError):
                raise StoreError(
                    f"{self.url} has no FlowMonkey schema (a read-only store creates none)"
                ) from exc
            raise
        version = rows[0][0] or 0
        check_version(version, SCHEMA_VERSION)
        if version < SCHEMA_VERSION:
            raise StoreError(
                f"{self.url} has schema version {version}, this FlowMonkey needs {SCHEMA_VERSION}: "
                "a read-only store does not migrate"
            )

    async def close(self) -> None:
        await self._commits.close()
        await self._creates.close()
        await self._folder.close()
        self._commits, self._creates = self._batchers()
        if self._owns_pool and self._pool is not None:
            pool, self._pool, self._owns_pool = self._pool, None, False
            await pool.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def _translate(self, what: str) -> AsyncIterator[None]:
        if self._pool is None:
            raise StoreError(f"the PostgreSQL store {self.url} is not open (use `async with store:`)")
        try:
            yield
        except asyncpg.UniqueViolationError as exc:
            raise ConflictError(f"{what} on {self.url} conflicted: {exc}") from exc
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            message = f"{what} failed on {self.url}: {exc}"
            raise StoreError(message, transient=classify_pg(exc), contended=contended_pg(exc)) from exc

    async def _fetch(self, what: str, query: str, *args: Any) -> list[Any]:
        async with self._translate(what):
            return list(await self._pool.fetch(query, *args))

    async def _execute(self, what: str, query: str, *args: Any) -> str:
        async with self._translate(what):
            return str(await self._pool.execute(query, *args))

    # -- executions -------------------------------------------------------------------

    async def create_execution(self, execution: Execution, *, now: datetime) -> CreateResult:
        # One statement (one round trip, its own transaction) in the usual case.
        row = EXECUTIONS.values(execution, as_is)
        if execution.idempotency_key is None:
            await self._creates.submit(row)
            return CreateResult(execution.copy(), True)
        scope = (execution.tenant_id or "", execution.flow_id, execution.idempotency_key)
        key = (*scope, execution.id, execution.idempotency_expires_at, now)
        if await self._fetch("create_execution", sql.INSERT_EXECUTION_WITH_KEY, *key, *row):
            return CreateResult(execution.copy(), True)
        # The key is live. Its holder committed before our statement gave up waiting on it,
        # so this new statement (with a fresh snapshot) sees it.
        holder = await self._fetch("create_execution", Q["holder_of_key"], *scope)
        if not holder:
            raise ConflictError(
                f"idempotency key {execution.idempotency_key!r} is held by a missing execution"
            )
        return CreateResult(EXECUTIONS.from_row(holder[0], as_is), False)

    async def _insert(self, rows: list[tuple[Any, ...]]) -> list[bool | Exception]:
        """Insert a batch of executions in one statement; if it fails, one at a time, so
        one bad row (a duplicate id) fails only its own create."""
        self._folder.wrote()
        if len(rows) > 1:
            columns = [list(column) for column in zip(*rows, strict=True)]
            try:
                await self._execute("create_execution", sql.INSERT_EXECUTIONS, *columns)
                return [True] * len(rows)
            except ConflictError:
                pass  # a duplicate id: find it by inserting one at a time
            except StoreError as exc:
                return [exc] * len(rows)
        outcomes: list[bool | Exception] = []
        for row in rows:
            try:
                await self._execute("create_execution", Q["insert_execution"], *row)
                outcomes.append(True)
            except StoreError as exc:
                outcomes.append(exc)
        return outcomes

    async def get_execution(self, execution_id: str) -> Execution | None:
        rows = await self._fetch("get_execution", Q["execution"], execution_id)
        return EXECUTIONS.from_row(rows[0], as_is) if rows else None

    async def commit(self, change: Change) -> bool:
        return await self._commits.submit(_queued(change))

    async def _flush(self, batch: list[_Commit]) -> list[bool | Exception]:
        """Commit the batch in one statement. If the statement fails for a reason that is
        not transient (a row the database refuses), each commit is tried alone, so a bad
        row only ever fails its own commit; a transient failure is every caller's."""
        self._folder.wrote()
        try:
            return list(await self._flush_together(batch))
        except StoreError as exc:
            if exc.transient or len(batch) == 1:
                raise
        outcomes: list[bool | Exception] = []
        for commit in batch:
            try:
                outcomes.extend(await self._flush_together([commit]))
            except StoreError as exc:
                outcomes.append(exc)
        return outcomes

    async def _flush_together(self, batch: list[_Commit]) -> list[bool]:
        # Nothing of a batch another transaction was in the way of was written: it is
        # written again, so a deadlock never re-runs a handler.
        return await again_if_contended(lambda: self._write_together(batch))

    async def _write_together(self, batch: list[_Commit]) -> list[bool]:
        # Column-major arrays for unnest(): one round trip for the whole batch. In id order,
        # as renewals and releases lock rows: two statements never wait on each other.
        ordered = sorted(batch, key=_commit_id)
        updates = [list(column) for column in zip(*(update for update, _, _ in ordered), strict=True)]
        records = [row for _, row, _ in ordered if row is not None]
        record_arrays = [list(column) for column in zip(*records, strict=True)] if records else []
        if not record_arrays:
            record_arrays = [[] for _ in STEP_RECORDS.names]
        arguments = (*updates, *record_arrays)
        if all(wake is None for _, _, wake in batch):
            rows = await self._fetch("commit", sql.COMMIT_BATCH, *arguments)
        else:
            rows = await self._commit_waking(batch, arguments)
        won = {row[0] for row in rows}
        return [update[0] in won for update, _, _ in batch]

    async def _commit_waking(self, batch: list[_Commit], arguments: tuple[Any, ...]) -> list[Any]:
        """The batch, and the wakes of the parents whose children it ended, in one transaction.

        Every row it will lock (the batch's and the parents') is locked first, in id order,
        as renewals and releases lock theirs: locking the parents only after the batch
        deadlocked with a renewal of a parent and its children (a child's id sorts after
        its parent's, so the renewal held the parent and waited for the child)."""
        locked = {end[0] for _, _, end in batch if end is not None}
        locked.update(str(update[0]) for update, _, _ in batch)
        async with self._translate("commit"), self._pool.acquire() as conn, conn.transaction():
            await conn.execute(sql.LOCK_ROWS, sorted(locked))
            rows = list(await conn.fetch(sql.COMMIT_BATCH, *arguments))
            won = {row[0] for row in rows}
            ends = [end for update, _, end in batch if end is not None and update[0] in won]
            wakes = await children_ended(conn, ends) if ends else []
            if wakes:
                parents, times = zip(*wakes, strict=True)
                await conn.execute(Q["wake_parents"], list(parents), list(times))
            return rows

    async def history(self, execution_id: str) -> list[StepRecord]:
        rows = await self._fetch("history", Q["history"], execution_id)
        return [STEP_RECORDS.from_row(row, as_is) for row in rows]

    async def feed(self, *, after: str | None = None, limit: int = 200) -> FeedPage:
        return await _feed.read_postgres(self._fetch, Q, after, limit)

    async def list_executions(
        self, query: ExecutionQuery = ExecutionQuery(), *, limit: int = 50, cursor: str | None = None
    ) -> Page[Execution]:
        params = _query.Params("numbered")
        where = _query.execution_filter(query, params, as_is, "ILIKE")
        if cursor is not None:
            where.append(f"id < {params.add(cursor)}")
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        query_sql = f"{Q['executions']} {clause} ORDER BY id DESC LIMIT {params.add(limit + 1)}"
        rows = await self._fetch("list_executions", query_sql, *params.values)
        items = [EXECUTIONS.from_row(row, as_is) for row in rows[:limit]]
        return Page(items=items, next_cursor=items[-1].id if len(rows) > limit and items else None)

    async def count_executions(self, query: ExecutionQuery = ExecutionQuery()) -> dict[ExecutionStatus, int]:
        counts = dict.fromkeys(ExecutionStatus, 0)
        if query == ExecutionQuery(statuses=query.statuses, flow_id=query.flow_id):
            # From the counters (migration 12): a few rows, however many executions.
            for status, n in await self._fetch("count_executions", Q["counted"], query.flow_id):
                if not query.statuses or ExecutionStatus(status) in query.statuses:
                    counts[ExecutionStatus(status)] = n
            return counts
        params = _query.Params("numbered")
        where = _query.execution_filter(query, params, as_is, "ILIKE")
        query_sql = f"SELECT status, count(*) FROM executions WHERE {' AND '.join(where)} GROUP BY status"
        for status, n in await self._fetch("count_executions", query_sql, *params.values):
            counts[ExecutionStatus(status)] = n
        return counts

    # -- definitions ------------------------------------------------------------------

    async def save_definition(self, flow: Flow) -> None:
        body = dumps(flow.to_dict(), f"flow {flow.id!r}")
        await self._execute("save_definition", Q["save_definition"], flow.hash, flow.id, flow.version, body)

    async def get_definition(self, flow_hash: str) -> Flow | None:
        rows = await self._fetch("get_definition", Q["definition"], flow_hash)
        return build_flow(json.loads(rows[0][0])) if rows else None  # trusted: written by to_dict

    # -- runtime ----------------------------------------------------------------------

    async def claim(self, *, owner: str, now: datetime, lease: timedelta, limit: int) -> list[Claim]:
        rows = await self._fetch("claim", Q["claim"], owner, now + lease, now, limit)
        claims = [Claim(EXECUTIONS.from_row(row[:-2], as_is), row[-2], row[-1]) for row in rows]
        return sorted(claims, key=lambda claim: claim.execution.id)

    async def renew_leases(self, *, owner: str, execution_ids: list[str], until: datetime) -> list[str]:
        ids = list(execution_ids)  # (the statement locks them in id order itself)
        rows = await again_if_contended(
            lambda: self._fetch("renew_leases", Q["renew_leases"], owner, ids, until)
        )
        held = {row[0] for row in rows}
        return [i for i in execution_ids if i in held]

    async def release(self, *, owner: str, execution_ids: list[str]) -> None:
        ids = list(execution_ids)  # (the statement locks them in id order itself)
        await again_if_contended(lambda: self._execute("release", Q["release"], owner, ids))

    async def next_wake_at(self, *, exclude_owner: str | None = None) -> datetime | None:
        rows = await self._fetch("next_wake_at", Q["next_wake"], exclude_owner)
        value: datetime | None = rows[0][0]
        return value

    async def timed_out(self, *, now: datetime, limit: int) -> list[Execution]:
        rows = await self._fetch("timed_out", Q["timed_out"], now, limit)
        return [EXECUTIONS.from_row(row, as_is) for row in rows]

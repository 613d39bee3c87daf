"""``SQLiteStore``: the embedded default store, one file, no server.

URLs: ``sqlite:///.flowmonkey/flowmonkey.db`` (relative; the directory is created on first
use), ``sqlite:////abs/path.db`` (absolute), ``sqlite:///:memory:`` (private to the store).
The journal is WAL; one connection writes, another reads, so listing never waits behind
a write. Durability is ``synchronous=normal`` by default (a commit survives a crash of the
process, not of the machine) and ``full`` on request (every commit is fsynced)::

    SQLiteStore("sqlite:///app.db?synchronous=full")
    SQLiteStore("sqlite:///app.db", synchronous="full", busy_timeout=10.0)

``readonly=True`` opens an existing database with ``mode=ro``: SQLite itself refuses every
write, and nothing is created or migrated.

Each operation runs whole on its connection's thread (see :mod:`._sqlite_ops`), and step
commits of concurrent executions share transactions through a :class:`GroupCommitter`.
The step path's short writes and reads run on the event loop's thread instead, unless
something would make them wait there (see :mod:`._sqlite_inline`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Self, TypeVar

from flowmonkey.change import Change
from flowmonkey.errors import ConflictError, StoreError, StoreURLError
from flowmonkey.model import (
    Execution,
    ExecutionStatus,
    Flow,
    Job,
    JobStatus,
    StepRecord,
    TriggerDefinition,
    TriggerFire,
    WebhookSignature,
    build_flow,
)
from flowmonkey.stores import _changes, _feed
from flowmonkey.stores import _sqlite_commit as _commit
from flowmonkey.stores import _sqlite_ops as ops
from flowmonkey.stores._batch import BatchListener, GroupCommitter
from flowmonkey.stores._columns import (
    EXECUTIONS,
    JOBS,
    STEP_RECORDS,
    TRIGGER_FIRES,
    TRIGGERS,
    WEBHOOK_SIGNATURES,
    dumps,
    dumps_optional,
)
from flowmonkey.stores._errors import classify_sqlite
from flowmonkey.stores._fan_sqlite_store import SQLiteFanIns
from flowmonkey.stores._sql import check_version
from flowmonkey.stores._sqlite_health import SQLiteHealth
from flowmonkey.stores._sqlite_inline import CHECKPOINT_EVERY, Inline
from flowmonkey.stores._sqlite_retention import SQLiteRetention
from flowmonkey.stores._sqlite_schema import SCHEMA_VERSION, apply_schema, schema_version
from flowmonkey.stores._sqlite_thread import Connection
from flowmonkey.stores._urls import sqlite_url
from flowmonkey.stores.base import Claim, CreateResult, ExecutionQuery, FeedPage, Page

T = TypeVar("T")
log = logging.getLogger("flowmonkey.stores")
SYNCHRONOUS_LEVELS = ("normal", "full")
_MEMORY = ":memory:"


def _ended(change: Change) -> _commit.Wake | None:
    parent = change.wake_parent
    if parent is None:
        return None
    failed = int(change.value("status") is not ExecutionStatus.COMPLETED)
    return (parent, ops.enc(change.at), change.execution_id, failed)


def parse_sqlite_url(url: str) -> tuple[str, dict[str, str]]:
    """The database path and query options of a ``sqlite:///...`` URL."""
    return sqlite_url(url)


class SQLiteStore(SQLiteHealth, SQLiteFanIns, SQLiteRetention):
    """The Store protocol on one SQLite file.

    Args:
        url: ``sqlite:///path.db``; the query may set ``synchronous=normal|full``.
        synchronous: overrides the URL's durability level.
        busy_timeout: seconds a write waits for another process's write lock.
        readonly: open an existing database read-only at the driver (``mode=ro``).
    """

    def __init__(
        self,
        url: str = "sqlite:///.flowmonkey/flowmonkey.db",
        *,
        synchronous: str | None = None,
        busy_timeout: float = 5.0,
        readonly: bool = False,
    ) -> None:
        self.url = url
        self.readonly = readonly
        self.path, options = parse_sqlite_url(url)
        level = (synchronous or options.get("synchronous") or "normal").lower()
        if level not in SYNCHRONOUS_LEVELS:
            raise StoreURLError(
                f"synchronous={level!r} in {url!r}: expected one of {', '.join(SYNCHRONOUS_LEVELS)}"
            )
        self.synchronous = level
        self.busy_timeout = busy_timeout
        self._writer: Connection | None = None
        self._reader: Connection | None = None
        self._inline: Inline | None = None  # the loop thread's own (see _sqlite_inline)
        self._checkpointing: asyncio.Task[None] | None = None
        self._checkpointed_at = 0.0
        self._writes: GroupCommitter[ops.Write, Any] = GroupCommitter(self._flush)

    def watch_commits(self, listener: BatchListener | None) -> None:
        """Tell ``listener(size, seconds)`` of every transaction of writes (step commits
        with whatever else was queued with them)."""
        self._writes.listener = listener

    # -- lifecycle --------------------------------------------------------------------

    async def open(self) -> None:
        """Create the file (and its directory) if needed, connect, and apply the schema."""
        if self._writer is not None:
            return
        pragmas = [
            f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}",
            f"PRAGMA synchronous = {self.synchronous.upper()}",
            "PRAGMA foreign_keys = OFF",
        ]
        if self.readonly:
            await self._open_readonly(pragmas)
            return
        try:
            if self.path != _MEMORY:
                await asyncio.to_thread(_ensure_directory, self.path)
            writer = Connection("writer")
            self._writer = writer
            # auto_vacuum before the first table: a new database gives freed pages back.
            vacuum = "PRAGMA auto_vacuum = INCREMENTAL"
            await writer.open(self.path, [vacuum, "PRAGMA journal_mode = WAL", *pragmas])
            await writer.run(apply_schema)
            if self.path != _MEMORY:
                self._reader = Connection("reader")
                await self._reader.open(self.path, ["PRAGMA query_only = ON", *pragmas])
                self._inline = Inline(self.path, pragmas)
        except (OSError, sqlite3.Error) as exc:
            await self.close()
            message = f"cannot open the SQLite database {self.url}: {exc}"
            raise StoreError(message, transient=classify_sqlite(exc)) from exc
        except StoreError:  # a schema newer than this code
            await self.close()
            raise

    async def _open_readonly(self, pragmas: list[str]) -> None:
        """One ``mode=ro`` connection for reads and writes: a write that gets past every
        check above is refused by SQLite. No file, directory or migration is made."""
        uri = None if self.path == _MEMORY else await asyncio.to_thread(_readonly_uri, self.path)
        if uri is None:
            raise StoreError(f"no SQLite database at {self.path} (a read-only store creates nothing)")
        connection = Connection("readonly")
        self._writer = connection
        try:
            await connection.open(uri, pragmas, uri=True)
            version = await connection.run(schema_version)
        except (OSError, sqlite3.Error) as exc:
            await self.close()
            raise StoreError(f"cannot open the SQLite database {self.url} read-only: {exc}") from exc
        if version != SCHEMA_VERSION:
            await self.close()
            check_version(version, SCHEMA_VERSION)
            found = "no FlowMonkey schema" if version == 0 else f"schema version {version}"
            raise StoreError(
                f"{self.path} has {found}, this FlowMonkey needs {SCHEMA_VERSION}: "
                "a read-only store does not migrate (open it once read-write)"
            )

    async def close(self) -> None:
        await self._writes.close()
        inline, self._inline = self._inline, None
        if inline is not None:
            inline.close()
        if self._checkpoint_running():
            await self._checkpointing  # type: ignore[misc]
        listener, self._writes = self._writes.listener, GroupCommitter(self._flush)
        self._writes.listener = listener
        for connection in (self._reader, self._writer):
            if connection is not None:
                await connection.close()
        self._reader = self._writer = None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _write(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """Queue ``fn`` for the writer: it runs in a transaction shared with the other
        writes queued meanwhile (group commit). Driver errors are translated."""
        if self._writer is None:
            raise StoreError(f"the SQLite store {self.url} is not open (use `async with store:`)")
        try:
            result: T = await self._writes.submit((fn, args))
        except sqlite3.Error as exc:
            raise self._translated(what, exc) from exc
        return result

    async def _flush(self, batch: list[ops.Write]) -> list[Any]:
        inline = self._inline
        # While the writer thread checkpoints, writes queue behind it there: a WAL is only
        # started over by a write that finds it wholly copied, so writes here during every
        # checkpoint would keep it growing for ever.
        if inline is not None and not self._checkpoint_running() and inline.here():
            if len(batch) == 1:
                await asyncio.sleep(0)  # the writes made in this turn of the loop queue meanwhile
            results = inline.write(batch)
            if results is not None:
                self._checkpoint_soon()
                return results
        return await self._call(self._writer, "write", ops.write_batch, batch)

    def _checkpoint_soon(self) -> None:
        """Have the writer thread checkpoint the WAL the inline writes grow (see _sqlite_inline)."""
        now = time.monotonic()
        if not self._checkpoint_running() and now - self._checkpointed_at >= CHECKPOINT_EVERY:
            self._checkpointed_at = now
            self._checkpointing = asyncio.create_task(self._checkpoint(), name="flowmonkey-sqlite-checkpoint")

    def _checkpoint_running(self) -> bool:
        """A checkpoint is under way in this loop (one of a loop since closed is not)."""
        task = self._checkpointing
        return task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop()

    async def _checkpoint(self) -> None:
        try:
            await self._call(self._writer, "checkpoint", ops.checkpoint)
        except StoreError as exc:  # the next one copies what this one did not
            log.debug("SQLite checkpoint of %s: %s", self.path, exc.message)

    async def _read(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        inline = self._inline
        if inline is not None and inline.here():
            done, value = inline.read(fn, *args)
            if done:
                return value  # type: ignore[no-any-return]
        return await self._call(self._reader or self._writer, what, fn, *args)

    async def _call(self, conn: Connection | None, what: str, fn: Callable[..., T], *args: Any) -> T:
        if conn is None:
            raise StoreError(f"the SQLite store {self.url} is not open (use `async with store:`)")
        try:
            return await conn.run(fn, *args)
        except sqlite3.Error as exc:
            raise self._translated(what, exc) from exc

    def _translated(self, what: str, exc: sqlite3.Error) -> StoreError:
        if isinstance(exc, sqlite3.IntegrityError):
            return ConflictError(f"{what} on {self.url} conflicted: {exc}")
        return StoreError(f"{what} failed on {self.url}: {exc}", transient=classify_sqlite(exc))

    # -- executions -------------------------------------------------------------------

    async def create_execution(self, execution: Execution, *, now: datetime) -> CreateResult:
        row = EXECUTIONS.values(execution, ops.enc)
        scope = None
        if execution.idempotency_key is not None:
            scope = (execution.tenant_id or "", execution.flow_id, execution.idempotency_key)
        existing = await self._write("create_execution", ops.create, row, scope, ops.enc(now))
        if existing is not None:
            return CreateResult(existing, False)
        return CreateResult(execution.copy(), True)

    async def get_execution(self, execution_id: str) -> Execution | None:
        return await self._read("get_execution", ops.load, execution_id)

    async def commit(self, change: Change) -> bool:
        columns = _changes.changed_columns(change)
        values = _changes.commit_columns(change, columns, ops.enc)
        record = change.record
        row = STEP_RECORDS.values(record, ops.enc) if record is not None else None
        request = (values, change.execution_id, change.expected_revision, columns, row, _ended(change))
        return bool(await self._write("commit", _commit.commit, *request))

    async def history(self, execution_id: str) -> list[StepRecord]:
        rows = await self._read("history", ops.history, execution_id)
        return [STEP_RECORDS.from_row(row, ops.dec) for row in rows]

    async def feed(self, *, after: str | None = None, limit: int = 200) -> FeedPage:
        return await _feed.read_sqlite(
            lambda *query: self._read("feed", ops.fetch, *query), ops.dec, after, limit
        )

    async def list_executions(
        self, query: ExecutionQuery = ExecutionQuery(), *, limit: int = 50, cursor: str | None = None
    ) -> Page[Execution]:
        items = await self._read("list_executions", ops.page, query, limit, cursor)
        more = len(items) > limit
        items = items[:limit]
        return Page(items=items, next_cursor=items[-1].id if more and items else None)

    async def count_executions(self, query: ExecutionQuery = ExecutionQuery()) -> dict[ExecutionStatus, int]:
        counts = dict.fromkeys(ExecutionStatus, 0)
        for status, n in await self._read("count_executions", ops.count, query):
            counts[ExecutionStatus(status)] = n
        return counts

    # -- definitions ------------------------------------------------------------------

    async def save_definition(self, flow: Flow) -> None:
        body = dumps(flow.to_dict(), f"flow {flow.id!r}")
        row = (flow.hash, flow.id, flow.version, body)
        await self._write("save_definition", ops.execute, "save_definition", row)

    async def get_definition(self, flow_hash: str) -> Flow | None:
        rows = await self._read("get_definition", ops.fetch, "definition", (flow_hash,))
        return build_flow(json.loads(rows[0][0])) if rows else None  # trusted: written by to_dict

    # -- runtime ----------------------------------------------------------------------

    async def claim(self, *, owner: str, now: datetime, lease: timedelta, limit: int) -> list[Claim]:
        return await self._write("claim", ops.claim, owner, ops.enc(now), ops.enc(now + lease), limit)

    async def renew_leases(self, *, owner: str, execution_ids: list[str], until: datetime) -> list[str]:
        return await self._write("renew_leases", ops.renew, owner, list(execution_ids), ops.enc(until))

    async def release(self, *, owner: str, execution_ids: list[str]) -> None:
        await self._write("release", ops.release, owner, list(execution_ids))

    async def next_wake_at(self, *, exclude_owner: str | None = None) -> datetime | None:
        return ops.dec(await self._read("next_wake_at", ops.next_wake_at, exclude_owner))

    async def timed_out(self, *, now: datetime, limit: int) -> list[Execution]:
        return await self._read("timed_out", ops.timed_out, ops.enc(now), limit)

    # -- triggers ---------------------------------------------------------------------

    async def save_trigger(self, trigger: TriggerDefinition) -> None:
        row = TRIGGERS.values(trigger, ops.enc)
        await self._write("save_trigger", ops.execute, "save_trigger", row)

    async def get_trigger(self, trigger_id: str) -> TriggerDefinition | None:
        rows = await self._read("get_trigger", ops.fetch, "trigger", (trigger_id,))
        return TRIGGERS.from_row(rows[0], ops.dec) if rows else None

    async def list_triggers(self) -> list[TriggerDefinition]:
        rows = await self._read("list_triggers", ops.fetch, "triggers", ())
        return [TRIGGERS.from_row(row, ops.dec) for row in rows]

    async def delete_trigger(self, trigger_id: str) -> bool:
        return await self._write("delete_trigger", ops.execute, "delete_trigger", (trigger_id,)) == 1

    async def claim_slot(self, *, trigger_id: str, slot_at: datetime) -> bool:
        slot = (trigger_id, ops.enc(slot_at))
        return await self._write("claim_slot", ops.execute, "claim_slot", slot) == 1

    async def record_fire(self, fire: TriggerFire) -> None:
        await self._write("record_fire", ops.execute, "record_fire", TRIGGER_FIRES.values(fire, ops.enc))

    async def trigger_history(self, trigger_id: str, *, limit: int = 50) -> list[TriggerFire]:
        rows = await self._read("trigger_history", ops.fetch, "trigger_history", (trigger_id, limit))
        return [TRIGGER_FIRES.from_row(row, ops.dec) for row in rows]

    async def claim_signature(
        self, seen: WebhookSignature, *, abandoned_before: datetime
    ) -> WebhookSignature | None:
        row = WEBHOOK_SIGNATURES.values(replace(seen, execution_id=None), ops.enc)
        held = await self._write("claim_signature", ops.claim_signature, row, ops.enc(abandoned_before))
        return None if held is None else WEBHOOK_SIGNATURES.from_row(held, ops.dec)

    async def settle_signature(self, *, trigger_id: str, signature: str, execution_id: str | None) -> None:
        if execution_id is None:
            await self._write(
                "settle_signature", ops.execute, "drop_signature_claim", (trigger_id, signature)
            )
        else:
            key = (execution_id, trigger_id, signature)
            await self._write("settle_signature", ops.execute, "settle_signature", key)

    async def get_signature(self, *, trigger_id: str, signature: str) -> WebhookSignature | None:
        rows = await self._read("get_signature", ops.fetch, "signature", (trigger_id, signature))
        return WEBHOOK_SIGNATURES.from_row(rows[0], ops.dec) if rows else None

    # -- jobs -------------------------------------------------------------------------

    async def enqueue_job(self, job: Job) -> tuple[Job, bool]:
        existing = await self._write("enqueue_job", ops.enqueue_job, JOBS.values(job, ops.enc))
        return (existing, False) if existing is not None else (job, True)

    async def get_job(self, job_id: str) -> Job | None:
        return await self._read("get_job", ops.get_job, job_id)

    async def claim_jobs(self, *, owner: str, now: datetime, lease: timedelta, limit: int) -> list[Job]:
        return await self._write(
            "claim_jobs", ops.claim_jobs, owner, ops.enc(now), ops.enc(now + lease), limit
        )

    async def heartbeat_job(
        self, *, job_id: str, fence: int, until: datetime, checkpoint: Any = None
    ) -> bool:
        text = dumps_optional(checkpoint, f"the checkpoint of job {job_id}")
        return await self._write("heartbeat_job", ops.heartbeat_job, job_id, fence, ops.enc(until), text)

    async def finish_job(
        self,
        *,
        job_id: str,
        fence: int,
        status: JobStatus,
        result: Any = None,
        error: dict[str, Any] | None = None,
        now: datetime,
    ) -> bool:
        values = (
            status.value,
            dumps_optional(result, f"the result of job {job_id}"),
            dumps_optional(error, f"the error of job {job_id}"),
            ops.enc(now),
        )
        return await self._write("finish_job", ops.finish_job, job_id, fence, values)


def _readonly_uri(path: str) -> str | None:
    """``file:///abs/path.db?mode=ro``; None when there is no such file."""
    return f"{Path(path).absolute().as_uri()}?mode=ro" if os.path.isfile(path) else None


def _ensure_directory(path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

"""Bulk actions by filter: cancel, retry, resume or migrate everything a filter matches,
across all pages, as the CLI (``--filter``) and the console (``:retry`` ...) do.

- :func:`preview` freezes the set: its count, its first ids, and the newest id it holds;
  executions created after the preview are left alone.
- :class:`BulkRun` works through the set in bounded batches by keyset (``id <`` the last
  one seen, newest first): never all ids in memory.
- An action that makes work runnable (retry, resume) is paced: before each batch it waits
  while the runnable backlog is over ``max_backlog``, so new executions are not starved in
  the claim queue (claims take the oldest id first). A backlog that does not drain at all
  (no worker runs) stops holding the run back after ``stall`` seconds.
- Each item is one compare-and-set of its own (up to ``concurrency`` of a batch in flight
  at once): an interrupted run is re-run with the same filter, and what was done is no
  longer matched (or is refused by the state check).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from flowmonkey.engine import Engine
from flowmonkey.errors import FlowMonkeyError, FlowNotFoundError
from flowmonkey.model import Execution, ExecutionStatus, Flow
from flowmonkey.stores.base import ExecutionQuery, ExecutionStore

BATCH = 50
MAX_BACKLOG = 50
CONCURRENCY = 8  # actions of a batch in flight at once (round trips overlap)
ON_TARGET = "ON_TARGET: it runs on the target definition already"
RUNNABLE = ExecutionQuery(statuses=(ExecutionStatus.PENDING, ExecutionStatus.RUNNING))

Action = Callable[[Execution], Awaitable[str | None]]
"""Acts on one execution; returns None when done, else why it was refused."""


@dataclass(frozen=True, slots=True)
class BulkPreview:
    """The frozen set: how many match, the first ids, and the newest id (the bound)."""

    query: ExecutionQuery
    count: int
    first_ids: tuple[str, ...]
    newest_id: str | None


@dataclass(slots=True)
class BulkProgress:
    """How far a run is: ``done`` acted on, ``refused`` (by reason code) left as they were."""

    total: int
    done: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    paused_seconds: float = 0.0

    @property
    def seen(self) -> int:
        return self.done + sum(self.refused.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "done": self.done,
            "refused": sum(self.refused.values()),
            "refused_by_reason": dict(self.refused),
            "seconds": round(self.seconds, 3),
        }


async def preview(store: ExecutionStore, query: ExecutionQuery, *, first: int = 10) -> BulkPreview:
    """Freeze the set ``query`` matches now (see the module docstring)."""
    page = await store.list_executions(query, limit=first)
    counts = await store.count_executions(query)
    ids = tuple(e.id for e in page.items)
    return BulkPreview(query, sum(counts.values()), ids, ids[0] if ids else None)


async def frozen(
    store: ExecutionStore, plan: BulkPreview, batch: int = BATCH
) -> AsyncIterator[list[Execution]]:
    """The executions of ``plan`` still matching its query, ``batch`` at a time by keyset."""
    if plan.newest_id is None:
        return
    # Keyset from the bound: a cursor pages on below it (ids of one length sort by time, so
    # the bound with a character after it is above the bound and below anything newer).
    cursor: str | None = plan.newest_id + "0"
    while True:
        page = await store.list_executions(plan.query, limit=batch, cursor=cursor)
        items = [e for e in page.items if e.id <= plan.newest_id]
        if items:
            yield items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


class BulkRun:
    """Runs ``action`` over the set of a :class:`BulkPreview` (see the module docstring)."""

    def __init__(
        self,
        store: ExecutionStore,
        plan: BulkPreview,
        action: Action,
        *,
        paced: bool,
        batch: int = BATCH,
        max_backlog: int = MAX_BACKLOG,
        stall: float = 5.0,
        concurrency: int = CONCURRENCY,
        on_progress: Callable[[BulkProgress], None] | None = None,
        on_item: Callable[[str, str | None], None] | None = None,
    ) -> None:
        self._store, self._plan, self._action = store, plan, action
        self._paced, self._batch, self._max_backlog, self._stall = paced, batch, max_backlog, stall
        self._on_progress = on_progress or (lambda progress: None)
        self._on_item = on_item or (lambda execution_id, refusal: None)
        self.progress = BulkProgress(plan.count)
        self._concurrent = asyncio.Semaphore(concurrency)

    async def run(self) -> BulkProgress:
        started = time.monotonic()
        async for executions in frozen(self._store, self._plan, self._batch):
            if self._paced:
                await self._wait_for_backlog()
            refusals = await asyncio.gather(*(self._act(execution) for execution in executions))
            for execution, refusal in zip(executions, refusals, strict=True):
                if refusal is None:
                    self.progress.done += 1
                else:
                    self.progress.refused[refusal.partition(":")[0]] += 1
                self._on_item(execution.id, refusal)
            self.progress.seconds = time.monotonic() - started
            self._on_progress(self.progress)
            await asyncio.sleep(0)  # let the rest of the process (a worker, the console) run
        self.progress.seconds = time.monotonic() - started
        return self.progress

    async def _act(self, execution: Execution) -> str | None:
        async with self._concurrent:  # each its own compare-and-set: safe side by side
            return await self._action(execution)

    async def _wait_for_backlog(self) -> None:
        """Hold back while the claim queue is long; give up holding when it does not drain."""
        began = time.monotonic()
        lowest = await self._backlog()
        since_drained = began
        while lowest > self._max_backlog and time.monotonic() - since_drained < self._stall:
            await asyncio.sleep(0.05)
            backlog = await self._backlog()
            if backlog < lowest:
                lowest, since_drained = backlog, time.monotonic()
        self.progress.paused_seconds += time.monotonic() - began

    async def _backlog(self) -> int:
        return sum((await self._store.count_executions(RUNNABLE)).values())


async def migration_target(engine: Engine, flow_id: str, to: str) -> Flow:
    """The definition ``to`` names: ``live`` (the flow's live version), a version, or a
    definition hash (in full, or its first characters among the loaded ones)."""
    if to == "live":
        return engine.flows.get(flow_id)
    found = engine.flows.by_hash(to) or await engine.store.get_definition(to)
    if found is None:
        loaded = engine.flows.versions(flow_id)
        found = next((f for f in loaded if f.version == to), None)
        found = found or next((f for f in loaded if len(to) >= 6 and f.hash.startswith(to)), None)
    if found is None or found.id != flow_id:
        raise FlowNotFoundError(f"flow {flow_id!r} has no definition {to!r} (give live, a version or a hash)")
    return found


def cancel_action(engine: Engine, by: str, reason: str | None) -> Action:
    async def cancel(execution: Execution) -> str | None:
        result = await engine.cancel(execution.id, source=by, reason=reason)
        return None if result.cancelled else f"NOT_CANCELLABLE: {result.error or 'not cancelled'}"

    return cancel


def retry_action(engine: Engine, by: str) -> Action:
    async def retry(execution: Execution) -> str | None:
        return await _refusal(engine.retry(execution.id, by=by))

    return retry


def resume_action(engine: Engine, data: Any) -> Action:
    async def resume(execution: Execution) -> str | None:
        return await _refusal(engine.resume(execution.id, data))

    return resume


def migrate_action(engine: Engine, target: Flow, by: str, *, dry_run: bool) -> Action:
    """Move each execution to ``target``; with ``dry_run`` only check that it could."""

    async def migrate(execution: Execution) -> str | None:
        if execution.flow_hash == target.hash:
            return ON_TARGET
        if dry_run:
            check = await engine.check_migration(execution, target)
            return None if check.ok else "NOT_MIGRATABLE: " + "; ".join(check.problems)
        return await _refusal(engine.migrate(execution.id, target, by=by))

    return migrate


async def _refusal(acting: Awaitable[object]) -> str | None:
    try:
        await acting
    except FlowMonkeyError as exc:
        return f"{exc.code}: {exc.message}"
    return None

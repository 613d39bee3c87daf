"""Retention: finished executions, trigger fires, webhook signatures and the change feed's
old positions do not stay for ever.

A :class:`RetentionPolicy` says what is old (by default: finished 30 days ago); a
:class:`Pruner` deletes it from a store in bounded batches (1,000 executions per
transaction, in key order), pausing between batches so that the runtimes sharing the
store keep their pace. A prune stopped anywhere is simply run again: each batch
committed, and the next run finds what is left. :class:`RetentionLoop` prunes every so
often inside a long-running process (``flowmonkey worker --prune-every 1h``).

What never goes, and what goes with an execution, is the store's part:
:mod:`flowmonkey.stores.retention`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flowmonkey.durations import format_duration
from flowmonkey.errors import InvalidArgumentError, StoreError
from flowmonkey.model import ExecutionStatus
from flowmonkey.stores.retention import PruneCut, RetentionStore

log = logging.getLogger("flowmonkey.retention")

DEFAULT_RETENTION = timedelta(days=30)
FINISHED = (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)
BATCH_SIZE = 1000
DRY_RUN_LIMIT = 2**62
DEFAULT_PAUSE = 4.0
"""After each batch the pruner rests this many times as long as the batch took: a prune
takes at most a fifth of the store's time (SQLite has one writer), so the runtimes sharing
the store keep their pace."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionPolicy:
    """What a prune takes.

    Attributes:
        older_than: executions that finished longer ago than this go.
        statuses: which finished statuses go (never an active one).
        flow_id: only executions of this flow (and then no trigger fires, signatures or
            feed positions).
        fires_older_than: trigger fires recorded longer ago go (default: ``older_than``).
        batch_size: executions examined per transaction.
        pause: rest after each batch, as a multiple of the time it took.
    """

    older_than: timedelta = DEFAULT_RETENTION
    statuses: tuple[ExecutionStatus, ...] = FINISHED
    flow_id: str | None = None
    fires_older_than: timedelta | None = None
    batch_size: int = BATCH_SIZE
    pause: float = DEFAULT_PAUSE

    def __post_init__(self) -> None:
        active = [s.value for s in self.statuses if s not in FINISHED]
        if active:
            raise InvalidArgumentError(
                f"an active execution is never pruned: {', '.join(active)} is not one of "
                f"{', '.join(s.value for s in FINISHED)}"
            )
        if self.older_than < timedelta(0) or (self.fires_older_than or timedelta(0)) < timedelta(0):
            raise InvalidArgumentError("a retention is a duration of zero or more")
        if self.batch_size < 1 or self.pause < 0:
            raise InvalidArgumentError("the batch size is at least 1 and the pause zero or more")

    @property
    def fires_retention(self) -> timedelta:
        return self.older_than if self.fires_older_than is None else self.fires_older_than

    def describe(self) -> str:
        """One line: what this policy keeps, for logs, help and tooltips."""
        statuses = ", ".join(s.value for s in self.statuses)
        flow = f" of flow {self.flow_id}" if self.flow_id else ""
        fires = "" if self.flow_id else f"; trigger fires {format_duration(self.fires_retention)}"
        return f"{statuses} executions{flow} kept {format_duration(self.older_than)} after they finish{fires}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneReport:
    """What a prune deleted (or, in a dry run, would delete)."""

    dry_run: bool
    executions: dict[tuple[str, ExecutionStatus], int] = field(default_factory=dict)
    trigger_fires: int = 0
    trigger_slots: int = 0
    signatures: int = 0
    feed_positions: int = 0
    batches: int = 0
    seconds: float = 0.0
    space: str | None = None

    @property
    def execution_count(self) -> int:
        return sum(self.executions.values())

    def summary(self) -> str:
        """One line for logs and the command line."""
        verb = "would delete" if self.dry_run else "deleted"
        parts = (
            f"{self.execution_count} execution(s)",
            f"{self.trigger_fires} trigger fire(s)",
            f"{self.trigger_slots} schedule slot(s)",
            f"{self.signatures} webhook signature(s)",
            f"{self.feed_positions} change feed position(s)",
        )
        return f"{verb} {', '.join(parts)} in {self.seconds:.1f}s"

    def to_dict(self) -> dict[str, Any]:
        by_flow = [
            {"flow": flow, "status": status.value, "count": n}
            for (flow, status), n in sorted(self.executions.items())
        ]
        return {
            "dryRun": self.dry_run,
            "executions": {"total": self.execution_count, "byFlow": by_flow},
            "triggerFires": self.trigger_fires,
            "triggerSlots": self.trigger_slots,
            "webhookSignatures": self.signatures,
            "feedPositions": self.feed_positions,
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
            "space": self.space,
        }


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Pruner:
    """Deletes what a :class:`RetentionPolicy` calls old from ``store``, batch by batch."""

    def __init__(
        self,
        store: RetentionStore,
        policy: RetentionPolicy,
        *,
        clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.policy = policy
        self._clock = clock
        self._sleep = sleep

    async def prune(self, *, dry_run: bool = False, vacuum: bool = False) -> PruneReport:
        """Delete (``dry_run``: count) what is old; ``vacuum`` also rewrites a SQLite file.

        Raises:
            StoreError: the store failed; what earlier batches deleted stays deleted.
        """
        started = time.perf_counter()
        now = self._clock()
        gone: Counter[tuple[str, ExecutionStatus]] = Counter()
        batches = 0
        for status in self.policy.statuses:
            batches += await self._prune_status(status, now, gone, dry_run)
        others = {"trigger_fires": 0, "trigger_slots": 0, "signatures": 0, "feed_positions": 0}
        if self.policy.flow_id is None:
            others = await self._prune_by_age(now, dry_run)
        space = None if dry_run else await self.store.reclaim_space(full=vacuum)
        return PruneReport(
            dry_run=dry_run,
            executions=dict(gone),
            batches=batches,
            seconds=time.perf_counter() - started,
            space=space,
            **others,
        )

    async def _prune_status(
        self,
        status: ExecutionStatus,
        now: datetime,
        gone: Counter[tuple[str, ExecutionStatus]],
        dry_run: bool,
    ) -> int:
        cut = PruneCut(
            status=status, finished_before=now - self.policy.older_than, now=now, flow_id=self.policy.flow_id
        )
        after: str | None = ""
        batches = 0
        while after is not None:
            began = time.perf_counter()
            batch = await self.store.prune_executions(
                cut, after=after, limit=self.policy.batch_size, dry_run=dry_run
            )
            gone.update(batch.gone)
            batches += 1
            after = batch.last_id
            if after is not None and not dry_run:
                await self._rest(began)
        return batches

    async def _prune_by_age(self, now: datetime, dry_run: bool) -> dict[str, int]:
        before = now - self.policy.fires_retention
        limit = DRY_RUN_LIMIT if dry_run else self.policy.batch_size  # a dry run counts all at once
        prunes = {
            "trigger_fires": lambda: self.store.prune_trigger_fires(
                fired_before=before, limit=limit, dry_run=dry_run
            ),
            "trigger_slots": lambda: self.store.prune_trigger_slots(
                before=before, limit=limit, dry_run=dry_run
            ),
            "signatures": lambda: self.store.prune_signatures(
                expired_before=now, limit=limit, dry_run=dry_run
            ),
            "feed_positions": lambda: self.store.prune_feed(
                before=now - self.policy.older_than, limit=limit, dry_run=dry_run
            ),
        }
        counts = {}
        for name, prune_batch in prunes.items():
            counts[name] = await self._prune_rows(prune_batch, dry_run)
        return counts

    async def _prune_rows(self, prune_batch: Callable[[], Awaitable[int]], dry_run: bool) -> int:
        """Batches until one is not full (a dry run is one count: it deletes nothing)."""
        total = 0
        while True:
            began = time.perf_counter()
            n = await prune_batch()
            total += n
            if dry_run or n < self.policy.batch_size:
                return total
            await self._rest(began)

    async def _rest(self, began: float) -> None:
        if self.policy.pause > 0:
            await self._sleep((time.perf_counter() - began) * self.policy.pause)


class RetentionLoop:
    """Prunes every ``every`` (the first time at start) until stopped; a failed prune is
    one log line, and the next is tried at its time. ``async with`` starts and stops it.
    Several processes may prune one store at once: each row goes once."""

    def __init__(self, pruner: Pruner, every: timedelta) -> None:
        if every <= timedelta(0):
            raise InvalidArgumentError("--prune-every must be a positive duration")
        self.pruner = pruner
        self.every = every
        self.last: PruneReport | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RetentionLoop:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def describe(self) -> str:
        """What is kept, and how often it is pruned (for logs, help and tooltips)."""
        return f"{self.pruner.policy.describe()}; pruned every {format_duration(self.every)}"

    def start(self) -> None:
        log.info("retention: %s", self.describe())
        self._task = asyncio.create_task(self._run(), name="flowmonkey-retention")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                self.last = await self.pruner.prune()
                log.info("retention: %s", self.last.summary())
            except StoreError as exc:
                log.warning(
                    "retention: the prune stopped (%s); next try in %s",
                    exc.message,
                    format_duration(self.every),
                )
            except Exception:  # a bug must not end pruning for good: say so, try again later
                log.exception("retention: the prune failed; next try in %s", format_duration(self.every))
            await asyncio.sleep(self.every.total_seconds())

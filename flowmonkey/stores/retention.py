"""What a store does for retention: delete what is old, a bounded batch at a time.

Each call is one short transaction of at most ``limit`` rows, in key order, so a prune
of millions of rows never holds a long lock and can stop anywhere: what it deleted is
gone, what it did not is found again by the next run. The policy (what is old, which
statuses, how fast) is :mod:`flowmonkey.retention`'s; the store only answers for one
batch, and never deletes what must stay:

- an active execution (pending, running, waiting, held): only finished statuses are
  ever looked at;
- a finished child whose parent is still active (the parent may still read it);
- an execution whose idempotency key is still live: a create repeating the key within
  its TTL must find it (sub-flow children and schedule slots keep theirs long);
- trigger state a schedule needs: the triggers themselves (their ``next_run_at``), and
  the slots claimed at or after a trigger's ``next_run_at``.

What goes with an execution, in the same transaction: its history (takeover records
included), its jobs, and its idempotency entry (expired, or it would not go). On SQLite
the per (flow, status) counts move in that transaction too (a trigger of migration 2).
The change feed keeps the retention's span: on SQLite and in memory, where it is a list
of positions of its own, a prune takes the oldest positions up to the first whose record
is still stored and finished within the retention (the records of live executions stay
in their history; only their place in the feed goes). On PostgreSQL the feed is the
history rows' own columns, so it went with the history already.
Stored flow definitions are kept: a process that saved one may pin new executions to it
at any time without saving it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from flowmonkey.ids import first_id
from flowmonkey.model import ExecutionStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneCut:
    """Which finished executions of one status a batch may take.

    ``finished_before``: finished (``completed_at``) before this moment. ``now``: decides
    which idempotency keys are still live. ``flow_id``: only this flow, if given.
    """

    status: ExecutionStatus
    finished_before: datetime
    now: datetime
    flow_id: str | None = None

    @property
    def id_below(self) -> str:
        """Ids sort by creation time (ULIDs), and nothing finishes before it was created:
        every execution that may go has an id below this one, so a scan stops there."""
        return first_id(int(self.finished_before.timestamp() * 1000) + 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class PrunedBatch:
    """One batch: how many executions went (or would go, in a dry run) by (flow, status),
    and the last id examined: the next batch starts after it; None when none is left."""

    gone: dict[tuple[str, ExecutionStatus], int] = field(default_factory=dict)
    last_id: str | None = None

    @property
    def count(self) -> int:
        return sum(self.gone.values())


class RetentionStore(Protocol):
    """Bounded deletes of old executions, trigger fires, slots and webhook signatures."""

    async def prune_executions(
        self, cut: PruneCut, *, after: str, limit: int, dry_run: bool = False
    ) -> PrunedBatch:
        """Examine the next ``limit`` executions of ``cut.status`` with an id after
        ``after`` (in id order, below ``cut.id_below``) and delete those ``cut`` takes and
        no rule keeps, with their history, jobs and idempotency entries, in one
        transaction. ``dry_run`` deletes nothing and counts what would go."""
        ...

    async def prune_trigger_fires(self, *, fired_before: datetime, limit: int, dry_run: bool = False) -> int:
        """Delete up to ``limit`` of the oldest trigger fires recorded before ``fired_before``."""
        ...

    async def prune_trigger_slots(self, *, before: datetime, limit: int, dry_run: bool = False) -> int:
        """Delete up to ``limit`` claimed schedule slots before ``before`` that no schedule
        needs any more: before their trigger's ``next_run_at`` (or the trigger is gone or
        has none)."""
        ...

    async def prune_signatures(self, *, expired_before: datetime, limit: int, dry_run: bool = False) -> int:
        """Delete up to ``limit`` webhook signatures seen that expired before
        ``expired_before`` (a redelivery of them is refused by its timestamp anyway)."""
        ...

    async def prune_feed(self, *, before: datetime, limit: int, dry_run: bool = False) -> int:
        """Delete up to ``limit`` of the change feed's oldest positions, stopping at the
        first whose record is still stored and finished at or after ``before``."""
        ...

    async def reclaim_space(self, *, full: bool = False) -> str:
        """Give the space of deleted rows back, as far as this store does; one line saying
        what was done. ``full``: also what takes long or blocks writers (SQLite ``VACUUM``)."""
        ...

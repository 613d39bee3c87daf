"""``MemoryStore``: a real, in-process implementation of the Store protocol.

Everything lives in dicts of this process and is lost on exit. Every read and write goes
through a copy, so callers never share state with the store (as with a database). No
method awaits between reading and writing, which makes each operation atomic on one loop.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Self

from flowmonkey.change import Change
from flowmonkey.model import (
    ACTIVE_STATUSES,
    Execution,
    ExecutionStatus,
    Flow,
    Job,
    JobStatus,
    StepRecord,
    TriggerDefinition,
    TriggerFire,
    WaitKind,
    WebhookSignature,
    copy_json,
)
from flowmonkey.stores import health
from flowmonkey.stores._fan_memory import MemoryFanIns
from flowmonkey.stores._feed import cursor, position
from flowmonkey.stores._memory_retention import MemoryRetention
from flowmonkey.stores.base import Claim, CreateResult, ExecutionQuery, FeedEntry, FeedPage, Page

_MS = timedelta(milliseconds=1)


def matches(execution: Execution, query: ExecutionQuery) -> bool:
    """Whether ``execution`` passes every filter of ``query``."""
    if query.statuses and execution.status not in query.statuses:
        return False
    if query.flow_id is not None and execution.flow_id != query.flow_id:
        return False
    if query.tenant_id is not None and execution.tenant_id != query.tenant_id:
        return False
    if query.parent_execution_id is not None and execution.parent_execution_id != query.parent_execution_id:
        return False
    if query.created_after is not None and execution.created_at < query.created_after:
        return False
    if query.created_before is not None and execution.created_at >= query.created_before:
        return False
    return query.id_contains is None or query.id_contains.lower() in execution.id.lower()


_MUTABLE = ("context", "metadata")  # the fields a caller could change after a commit


class MemoryStore(MemoryFanIns, MemoryRetention):
    """The Store protocol in memory; the default for unit tests and dry runs."""

    url = "memory://"

    def __init__(self) -> None:
        super().__init__()
        self._executions: dict[str, Execution] = {}
        self._history: dict[str, list[StepRecord]] = defaultdict(list)
        self._feed: list[StepRecord] = []  # every record in commit order, since a prune
        self._feed_base = 0  # the position of _feed[0] (a prune takes the oldest)
        self._idempotency: dict[tuple[str, str, str], tuple[str, datetime | None]] = {}
        self._definitions: dict[str, Flow] = {}
        self._triggers: dict[str, TriggerDefinition] = {}
        self._slots: set[tuple[str, datetime]] = set()
        self._fires: dict[str, list[TriggerFire]] = defaultdict(list)
        self._signatures: dict[tuple[str, str], WebhookSignature] = {}
        self._jobs: dict[str, Job] = {}
        self._job_keys: dict[tuple[str, str, int], str] = {}
        self._order = itertools.count()

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- executions -------------------------------------------------------------------

    async def create_execution(self, execution: Execution, *, now: datetime) -> CreateResult:
        scope = _idempotency_scope(execution)
        if scope is not None:
            held = self._idempotency.get(scope)
            if held is not None and (held[1] is None or held[1] > now) and held[0] in self._executions:
                return CreateResult(self._executions[held[0]].copy(), False)
            self._idempotency[scope] = (execution.id, execution.idempotency_expires_at)
        self._executions[execution.id] = execution.copy()
        return CreateResult(execution.copy(), True)

    async def get_execution(self, execution_id: str) -> Execution | None:
        stored = self._executions.get(execution_id)
        return stored.copy() if stored is not None else None

    async def commit(self, change: Change) -> bool:
        stored = self._executions.get(change.execution_id)
        if stored is None or stored.revision != change.expected_revision:
            return False
        # The stored object is never handed out (reads get copies): update it in place.
        fields = change.fields
        stored.__dict__.update(fields)
        for name in _MUTABLE:
            if name in fields:
                setattr(stored, name, copy_json(fields[name]))
        if stored.is_terminal:  # ended: the lease is given back with it
            stored.lease_owner = stored.lease_expires_at = None
        if change.record is not None:
            self._history[stored.id].append(change.record)
            self._feed.append(change.record)
        if change.wake_parent is not None:
            self._child_ended(change, change.wake_parent)
        return True

    def _wake_parent(self, parent_id: str, at: datetime) -> None:
        """In the child's commit: the parent moves on a revision; a waiting step is due."""
        parent = self._executions.get(parent_id)
        if parent is None or parent.is_terminal:
            return
        parent.revision += 1
        parent.updated_at = at
        if parent.status is ExecutionStatus.WAITING and parent.wait_kind is WaitKind.HANDLER:
            parent.wake_at = at

    async def history(self, execution_id: str) -> list[StepRecord]:
        return list(self._history.get(execution_id, ()))

    async def feed(self, *, after: str | None = None, limit: int = 200) -> FeedPage:
        start = position(after, "m", 1)
        base = self._feed_base
        first = max(base, base + len(self._feed) - limit) if start is None else max(base, start[0])
        records = self._feed[first - base : first - base + limit]
        entries = [FeedEntry(record=r, flow_id=self._flow_of(r.execution_id)) for r in records]
        return FeedPage(entries=entries, cursor=cursor("m", first + len(records)))

    def _flow_of(self, execution_id: str) -> str | None:
        execution = self._executions.get(execution_id)
        return execution.flow_id if execution is not None else None

    async def list_executions(
        self, query: ExecutionQuery = ExecutionQuery(), *, limit: int = 50, cursor: str | None = None
    ) -> Page[Execution]:
        ids = sorted((i for i in self._executions if cursor is None or i < cursor), reverse=True)
        items: list[Execution] = []
        for execution_id in ids:
            execution = self._executions[execution_id]
            if matches(execution, query):
                items.append(execution.copy())
                if len(items) > limit:
                    break
        more = len(items) > limit
        items = items[:limit]
        return Page(items=items, next_cursor=items[-1].id if more and items else None)

    async def count_executions(self, query: ExecutionQuery = ExecutionQuery()) -> dict[ExecutionStatus, int]:
        counts = dict.fromkeys(ExecutionStatus, 0)
        for execution in self._executions.values():
            if matches(execution, query):
                counts[execution.status] += 1
        return counts

    async def flow_health(self, flow_id: str, *, since: datetime, until: datetime) -> health.FlowHealth:
        mine = [e for e in self._executions.values() if e.flow_id == flow_id]
        finished = [e for e in mine if e.completed_at is not None and since <= e.completed_at < until]
        finished.sort(key=lambda e: e.completed_at or since, reverse=True)
        timed = [e for e in finished if e.status is not ExecutionStatus.CANCELLED][: health.DURATION_SAMPLE]
        statuses = [e.status.value for e in finished]
        return health.flow_health(
            flow_id,
            finished=[(status, statuses.count(status)) for status in set(statuses)],
            durations_ms=[((e.completed_at or e.created_at) - e.created_at) / _MS for e in timed],
            started=[
                ((e.created_at - since) // health.MINUTE, 1) for e in mine if since <= e.created_at < until
            ],
            minutes=health.minutes_in(since, until),
        )

    async def step_health(self, flow_id: str, *, since: datetime, until: datetime) -> list[health.StepHealth]:
        started = [
            e for e in self._executions.values() if e.flow_id == flow_id and since <= e.created_at < until
        ]
        started.sort(key=lambda e: e.created_at, reverse=True)
        records = [r for e in started[: health.STEP_SAMPLE] for r in self._history.get(e.id, ())]
        runs = [(r.step_id, r.outcome.value, r.duration_ms) for r in records if r.step_id is not None]
        return health.step_health(runs)

    # -- definitions ------------------------------------------------------------------

    async def save_definition(self, flow: Flow) -> None:
        self._definitions.setdefault(flow.hash, flow)

    async def get_definition(self, flow_hash: str) -> Flow | None:
        return self._definitions.get(flow_hash)

    # -- runtime ----------------------------------------------------------------------

    async def claim(self, *, owner: str, now: datetime, lease: timedelta, limit: int) -> list[Claim]:
        claimed: list[Claim] = []
        for execution in sorted(self._executions.values(), key=lambda e: e.id):
            if len(claimed) >= limit:
                break
            if _runnable(execution, now):
                lapsed = (execution.lease_owner, execution.lease_expires_at)
                execution.lease_owner, execution.lease_expires_at = owner, now + lease
                claimed.append(Claim(execution.copy(), *lapsed))
        return claimed

    async def renew_leases(self, *, owner: str, execution_ids: list[str], until: datetime) -> list[str]:
        held = []
        for execution_id in execution_ids:
            execution = self._executions.get(execution_id)
            if execution is not None and execution.lease_owner == owner:
                execution.lease_expires_at = until
                held.append(execution_id)
        return held

    async def release(self, *, owner: str, execution_ids: list[str]) -> None:
        for execution_id in execution_ids:
            execution = self._executions.get(execution_id)
            if execution is not None and execution.lease_owner == owner:
                execution.lease_owner = execution.lease_expires_at = None

    async def next_wake_at(self, *, exclude_owner: str | None = None) -> datetime | None:
        times = [
            t
            for e in self._executions.values()
            if e.status in ACTIVE_STATUSES
            for t in (e.timeout_at, _claimable_at(e, exclude_owner))
            if t is not None
        ]
        return min(times, default=None)

    async def timed_out(self, *, now: datetime, limit: int) -> list[Execution]:
        due = [
            e.copy()
            for e in self._executions.values()
            if e.status in ACTIVE_STATUSES and e.timeout_at is not None and e.timeout_at <= now
        ]
        return sorted(due, key=lambda e: e.timeout_at or now)[:limit]

    # -- triggers ---------------------------------------------------------------------

    async def save_trigger(self, trigger: TriggerDefinition) -> None:
        self._triggers[trigger.id] = replace(trigger, config=_copy(trigger.config))

    async def get_trigger(self, trigger_id: str) -> TriggerDefinition | None:
        trigger = self._triggers.get(trigger_id)
        return replace(trigger, config=_copy(trigger.config)) if trigger else None

    async def list_triggers(self) -> list[TriggerDefinition]:
        return [replace(t, config=_copy(t.config)) for _, t in sorted(self._triggers.items())]

    async def delete_trigger(self, trigger_id: str) -> bool:
        return self._triggers.pop(trigger_id, None) is not None

    async def claim_slot(self, *, trigger_id: str, slot_at: datetime) -> bool:
        key = (trigger_id, slot_at)
        if key in self._slots:
            return False
        self._slots.add(key)
        return True

    async def record_fire(self, fire: TriggerFire) -> None:
        self._fires[fire.trigger_id].append(fire)

    async def trigger_history(self, trigger_id: str, *, limit: int = 50) -> list[TriggerFire]:
        return list(reversed(self._fires.get(trigger_id, [])))[:limit]

    async def claim_signature(
        self, seen: WebhookSignature, *, abandoned_before: datetime
    ) -> WebhookSignature | None:
        now = seen.seen_at
        for key in [k for k, row in self._signatures.items() if row.expires_at <= now]:
            del self._signatures[key]
        key = (seen.trigger_id, seen.signature)
        held = self._signatures.get(key)
        if held is not None and (held.execution_id is not None or held.seen_at >= abandoned_before):
            return held
        self._signatures[key] = replace(seen, execution_id=None)
        return None

    async def settle_signature(self, *, trigger_id: str, signature: str, execution_id: str | None) -> None:
        key = (trigger_id, signature)
        held = self._signatures.get(key)
        if held is None:
            return
        if execution_id is not None:
            self._signatures[key] = replace(held, execution_id=execution_id)
        elif held.execution_id is None:
            del self._signatures[key]

    async def get_signature(self, *, trigger_id: str, signature: str) -> WebhookSignature | None:
        return self._signatures.get((trigger_id, signature))

    # -- jobs -------------------------------------------------------------------------

    async def enqueue_job(self, job: Job) -> tuple[Job, bool]:
        key = (job.execution_id, job.step_id, job.attempt)
        existing = self._job_keys.get(key)
        if existing is not None and self._jobs[existing].visit == job.visit:
            return self._jobs[existing], False
        if existing is not None:  # a job of an earlier visit of the step: that visit is over
            del self._jobs[existing]
        self._jobs[job.id] = job
        self._job_keys[key] = job.id
        return job, True

    async def get_job(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    async def claim_jobs(self, *, owner: str, now: datetime, lease: timedelta, limit: int) -> list[Job]:
        claimed: list[Job] = []
        for job in sorted(self._jobs.values(), key=lambda j: j.created_at):
            if len(claimed) >= limit:
                break
            lapsed = job.status is JobStatus.RUNNING and (job.lease_expires_at or now) <= now
            if job.status is JobStatus.PENDING or lapsed:
                job = replace(
                    job,
                    status=JobStatus.RUNNING,
                    owner=owner,
                    fence=job.fence + 1,
                    lease_expires_at=now + lease,
                    updated_at=now,
                )
                self._jobs[job.id] = job
                claimed.append(job)
        return claimed

    async def heartbeat_job(
        self, *, job_id: str, fence: int, until: datetime, checkpoint: Any = None
    ) -> bool:
        job = self._jobs.get(job_id)
        if job is None or job.fence != fence or job.status is not JobStatus.RUNNING:
            return False
        changes: dict[str, Any] = {"lease_expires_at": until}
        if checkpoint is not None:
            changes["checkpoint"] = _copy(checkpoint)
        self._jobs[job_id] = replace(job, **changes)
        return True

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
        job = self._jobs.get(job_id)
        if job is None or job.fence != fence or job.status is not JobStatus.RUNNING:
            return False
        self._jobs[job_id] = replace(
            job, status=status, result=_copy(result), error=error, updated_at=now, lease_expires_at=None
        )
        return True


def _runnable(execution: Execution, now: datetime) -> bool:
    if execution.lease_expires_at is not None and execution.lease_expires_at > now:
        return False
    if execution.status in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING):
        return True
    return (
        execution.status is ExecutionStatus.WAITING
        and execution.wake_at is not None
        and execution.wake_at <= now
    )


def _claimable_at(execution: Execution, exclude_owner: str | None) -> datetime | None:
    """When an active execution becomes claimable by time (see ``Store.next_wake_at``);
    None when no time makes it so, or it is claimable already without a lease."""
    owner, lapse = execution.lease_owner, execution.lease_expires_at
    if owner is not None and owner == exclude_owner:
        return None
    if execution.status is ExecutionStatus.WAITING:
        wake = execution.wake_at
        return wake if wake is None or owner is None or lapse is None else max(wake, lapse)
    return lapse if owner is not None else None


def _idempotency_scope(execution: Execution) -> tuple[str, str, str] | None:
    if execution.idempotency_key is None:
        return None
    return (execution.tenant_id or "", execution.flow_id, execution.idempotency_key)


_copy = copy_json

"""The ``Store`` protocol: what the engine, runtime, triggers and console need from storage.

Operations mean something (create with idempotency, commit a step with compare-and-set,
claim with a lease), not SQL. Every implementation hands out copies: mutating a returned
object never changes what is stored. Driver errors are translated at this boundary into
:class:`~flowmonkey.errors.StoreError` / :class:`~flowmonkey.errors.ConflictError`.

``Store`` is the union of the parts it is made of, and each caller depends on the part it
uses: :class:`ExecutionStore` (executions, their history, and the flow definitions they
pin; with :class:`DefinitionStore`), :class:`ClaimStore` (the runtime's claims, leases,
wakes and timeouts), :class:`TriggerStore` (triggers, their slots and fires) and
:class:`JobStore` (long-running handlers' jobs) and :class:`FeedStore` (the history of
every execution as one feed, for watchers in other processes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, NamedTuple, Protocol, Self, TypeVar, runtime_checkable

from flowmonkey.change import Change
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
)
from flowmonkey.model.fanout import FanIn
from flowmonkey.stores.health import FlowHealth, StepHealth
from flowmonkey.stores.retention import RetentionStore

T = TypeVar("T")


class CreateResult(NamedTuple):
    """What ``create`` returns: the execution, and whether this call created it."""

    execution: Execution
    created: bool


class Claim(NamedTuple):
    """One execution a claim leased. ``taken_from`` names the owner whose lease on it had
    lapsed without a release (that runtime stopped or was lost: the step it had in flight
    runs again), with when the lease lapsed; both are None for a plain claim."""

    execution: Execution
    taken_from: str | None = None
    lapsed_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionQuery:
    """Filters for listing and counting executions; every field narrows the result."""

    statuses: tuple[ExecutionStatus, ...] = ()
    flow_id: str | None = None
    tenant_id: str | None = None
    parent_execution_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    id_contains: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Page(Generic[T]):
    """One page of a listing; pass ``next_cursor`` back to get the next (older) page."""

    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedEntry:
    """One history record in the change feed, with the flow of its execution (None when
    the execution is gone)."""

    record: StepRecord
    flow_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedPage:
    """Entries of the change feed, oldest first; pass ``cursor`` back to read on."""

    entries: list[FeedEntry]
    cursor: str


class DefinitionStore(Protocol):
    """Flow definitions by hash: what an execution pinned stays readable."""

    async def save_definition(self, flow: Flow) -> None:
        """Keep ``flow`` under ``flow.hash`` (idempotent)."""
        ...

    async def get_definition(self, flow_hash: str) -> Flow | None: ...


class ExecutionStore(DefinitionStore, Protocol):
    """Executions, their history, and the definitions they pin."""

    async def create_execution(self, execution: Execution, *, now: datetime) -> CreateResult:
        """Insert ``execution``, honouring its idempotency key.

        When the execution has an ``idempotency_key`` and a live (unexpired at ``now``)
        execution already holds that key in the same (tenant_id, flow_id) scope, nothing is
        written and that execution is returned with ``created=False``, whatever its status.
        This holds under concurrent calls. An expired key is taken over by the new execution.
        """
        ...

    async def get_execution(self, execution_id: str) -> Execution | None: ...

    async def commit(self, change: Change) -> bool:
        """Atomically apply ``change.fields`` to the stored execution and append
        ``change.record`` (if any) to its history.

        Applies only if the stored revision still equals ``change.expected_revision`` (the
        revision of ``change.base``, which the store must not modify). Returns False (and
        writes nothing) when another writer won. A change never names the lease fields or
        the fields fixed at create (flow id, version and hash, tenant, parent, idempotency
        key, ``created_at``). A commit that ends the execution (completed, failed,
        cancelled) clears its lease: nothing is left for the runtime to release.
        """
        ...

    async def history(self, execution_id: str) -> list[StepRecord]:
        """The execution's step records in commit order."""
        ...

    async def list_executions(
        self, query: ExecutionQuery = ExecutionQuery(), *, limit: int = 50, cursor: str | None = None
    ) -> Page[Execution]:
        """Matching executions, newest first (by id), ``limit`` at a time (keyset paging)."""
        ...

    async def count_executions(self, query: ExecutionQuery = ExecutionQuery()) -> dict[ExecutionStatus, int]:
        """How many executions match, by status (every status present, zero included)."""
        ...

    async def flow_health(self, flow_id: str, *, since: datetime, until: datetime) -> FlowHealth:
        """How ``flow_id`` did in ``[since, until)``: finishes, p95, starts per minute.

        Reads only the window, and a bounded sample of it (see :mod:`.health`).
        """
        ...

    async def step_health(self, flow_id: str, *, since: datetime, until: datetime) -> list[StepHealth]:
        """Per step of ``flow_id``, its runs in the latest executions started in the window."""
        ...


class ClaimStore(Protocol):
    """The runtime's part: claims with a lease, renewals, releases, wakes and timeouts."""

    async def claim(self, *, owner: str, now: datetime, lease: timedelta, limit: int) -> list[Claim]:
        """Lease up to ``limit`` runnable executions to ``owner`` until ``now + lease``.

        Runnable: no live lease (none, or expired at ``now``) and either pending, running,
        or waiting with ``wake_at <= now``. Concurrent claimers never get the same one.
        A claim of an execution whose lease lapsed (it was never released) says from whom
        it was taken.
        """
        ...

    async def renew_leases(self, *, owner: str, execution_ids: list[str], until: datetime) -> list[str]:
        """Extend ``owner``'s leases; returns the ids still held by ``owner``."""
        ...

    async def release(self, *, owner: str, execution_ids: list[str]) -> None:
        """Drop ``owner``'s leases on these executions (others' leases are untouched)."""
        ...

    async def next_wake_at(self, *, exclude_owner: str | None = None) -> datetime | None:
        """The earliest moment a runtime may have something to do, or None.

        That is the earliest of, among active executions: a ``timeout_at`` (it is then
        cancelled); the ``wake_at`` of a waiting execution that nobody leases; and, for
        one leased by anyone but ``exclude_owner``, the moment it becomes claimable: when
        its lease lapses, or for a waiting one the later of that and its ``wake_at`` (a
        wait without ``wake_at`` waits for a resume and never counts). This is how an idle
        runtime takes over a crashed runtime's work the moment its lease lapses.

        A runtime excludes its own leases: it learns that its own work ended when its
        task ends, and would otherwise wake at every lease it keeps renewing. Executions
        claimable already (pending or running without a lease) are not counted: a claim
        finds them.
        """
        ...

    async def timed_out(self, *, now: datetime, limit: int) -> list[Execution]:
        """Active executions whose ``timeout_at`` has passed at ``now``."""
        ...


class TriggerStore(Protocol):
    """Triggers, the schedule slots they fired, the record of every fire, and the webhook
    signatures seen (so a redelivery is recognised)."""

    async def save_trigger(self, trigger: TriggerDefinition) -> None:
        """Insert or replace a trigger by id."""
        ...

    async def get_trigger(self, trigger_id: str) -> TriggerDefinition | None: ...
    async def list_triggers(self) -> list[TriggerDefinition]: ...
    async def delete_trigger(self, trigger_id: str) -> bool: ...

    async def claim_slot(self, *, trigger_id: str, slot_at: datetime) -> bool:
        """Record that a schedule slot fires; True only for the first caller, ever."""
        ...

    async def record_fire(self, fire: TriggerFire) -> None: ...

    async def trigger_history(self, trigger_id: str, *, limit: int = 50) -> list[TriggerFire]:
        """Newest first."""
        ...

    async def claim_signature(
        self, seen: WebhookSignature, *, abandoned_before: datetime
    ) -> WebhookSignature | None:
        """Claim a webhook signature for the delivery about to start a flow with it.

        Inserts ``seen`` (its ``execution_id`` None) unless the row of its (trigger,
        signature) still holds it: one whose ``expires_at`` is after ``seen.seen_at``, and
        that names an execution or was claimed at or after ``abandoned_before``. Returns
        None when this call claimed it, else the row holding it; of concurrent calls one
        claims. Rows past their ``expires_at`` at ``seen.seen_at`` are deleted.
        """
        ...

    async def settle_signature(self, *, trigger_id: str, signature: str, execution_id: str | None) -> None:
        """Name the execution a claimed signature started; ``None`` drops an unsettled
        claim (nothing started: a redelivery may try again)."""
        ...

    async def get_signature(self, *, trigger_id: str, signature: str) -> WebhookSignature | None:
        """The row of a signature seen (expired or not, until it is deleted), or None."""
        ...


class JobStore(Protocol):
    """Jobs: the work of long-running handlers, run outside their step under a lease."""

    async def enqueue_job(self, job: Job) -> tuple[Job, bool]:
        """Insert ``job`` unless one exists for (execution_id, step_id, attempt)."""
        ...

    async def get_job(self, job_id: str) -> Job | None: ...

    async def claim_jobs(self, *, owner: str, now: datetime, lease: timedelta, limit: int) -> list[Job]:
        """Lease pending jobs, and running ones whose lease lapsed; each claim bumps fence."""
        ...

    async def heartbeat_job(
        self, *, job_id: str, fence: int, until: datetime, checkpoint: Any = None
    ) -> bool:
        """Extend the lease (and store a checkpoint if given); False if fenced out."""
        ...

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
        """Complete or fail the job; False if a newer claim fenced this runner out."""
        ...


class FeedStore(Protocol):
    """Every history record any process commits, as one feed that never skips a record."""

    async def feed(self, *, after: str | None = None, limit: int = 200) -> FeedPage:
        """Up to ``limit`` records committed after the position ``after`` (a ``cursor``
        of an earlier page), oldest first; ``after=None``: the newest ``limit`` records.

        A record appears once every record that could precede it has committed: a
        transaction that commits late is delivered late, never skipped (on PostgreSQL the
        feed reads behind the oldest open transaction; SQLite's one writer at a time
        orders the records). Records written before the feed existed (migration 7) are
        not in it.
        """
        ...


class FanInStore(Protocol):
    """The children of ``parallel`` and ``map`` steps, counted as they end.

    A child's end is recorded by its own terminal commit (:meth:`ExecutionStore.commit`
    of a change with ``wake_parent``): its join row is marked ended and its fan's counters
    move on, in the same transaction; the parent is woken only when
    :func:`~flowmonkey.model.fanout.wakes_parent` says so. A child without a join row (a
    ``subflow`` handler's) wakes its parent on every end, as before.
    """

    async def open_fan(self, fan: FanIn) -> FanIn:
        """Keep ``fan`` unless one with its ``fan_id`` exists; the stored one either way."""
        ...

    async def get_fan(self, fan_id: str) -> FanIn | None: ...

    async def add_fan_children(self, fan_id: str, children: Sequence[tuple[int, Execution]]) -> FanIn:
        """In one transaction: create each child whose index has no child yet, with its
        join row, and count it started; nothing if the parent is no longer active (a
        cancel lists its children after). Returns the counters."""
        ...

    async def fan_children(
        self, fan_id: str, *, running: bool = False, limit: int | None = None
    ) -> list[tuple[int, Execution]]:
        """The fan's children in index order (``running``: those whose end is not recorded;
        ``limit``: the first so many)."""
        ...

    async def fans_of(self, parent_id: str) -> list[FanIn]:
        """Every fan of an execution's steps, oldest first (for a console's progress)."""
        ...


@runtime_checkable
class Store(
    ExecutionStore, ClaimStore, TriggerStore, JobStore, FeedStore, FanInStore, RetentionStore, Protocol
):
    """Durable storage of executions, their history, definitions, triggers and jobs
    (and their retention: :mod:`flowmonkey.stores.retention`)."""

    url: str  # for display: the password is masked

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def __aenter__(self) -> Self: ...
    async def __aexit__(self, *exc: object) -> None: ...


@runtime_checkable
class BatchedCommits(Protocol):
    """A store that groups commits into transactions (SQLite, PostgreSQL) and says so."""

    def watch_commits(self, listener: Callable[[int, float], None] | None) -> None:
        """Call ``listener(size, seconds)`` after each transaction of commits (None: stop)."""

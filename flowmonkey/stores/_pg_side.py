"""The PostgreSQL store's tables beside executions: triggers, their fires and webhook
signatures, and jobs. A base of :class:`~flowmonkey.stores.postgres.PostgresStore`, whose
``_fetch``/``_execute`` translate driver errors; nothing here opens a connection itself."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from flowmonkey.errors import ConflictError
from flowmonkey.model import Job, JobStatus, TriggerDefinition, TriggerFire, WebhookSignature
from flowmonkey.stores import _pg_sql as sql
from flowmonkey.stores._columns import (
    JOBS,
    TRIGGER_FIRES,
    TRIGGERS,
    WEBHOOK_SIGNATURES,
    as_is,
    dumps_optional,
)

Q = sql.SQL


class PostgresSideTables:
    async def _fetch(self, what: str, query: str, *args: Any) -> list[Any]:
        raise NotImplementedError

    async def _execute(self, what: str, query: str, *args: Any) -> str:
        raise NotImplementedError

    # -- triggers ---------------------------------------------------------------------

    async def save_trigger(self, trigger: TriggerDefinition) -> None:
        await self._execute("save_trigger", sql.SAVE_TRIGGER, *TRIGGERS.values(trigger, as_is))

    async def get_trigger(self, trigger_id: str) -> TriggerDefinition | None:
        rows = await self._fetch("get_trigger", Q["trigger"], trigger_id)
        return TRIGGERS.from_row(rows[0], as_is) if rows else None

    async def list_triggers(self) -> list[TriggerDefinition]:
        rows = await self._fetch("list_triggers", Q["triggers"])
        return [TRIGGERS.from_row(row, as_is) for row in rows]

    async def delete_trigger(self, trigger_id: str) -> bool:
        status = await self._execute("delete_trigger", Q["delete_trigger"], trigger_id)
        return status == "DELETE 1"

    async def claim_slot(self, *, trigger_id: str, slot_at: datetime) -> bool:
        status = await self._execute("claim_slot", Q["claim_slot"], trigger_id, slot_at)
        return status == "INSERT 0 1"

    async def record_fire(self, fire: TriggerFire) -> None:
        await self._execute("record_fire", Q["record_fire"], *TRIGGER_FIRES.values(fire, as_is))

    async def trigger_history(self, trigger_id: str, *, limit: int = 50) -> list[TriggerFire]:
        rows = await self._fetch("trigger_history", Q["trigger_history"], trigger_id, limit)
        return [TRIGGER_FIRES.from_row(row, as_is) for row in rows]

    async def claim_signature(
        self, seen: WebhookSignature, *, abandoned_before: datetime
    ) -> WebhookSignature | None:
        row = WEBHOOK_SIGNATURES.values(replace(seen, execution_id=None), as_is)
        await self._execute("claim_signature", Q["forget_signatures"], seen.seen_at)
        for _ in range(3):  # the holder may drop its claim between our two statements
            if (
                await self._execute("claim_signature", Q["claim_signature"], *row, abandoned_before)
                == "INSERT 0 1"
            ):
                return None
            rows = await self._fetch("claim_signature", Q["signature"], seen.trigger_id, seen.signature)
            if rows:
                return WEBHOOK_SIGNATURES.from_row(rows[0], as_is)
        raise ConflictError(f"the claim of a signature of trigger {seen.trigger_id!r} kept changing")

    async def settle_signature(self, *, trigger_id: str, signature: str, execution_id: str | None) -> None:
        if execution_id is None:
            await self._execute("settle_signature", Q["drop_signature_claim"], trigger_id, signature)
        else:
            await self._execute(
                "settle_signature", Q["settle_signature"], execution_id, trigger_id, signature
            )

    async def get_signature(self, *, trigger_id: str, signature: str) -> WebhookSignature | None:
        rows = await self._fetch("get_signature", Q["signature"], trigger_id, signature)
        return WEBHOOK_SIGNATURES.from_row(rows[0], as_is) if rows else None

    # -- jobs -------------------------------------------------------------------------

    async def enqueue_job(self, job: Job) -> tuple[Job, bool]:
        step = (job.execution_id, job.step_id, job.attempt)
        for _ in range(3):  # a job of an earlier visit of the step makes way: that visit is over
            if await self._fetch("enqueue_job", Q["enqueue_job"], *JOBS.values(job, as_is)):
                return job, True
            rows = await self._fetch("enqueue_job", Q["job_of_step"], *step)
            if not rows:
                continue  # it was just forgotten by another enqueue of this visit
            existing = JOBS.from_row(rows[0], as_is)
            if existing.visit == job.visit:
                return existing, False
            await self._execute("enqueue_job", Q["forget_job"], existing.id)
        raise ConflictError(f"could not enqueue job {job.id} for step {job.step_id!r}: it kept changing")

    async def get_job(self, job_id: str) -> Job | None:
        rows = await self._fetch("get_job", Q["job"], job_id)
        return JOBS.from_row(rows[0], as_is) if rows else None

    async def claim_jobs(self, *, owner: str, now: datetime, lease: timedelta, limit: int) -> list[Job]:
        rows = await self._fetch("claim_jobs", Q["claim_jobs"], owner, now + lease, now, limit)
        return sorted((JOBS.from_row(row, as_is) for row in rows), key=lambda j: (j.created_at, j.id))

    async def heartbeat_job(
        self, *, job_id: str, fence: int, until: datetime, checkpoint: Any = None
    ) -> bool:
        text = dumps_optional(checkpoint, f"the checkpoint of job {job_id}")
        status = await self._execute("heartbeat_job", Q["heartbeat_job"], job_id, fence, until, text)
        return status == "UPDATE 1"

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
        outcome = await self._execute(
            "finish_job",
            Q["finish_job"],
            job_id,
            fence,
            status.value,
            dumps_optional(result, f"the result of job {job_id}"),
            dumps_optional(error, f"the error of job {job_id}"),
            now,
        )
        return outcome == "UPDATE 1"

"""What the engine lends a running step (:class:`~flowmonkey.params.StepServices`):
starting child executions and enqueueing jobs, always of the step that asks (the caller's
``params`` name it), never the engine or the store itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from flowmonkey.engine.creation import Start
from flowmonkey.engine.notify import Emitter
from flowmonkey.events import Event, EventType
from flowmonkey.ids import new_id
from flowmonkey.model import Execution, Job
from flowmonkey.params import CHILD_KEY_TTL, HandlerParams
from flowmonkey.stores.base import CreateResult, JobStore

CreateFn = Callable[[Start], Awaitable[CreateResult]]


class EngineServices:
    """The engine's :class:`~flowmonkey.params.StepServices`."""

    __slots__ = ("_create", "_emitter", "_store")

    def __init__(self, create: CreateFn, store: JobStore, emitter: Emitter) -> None:
        self._create = create
        self._store = store
        self._emitter = emitter

    async def start_child(
        self, params: HandlerParams, flow_id: str, context: Mapping[str, Any], key: str, version: str | None
    ) -> Execution:
        parent = params.execution
        start = Start(
            flow_id=flow_id,
            context=context,
            version=version,
            idempotency_key=key,
            idempotency_ttl=CHILD_KEY_TTL,
            tenant_id=parent.tenant_id,
            parent_execution_id=parent.id,
            parent_step_id=params.step.id,
        )
        return (await self._create(start)).execution

    async def enqueue_job(self, params: HandlerParams, job_type: str, job_input: Any) -> Job:
        now = params.now
        fresh = Job(
            id=new_id(int(now.timestamp() * 1000)),
            execution_id=params.execution.id,
            step_id=params.step.id,
            attempt=params.attempt,
            visit=params.visit,
            type=job_type,
            input=job_input,
            created_at=now,
            updated_at=now,
        )
        job, created = await self._store.enqueue_job(fresh)
        bus = self._emitter.bus
        if created and bus.active:
            data = {"job_id": job.id, "job_type": job.type, "fence": job.fence}
            event = Event(
                type=EventType.JOB_ENQUEUED,
                at=now,
                execution_id=job.execution_id,
                step_id=job.step_id,
                data=data,
            )
            bus.emit(event)
        return job

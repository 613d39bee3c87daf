"""What a handler receives: :class:`HandlerParams`, a read-only view of its execution, and
the two capabilities a handler may use beyond its input: starting a child execution and
enqueueing a job. A handler never gets the engine or the store."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from flowmonkey.model import Execution, Job, Step

WokenBy = Literal["timer", "resume"] | None


class StepServices(Protocol):
    """What the engine lends a running step. Handlers use it through ``params.children``
    and ``params.jobs``, which bind it to their own execution, step and attempt."""

    async def start_child(
        self, params: HandlerParams, flow_id: str, context: Mapping[str, Any], key: str, version: str | None
    ) -> Execution: ...

    async def enqueue_job(self, params: HandlerParams, job_type: str, job_input: Any) -> Job: ...


class Children:
    """Starts child executions of the step that runs (the capability behind ``subflow``)."""

    __slots__ = ("_params",)

    def __init__(self, params: HandlerParams) -> None:
        self._params = params

    async def start(
        self, flow_id: str, context: Mapping[str, Any], *, key: str, version: str | None = None
    ) -> Execution:
        """Start a child of this step, or find the one started before under ``key``.

        The child belongs to this execution and step (cancelling the parent cancels it,
        and its end wakes this step). Returns a copy of the child as stored.
        """
        params = self._params
        return await params.services.start_child(params, flow_id, context, key, version)


class Jobs:
    """Hands work of the step that runs to a job (the capability behind ``job``)."""

    __slots__ = ("_params",)

    def __init__(self, params: HandlerParams) -> None:
        self._params = params

    async def enqueue(self, job_type: str, job_input: Any) -> Job:
        """Enqueue a job for this step attempt, or find the one enqueued before."""
        params = self._params
        return await params.services.enqueue_job(params, job_type, job_input)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionView:
    """A read-only snapshot of the execution a handler runs in."""

    id: str
    flow_id: str
    flow_version: str
    context: Mapping[str, Any]
    step_count: int
    created_at: datetime
    tenant_id: str | None
    parent_execution_id: str | None
    metadata: Mapping[str, Any]
    wait_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HandlerParams:
    """Everything a handler may use.

    ``idempotency_key`` names this run of the step: the execution, the step, its visit
    (a flow that loops back to a step visits it anew) and the attempt. It is the same when
    another worker runs the same attempt again after a takeover; ``delivery`` then says
    how often this attempt has been handed to a handler (1 the first time). Pass the key
    to an external service that deduplicates requests, so a re-run does not repeat the
    side effect.
    ``woken_by`` is ``"timer"`` when the step runs again because its ``wake_at`` passed
    (or a child or job it waited on finished and woke it), ``None`` on a first run.
    ``now`` is the engine's clock (simulated in dry runs): use it for ``wake_at``.
    ``children`` and ``jobs`` start child executions and jobs of this step.
    """

    input: Any
    config: Mapping[str, Any]
    step: Step
    execution: ExecutionView
    attempt: int
    idempotency_key: str
    now: datetime
    visit: int = 0
    delivery: int = 1
    services: StepServices
    woken_by: WokenBy = None

    @property
    def children(self) -> Children:
        return Children(self)

    @property
    def jobs(self) -> Jobs:
        return Jobs(self)

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        return logging.LoggerAdapter(
            logging.getLogger(f"flowmonkey.handlers.{self.step.type}"),
            {"execution_id": self.execution.id, "step_id": self.step.id, "attempt": self.attempt},
        )


CHILD_KEY_TTL = timedelta(days=3650)
"""How long a child's idempotency key lives: as long as its parent may wait."""

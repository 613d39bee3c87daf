"""What a handler receives: :class:`HandlerParams` and a read-only view of its execution."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from flowmonkey.model import Step

if TYPE_CHECKING:
    from flowmonkey.engine import Engine

WokenBy = Literal["timer", "resume"] | None


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

    ``woken_by`` is ``"timer"`` when the step runs again because its ``wake_at`` passed
    (or :meth:`Engine.wake` woke it: a child or job it waited on finished), ``None`` on
    a first run.
    ``now`` is the engine's clock (simulated in dry runs): use it for ``wake_at``.
    """

    input: Any
    config: Mapping[str, Any]
    step: Step
    execution: ExecutionView
    attempt: int
    idempotency_key: str
    now: datetime
    engine: Engine
    woken_by: WokenBy = None

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        return logging.LoggerAdapter(
            logging.getLogger(f"flowmonkey.handlers.{self.step.type}"),
            {"execution_id": self.execution.id, "step_id": self.step.id, "attempt": self.attempt},
        )

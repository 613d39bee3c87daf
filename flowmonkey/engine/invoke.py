"""Calling a handler: its params, its step timeout, and every way it can fail.

Whatever a handler does — return a result, raise, overrun its step's timeout, return
something that is not a :class:`StepResult` — :func:`invoke` answers with a StepResult,
so the engine has one path from handler to commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import datetime
from types import MappingProxyType
from typing import Any, cast

from flowmonkey.errors import ErrorCode, FlowMonkeyError
from flowmonkey.model import Execution, Step
from flowmonkey.params import ExecutionView, HandlerParams, StepServices, WokenBy
from flowmonkey.registry import Handler
from flowmonkey.result import Result, StepResult

log = logging.getLogger("flowmonkey.engine")


def idempotency_key(execution: Execution, step_id: str) -> str:
    """``execution:step:visit:attempt``; the first visit (0) keeps the key of FlowMonkey
    0.1, ``execution:step:attempt``, so keys handed out before an upgrade stay the same."""
    if execution.visit == 0:
        return f"{execution.id}:{step_id}:{execution.attempt}"
    return f"{execution.id}:{step_id}:{execution.visit}:{execution.attempt}"


def handler_params(
    step: Step,
    execution: Execution,
    step_input: Any,
    now: datetime,
    woken_by: WokenBy,
    services: StepServices,
) -> HandlerParams:
    """What the handler of ``step`` receives for this attempt of ``execution``."""
    return HandlerParams(
        input=step_input,
        config=step.config,
        step=step,
        execution=ExecutionView(
            id=execution.id,
            flow_id=execution.flow_id,
            flow_version=execution.flow_version,
            context=MappingProxyType(execution.context),
            step_count=execution.step_count,
            created_at=execution.created_at,
            tenant_id=execution.tenant_id,
            parent_execution_id=execution.parent_execution_id,
            metadata=execution.metadata,
            wait_reason=execution.wait_reason,
        ),
        attempt=execution.attempt,
        idempotency_key=idempotency_key(execution, step.id),
        now=now,
        visit=execution.visit,
        delivery=execution.delivery,
        services=services,
        woken_by=woken_by,
    )


async def invoke(handler: Handler, params: HandlerParams) -> StepResult:
    """Run the handler under its step's timeout; failures come back as results.

    A :class:`FlowMonkeyError` keeps its code; any other exception is ``HANDLER_ERROR``;
    overrunning ``step.timeout`` is ``STEP_TIMEOUT`` (a handler's own ``TimeoutError``,
    e.g. from a client library, is a handler error, not a step timeout).
    """
    step = params.step
    deadline: asyncio.Timeout | None = None
    result: object  # handlers are user code: they may return anything
    try:
        if step.timeout is None:  # no timeout context on the hot path
            result = await cast("Awaitable[object]", handler.execute(params))
        else:
            deadline = asyncio.timeout(step.timeout.total_seconds())
            async with deadline:
                result = await cast("Awaitable[object]", handler.execute(params))
    except FlowMonkeyError as exc:
        return Result.failure(exc.code, exc.message, exc.details)
    except TimeoutError as exc:
        if deadline is not None and deadline.expired():
            limit = step.timeout.total_seconds() if step.timeout else 0.0
            return Result.failure(ErrorCode.STEP_TIMEOUT, f"step {step.id!r} timed out after {limit:g}s")
        return _raised(step, exc)
    except Exception as exc:
        return _raised(step, exc)
    if not isinstance(result, StepResult):
        return Result.failure(
            ErrorCode.HANDLER_ERROR,
            f"handler {step.type!r} returned {type(result).__name__}, not a StepResult",
        )
    return result


def _raised(step: Step, exc: Exception) -> StepResult:
    log.debug("handler %s raised", step.type, exc_info=True)
    return Result.failure(
        ErrorCode.HANDLER_ERROR, f"{type(exc).__name__}: {exc}", {"exception": type(exc).__name__}
    )

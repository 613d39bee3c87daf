"""The engine: create, step, run, resume, wake and cancel executions (see :mod:`.core`)."""

from __future__ import annotations

from flowmonkey.engine.cancellation import CancelResult
from flowmonkey.engine.core import Engine
from flowmonkey.engine.creation import DEFAULT_IDEMPOTENCY_TTL, Start
from flowmonkey.engine.limits import DEFAULT_MAX_CONTEXT_BYTES, DEFAULT_MAX_STEPS, Limits
from flowmonkey.engine.migrations import MigrationCheck
from flowmonkey.engine.pipeline import StepOutcome

__all__ = [
    "DEFAULT_IDEMPOTENCY_TTL",
    "DEFAULT_MAX_CONTEXT_BYTES",
    "DEFAULT_MAX_STEPS",
    "CancelResult",
    "Engine",
    "Limits",
    "MigrationCheck",
    "Start",
    "StepOutcome",
]

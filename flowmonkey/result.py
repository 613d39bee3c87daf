"""What a handler returns: success, failure, or a wait."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class ResultKind(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    WAIT = "wait"


_SUCCESS = ResultKind.SUCCESS  # a module constant on the step path (see engine.pipeline)


@dataclass(frozen=True, slots=True, kw_only=True)
class StepResult:
    """The outcome of one handler call. Build it with :class:`Result`."""

    kind: ResultKind
    output: Any = None
    next_step: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    error_details: Any = None
    wake_at: datetime | None = None
    wait_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.kind is _SUCCESS


class Result:
    """Constructors for :class:`StepResult`."""

    @staticmethod
    def success(output: Any = None, *, next_step: str | None = None) -> StepResult:
        """The step succeeded; ``next_step`` overrides the flow's onSuccess transition."""
        return StepResult(kind=_SUCCESS, output=output, next_step=next_step)

    @staticmethod
    def failure(code: str, message: str, details: Any = None) -> StepResult:
        """The step failed with a stable ``code`` that retry policies can match."""
        return StepResult(
            kind=ResultKind.FAILURE,
            error_code=str(code),
            error_message=message,
            error_details=details,
        )

    @staticmethod
    def wait(*, wake_at: datetime | None = None, reason: str = "waiting") -> StepResult:
        """Park the execution at this step until ``wake_at`` or a resume."""
        return StepResult(kind=ResultKind.WAIT, wake_at=wake_at, wait_reason=reason)

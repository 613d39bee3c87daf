"""FlowMonkey's exceptions.

Every error FlowMonkey raises is a :class:`FlowMonkeyError` carrying a stable
:class:`ErrorCode`, so callers and operators can match on the code rather than on
message text::

    FlowMonkeyError
    ├── FlowError            flow definitions: INVALID_FLOW, FLOW_NOT_FOUND, STEP_NOT_FOUND
    ├── HandlerNotFoundError HANDLER_NOT_FOUND
    ├── ExecutionNotFoundError EXECUTION_NOT_FOUND
    ├── NotWaitingError      NOT_WAITING
    ├── InputError           INPUT_ERROR (a selector or template could not be resolved)
    ├── ContextLimitError    CONTEXT_LIMIT
    └── StoreError           STORE_ERROR (driver failures, translated at the boundary)
        └── ConflictError    CONFLICT (a compare-and-set or unique constraint lost)
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Stable machine-readable error codes; part of the public API."""

    FLOW_NOT_FOUND = "FLOW_NOT_FOUND"
    EXECUTION_NOT_FOUND = "EXECUTION_NOT_FOUND"
    STEP_NOT_FOUND = "STEP_NOT_FOUND"
    HANDLER_NOT_FOUND = "HANDLER_NOT_FOUND"
    INPUT_ERROR = "INPUT_ERROR"
    HANDLER_ERROR = "HANDLER_ERROR"
    STEP_FAILED = "STEP_FAILED"
    STEP_TIMEOUT = "STEP_TIMEOUT"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    NOT_WAITING = "NOT_WAITING"
    MAX_STEPS = "MAX_STEPS"
    CONTEXT_LIMIT = "CONTEXT_LIMIT"
    WAIT_EXPIRED = "WAIT_EXPIRED"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"
    INVALID_FLOW = "INVALID_FLOW"
    CHILD_FAILED = "CHILD_FAILED"
    OUTPUT_NOT_JSON = "OUTPUT_NOT_JSON"
    HTTP_ERROR = "HTTP_ERROR"
    STORE_ERROR = "STORE_ERROR"
    CONFLICT = "CONFLICT"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    TRIGGER_NOT_FOUND = "TRIGGER_NOT_FOUND"


class FlowMonkeyError(Exception):
    """FlowMonkey failed."""

    code: ErrorCode = ErrorCode.STEP_FAILED

    def __init__(
        self,
        message: str | None = None,
        *,
        code: ErrorCode | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message or self.__doc__ or self.__class__.__name__)
        if code is not None:
            self.code = code
        self.details = details

    @property
    def message(self) -> str:
        return str(self.args[0])


class FlowError(FlowMonkeyError):
    """The flow definition is invalid."""

    code = ErrorCode.INVALID_FLOW


class HandlerNotFoundError(FlowMonkeyError):
    """No handler is registered for that type."""

    code = ErrorCode.HANDLER_NOT_FOUND


class ExecutionNotFoundError(FlowMonkeyError):
    """No execution has that id."""

    code = ErrorCode.EXECUTION_NOT_FOUND


class NotWaitingError(FlowMonkeyError):
    """The execution is not waiting, so it cannot be resumed."""

    code = ErrorCode.NOT_WAITING


class InputError(FlowMonkeyError):
    """A step's input could not be resolved from the context."""

    code = ErrorCode.INPUT_ERROR


class ContextLimitError(FlowMonkeyError):
    """The execution's context grew past its size limit."""

    code = ErrorCode.CONTEXT_LIMIT


class StoreError(FlowMonkeyError):
    """The store failed."""

    code = ErrorCode.STORE_ERROR


class ConflictError(StoreError):
    """Another writer changed the record first."""

    code = ErrorCode.CONFLICT

"""FlowMonkey's exceptions, and the one place where their tree is drawn.

Every exception FlowMonkey raises is a :class:`FlowMonkeyError` subclass carrying a stable
:class:`ErrorCode`, so callers and operators match on the class or on the code, never on
message text. A class without a code of its own has its parent's (in brackets)::

    FlowMonkeyError                  ERROR                the root; FlowMonkey raises only subclasses
    ├── FlowError                    INVALID_FLOW         a flow definition is invalid (FlowRegistry.register)
    │   ├── FlowFileError            [INVALID_FLOW]       a flow file is invalid; ``.problems`` says why
    │   │                                                 (defined in flowmonkey.flowfiles)
    │   ├── FlowNotFoundError        FLOW_NOT_FOUND       no such flow or version (FlowRegistry.get,
    │   │                                                 Engine.create), or an execution's definition
    │   │                                                 is neither registered nor stored (step, resume)
    │   ├── StepConfigError          [INVALID_FLOW]       a step's config does not match its handler's
    │   │                                                 ``config_schema`` or names a missing step
    │   │                                                 (registering a flow with an Engine)
    │   └── StepNotFoundError        STEP_NOT_FOUND       the flow has no step with that id (Flow.step)
    ├── HandlerNotFoundError         HANDLER_NOT_FOUND    no handler is registered for a step's type
    ├── ExecutionNotFoundError       EXECUTION_NOT_FOUND  no execution has that id (step, run, resume)
    ├── NotWaitingError              NOT_WAITING          resume of an execution that waits for no resume
    ├── NotRepairableError           NOT_REPAIRABLE       retry, skip, fail or fork cannot be done to the
    │                                                     execution as it is (Engine.retry, skip, fail, fork)
    ├── NotMigratableError           NOT_MIGRATABLE       an execution cannot move to that definition:
    │                                                     ``details["problems"]`` says why (Engine.migrate)
    ├── InputError                   INPUT_ERROR          a step's input selector finds nothing
    ├── ContextLimitError            CONTEXT_LIMIT        a context would grow past ``max_context_bytes``
    │                                                     (Engine.create, Engine.resume)
    ├── InvalidArgumentError         INVALID_ARGUMENT     an argument or setting is unusable (--jobs)
    │   ├── TriggerError             [INVALID_ARGUMENT]   a trigger declaration is invalid or its id is
    │   │   │                                             taken; firing while triggers are off
    │   │   └── TriggerNotFoundError TRIGGER_NOT_FOUND    no trigger has that id (TriggerService)
    │   ├── NotJsonError             [INVALID_ARGUMENT]   a value given to be stored is not strict JSON
    │   │                                                 (resume data, a context); ``details`` names
    │   │                                                 the JSON path and what is wrong there
    │   ├── ResumeDataError          [INVALID_ARGUMENT]   resume data the waiting step's resumeSchema
    │   │                                                 refuses; ``details["errors"]`` lists each
    │   │                                                 error with its JSON path (Engine.resume)
    │   └── InvalidTokenError        [INVALID_ARGUMENT]   a resume token is malformed or forged
    │       └── ExpiredTokenError    [INVALID_ARGUMENT]   a genuine resume token has expired
    └── StoreError                   STORE_ERROR          a store or coordination backend failed
        │                                                 (driver errors, translated at the boundary);
        │                                                 ``.transient``: whether trying again may succeed
        ├── ConflictError            CONFLICT             another writer changed the record first: a
        │   │                                             lost compare-and-set, a unique constraint,
        │   │                                             a resume that kept losing (Engine.resume)
        │   └── JobFencedError       [CONFLICT]           a newer claim took the job over (JobContext)
        ├── SchemaVersionError       SCHEMA_VERSION       the database's schema is newer than this
        │                                                 FlowMonkey understands (opening a store)
        └── StoreURLError            [STORE_ERROR]        a store URL is malformed, names no known
                                                          store, or an option it does not take
                                                          (open_store, the stores' constructors)

A failed *step* raises nothing: its outcome is a :class:`~flowmonkey.result.StepResult`
whose ``error_code`` is stored in the step's record and, when the execution fails, in
its ``error``. An error raised while a step runs becomes its code (``INPUT_ERROR``,
``HANDLER_NOT_FOUND``, ``CONTEXT_LIMIT``, ...). These codes only a step outcome has::

    HANDLER_ERROR       the handler raised another exception, or returned no StepResult
    STEP_FAILED         a handler's failure gave no code
    STEP_TIMEOUT        the step ran past its ``timeout`` (retryable)
    INVALID_TRANSITION  a handler chose a next step the flow does not have
    MAX_STEPS           the execution took ``max_steps`` steps
    WAIT_EXPIRED        a wait's deadline passed first (the approval handler)
    CANCELLED           the execution was cancelled (its ``error``)
    CHILD_FAILED        a sub-flow's child execution failed or was cancelled
    BRANCH_FAILED       a parallel step's branch failed past ``toleratedFailures`` (its
                        siblings are cancelled; details name the branch and its error)
    ITEM_FAILED         a map step's child failed past ``toleratedFailures`` (likewise,
                        naming the element's index)
    OUTPUT_NOT_JSON     a handler's output is not JSON a store can keep (its path in details)
    STORE_REJECTED      the store refused a step's outcome for good (not an outage): the
                        execution fails rather than run the handler again
    HTTP_ERROR          the http handler got no answer, or a non-2xx one

Handlers may fail with codes of their own too (``Result.failure("OUT_OF_STOCK", ...)``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Stable machine-readable error codes; part of the public API and of stored data."""

    ERROR = "ERROR"
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
    NOT_REPAIRABLE = "NOT_REPAIRABLE"
    NOT_MIGRATABLE = "NOT_MIGRATABLE"
    MAX_STEPS = "MAX_STEPS"
    CONTEXT_LIMIT = "CONTEXT_LIMIT"
    WAIT_EXPIRED = "WAIT_EXPIRED"
    CANCELLED = "CANCELLED"
    INVALID_FLOW = "INVALID_FLOW"
    CHILD_FAILED = "CHILD_FAILED"
    BRANCH_FAILED = "BRANCH_FAILED"
    ITEM_FAILED = "ITEM_FAILED"
    OUTPUT_NOT_JSON = "OUTPUT_NOT_JSON"
    STORE_REJECTED = "STORE_REJECTED"
    HTTP_ERROR = "HTTP_ERROR"
    STORE_ERROR = "STORE_ERROR"
    CONFLICT = "CONFLICT"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    TRIGGER_NOT_FOUND = "TRIGGER_NOT_FOUND"
    SCHEMA_VERSION = "SCHEMA_VERSION"


class FlowMonkeyError(Exception):
    """FlowMonkey failed."""

    code: ErrorCode = ErrorCode.ERROR

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


class FlowNotFoundError(FlowError):
    """No flow (or no such version of it) is registered."""

    code = ErrorCode.FLOW_NOT_FOUND


class StepConfigError(FlowError):
    """A step's config does not match its handler's ``config_schema``, or names a step the
    flow does not have."""


class StepNotFoundError(FlowError):
    """The flow has no step with that id."""

    code = ErrorCode.STEP_NOT_FOUND


class HandlerNotFoundError(FlowMonkeyError):
    """No handler is registered for that type."""

    code = ErrorCode.HANDLER_NOT_FOUND


class ExecutionNotFoundError(FlowMonkeyError):
    """No execution has that id."""

    code = ErrorCode.EXECUTION_NOT_FOUND


class NotWaitingError(FlowMonkeyError):
    """The execution is not waiting, so it cannot be resumed."""

    code = ErrorCode.NOT_WAITING


class NotRepairableError(FlowMonkeyError):
    """The execution cannot be retried, skipped, failed or forked as it is now."""

    code = ErrorCode.NOT_REPAIRABLE


class NotMigratableError(FlowMonkeyError):
    """The execution cannot move to that definition; ``details["problems"]`` lists why."""

    code = ErrorCode.NOT_MIGRATABLE


class InputError(FlowMonkeyError):
    """A step's input could not be resolved from the context."""

    code = ErrorCode.INPUT_ERROR


class ContextLimitError(FlowMonkeyError):
    """The execution's context grew past its size limit."""

    code = ErrorCode.CONTEXT_LIMIT


class InvalidArgumentError(FlowMonkeyError):
    """An argument or setting cannot be used as given."""

    code = ErrorCode.INVALID_ARGUMENT


class NotJsonError(InvalidArgumentError):
    """A value is not strict JSON; ``details`` holds its ``path`` and the ``reason``."""


class ResumeDataError(InvalidArgumentError):
    """The resume data does not match the waiting step's ``resumeSchema``."""


class TriggerError(InvalidArgumentError):
    """The trigger declaration is invalid, or the trigger operation cannot be done."""


class TriggerNotFoundError(TriggerError):
    """No trigger has that id."""

    code = ErrorCode.TRIGGER_NOT_FOUND


class InvalidTokenError(InvalidArgumentError):
    """The resume token is malformed or its signature does not match."""


class ExpiredTokenError(InvalidTokenError):
    """The resume token is genuine but has expired; its holder needs a new one."""


class StoreError(FlowMonkeyError):
    """The store failed."""

    code = ErrorCode.STORE_ERROR
    transient: bool = False
    """Whether trying the same thing again later may succeed: True for a lost or refused
    connection, a server shutting down, a serialization failure or deadlock, a locked
    database; False for what fails the same way every time (a value the store cannot
    encode, a constraint, a value too large). Only transient errors are worth retrying."""
    contended: bool = False
    """Transient because another transaction was in the way (a deadlock, a serialization
    failure): the store answered, so this says nothing about an outage."""

    def __init__(
        self,
        message: str | None = None,
        *,
        code: ErrorCode | None = None,
        details: Any = None,
        transient: bool | None = None,
        contended: bool = False,
    ) -> None:
        super().__init__(message, code=code, details=details)
        if transient is not None:
            self.transient = transient
        if contended:
            self.transient = self.contended = True


class ConflictError(StoreError):
    """Another writer changed the record first."""

    code = ErrorCode.CONFLICT


class JobFencedError(ConflictError):
    """A newer claim took this job over; this runner may no longer write to it."""


class StoreURLError(StoreError):
    """The store URL cannot be used: it is malformed, or names no known store or an option
    the store does not take."""


class SchemaVersionError(StoreError):
    """The database's schema is newer than this FlowMonkey understands: upgrade FlowMonkey."""

    code = ErrorCode.SCHEMA_VERSION


__all__ = [
    "ConflictError",
    "ContextLimitError",
    "ErrorCode",
    "ExecutionNotFoundError",
    "ExpiredTokenError",
    "FlowError",
    "FlowMonkeyError",
    "FlowNotFoundError",
    "HandlerNotFoundError",
    "InputError",
    "InvalidArgumentError",
    "InvalidTokenError",
    "JobFencedError",
    "NotJsonError",
    "NotMigratableError",
    "NotRepairableError",
    "NotWaitingError",
    "ResumeDataError",
    "SchemaVersionError",
    "StepConfigError",
    "StepNotFoundError",
    "StoreError",
    "StoreURLError",
    "TriggerError",
    "TriggerNotFoundError",
]

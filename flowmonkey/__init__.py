"""FlowMonkey: a durable workflow engine for Python (asyncio).

The names in ``__all__`` are the public API; the console and the CLI use nothing else.
Every name is imported on its first use (PEP 562), so ``import flowmonkey`` costs nothing,
works without the optional drivers, and a command such as ``flowmonkey worker`` can take
charge of its signals before the engine is even loaded.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowmonkey.change import Change
    from flowmonkey.cliopts import missing_store
    from flowmonkey.coordination import LockManager, WakeSignaler, attach_signaler, signaler_for
    from flowmonkey.coordination.postgres import PostgresWakeSignaler
    from flowmonkey.coordination.redis import RedisLockManager, RedisWakeSignaler
    from flowmonkey.defaults import Engine, default_handlers
    from flowmonkey.durations import parse_duration
    from flowmonkey.engine import CancelResult, StepOutcome
    from flowmonkey.errors import (
        ConflictError,
        ContextLimitError,
        ErrorCode,
        ExecutionNotFoundError,
        ExpiredTokenError,
        FlowError,
        FlowMonkeyError,
        FlowNotFoundError,
        HandlerNotFoundError,
        InputError,
        InvalidArgumentError,
        InvalidTokenError,
        JobFencedError,
        NotJsonError,
        NotMigratableError,
        NotRepairableError,
        NotWaitingError,
        ResumeDataError,
        SchemaVersionError,
        StepConfigError,
        StepNotFoundError,
        StoreError,
        StoreURLError,
        TriggerError,
        TriggerNotFoundError,
    )
    from flowmonkey.events import Event, EventBus, EventType
    from flowmonkey.flowdirectory import FileState, FlowDirectory
    from flowmonkey.flowfiles import FlowFileError, Problem, load_flow_file
    from flowmonkey.handlers.job import run_job
    from flowmonkey.handlers.llm import llm_handler
    from flowmonkey.jobs import JobContext, JobRunner
    from flowmonkey.model import (
        Execution,
        ExecutionError,
        ExecutionStatus,
        Flow,
        InputSelector,
        Job,
        JobStatus,
        RetryPolicy,
        SelectorType,
        Step,
        StepRecord,
        StepStatus,
        TimeoutConfig,
        Transitions,
        TriggerDefinition,
        TriggerFire,
        TriggerType,
        WaitKind,
    )
    from flowmonkey.params import ExecutionView, HandlerParams
    from flowmonkey.registry import FlowRegistry, FunctionHandler, Handler, HandlerRegistry, handler
    from flowmonkey.result import Result, StepResult
    from flowmonkey.retention import Pruner, PruneReport, RetentionLoop, RetentionPolicy
    from flowmonkey.runtime import Runtime
    from flowmonkey.runtime_stats import RuntimeStats
    from flowmonkey.stores import (
        DEFAULT_STORE_URL,
        CreateResult,
        ExecutionQuery,
        MemoryStore,
        Page,
        Store,
        open_store,
    )
    from flowmonkey.stores.postgres import PostgresStore, apply_schema
    from flowmonkey.stores.sqlite import SQLiteStore
    from flowmonkey.triggers import (
        TRIGGERS_SECTION,
        HttpTriggers,
        ScheduleConfig,
        TriggerService,
        serve_http,
        token_cutoff,
        token_secrets,
    )

_EXPORTS = {
    "CancelResult": "flowmonkey.engine",
    "Change": "flowmonkey.change",
    "ConflictError": "flowmonkey.errors",
    "ContextLimitError": "flowmonkey.errors",
    "CreateResult": "flowmonkey.stores",
    "DEFAULT_STORE_URL": "flowmonkey.stores",
    "Engine": "flowmonkey.defaults",
    "ErrorCode": "flowmonkey.errors",
    "Event": "flowmonkey.events",
    "EventBus": "flowmonkey.events",
    "EventType": "flowmonkey.events",
    "Execution": "flowmonkey.model",
    "ExecutionError": "flowmonkey.model",
    "ExecutionNotFoundError": "flowmonkey.errors",
    "ExecutionQuery": "flowmonkey.stores",
    "ExecutionStatus": "flowmonkey.model",
    "ExecutionView": "flowmonkey.params",
    "ExpiredTokenError": "flowmonkey.errors",
    "FileState": "flowmonkey.flowdirectory",
    "Flow": "flowmonkey.model",
    "FlowDirectory": "flowmonkey.flowdirectory",
    "FlowError": "flowmonkey.errors",
    "FlowFileError": "flowmonkey.flowfiles",
    "FlowMonkeyError": "flowmonkey.errors",
    "FlowNotFoundError": "flowmonkey.errors",
    "FlowRegistry": "flowmonkey.registry",
    "FunctionHandler": "flowmonkey.registry",
    "Handler": "flowmonkey.registry",
    "HandlerNotFoundError": "flowmonkey.errors",
    "HandlerParams": "flowmonkey.params",
    "HandlerRegistry": "flowmonkey.registry",
    "HttpTriggers": "flowmonkey.triggers",
    "InputError": "flowmonkey.errors",
    "InputSelector": "flowmonkey.model",
    "InvalidArgumentError": "flowmonkey.errors",
    "InvalidTokenError": "flowmonkey.errors",
    "Job": "flowmonkey.model",
    "JobContext": "flowmonkey.jobs",
    "JobFencedError": "flowmonkey.errors",
    "JobRunner": "flowmonkey.jobs",
    "JobStatus": "flowmonkey.model",
    "LockManager": "flowmonkey.coordination",
    "MemoryStore": "flowmonkey.stores",
    "NotJsonError": "flowmonkey.errors",
    "NotMigratableError": "flowmonkey.errors",
    "NotRepairableError": "flowmonkey.errors",
    "NotWaitingError": "flowmonkey.errors",
    "ResumeDataError": "flowmonkey.errors",
    "Page": "flowmonkey.stores",
    "PostgresStore": "flowmonkey.stores.postgres",
    "PostgresWakeSignaler": "flowmonkey.coordination.postgres",
    "Problem": "flowmonkey.flowfiles",
    "RedisLockManager": "flowmonkey.coordination.redis",
    "RedisWakeSignaler": "flowmonkey.coordination.redis",
    "Result": "flowmonkey.result",
    "RetryPolicy": "flowmonkey.model",
    "Runtime": "flowmonkey.runtime",
    "PruneReport": "flowmonkey.retention",
    "Pruner": "flowmonkey.retention",
    "RetentionLoop": "flowmonkey.retention",
    "RetentionPolicy": "flowmonkey.retention",
    "RuntimeStats": "flowmonkey.runtime_stats",
    "SQLiteStore": "flowmonkey.stores.sqlite",
    "ScheduleConfig": "flowmonkey.triggers",
    "SchemaVersionError": "flowmonkey.errors",
    "SelectorType": "flowmonkey.model",
    "Step": "flowmonkey.model",
    "StepConfigError": "flowmonkey.errors",
    "StepNotFoundError": "flowmonkey.errors",
    "StepOutcome": "flowmonkey.engine",
    "StepRecord": "flowmonkey.model",
    "StepResult": "flowmonkey.result",
    "StepStatus": "flowmonkey.model",
    "Store": "flowmonkey.stores",
    "StoreError": "flowmonkey.errors",
    "StoreURLError": "flowmonkey.errors",
    "TRIGGERS_SECTION": "flowmonkey.triggers",
    "TimeoutConfig": "flowmonkey.model",
    "Transitions": "flowmonkey.model",
    "TriggerDefinition": "flowmonkey.model",
    "TriggerError": "flowmonkey.errors",
    "TriggerFire": "flowmonkey.model",
    "TriggerNotFoundError": "flowmonkey.errors",
    "TriggerService": "flowmonkey.triggers",
    "TriggerType": "flowmonkey.model",
    "WaitKind": "flowmonkey.model",
    "WakeSignaler": "flowmonkey.coordination",
    "apply_schema": "flowmonkey.stores.postgres",
    "attach_signaler": "flowmonkey.coordination",
    "default_handlers": "flowmonkey.defaults",
    "handler": "flowmonkey.registry",
    "llm_handler": "flowmonkey.handlers.llm",
    "load_flow_file": "flowmonkey.flowfiles",
    "open_store": "flowmonkey.stores",
    "parse_duration": "flowmonkey.durations",
    "run_job": "flowmonkey.handlers.job",
    "missing_store": "flowmonkey.cliopts",
    "serve_http": "flowmonkey.triggers",
    "signaler_for": "flowmonkey.coordination",
    "token_cutoff": "flowmonkey.triggers",
    "token_secrets": "flowmonkey.triggers",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'flowmonkey' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__version__ = "0.1.0"

__all__ = [
    "DEFAULT_STORE_URL",
    "TRIGGERS_SECTION",
    "CancelResult",
    "Change",
    "ConflictError",
    "ContextLimitError",
    "CreateResult",
    "Engine",
    "ErrorCode",
    "Event",
    "EventBus",
    "EventType",
    "Execution",
    "ExecutionError",
    "ExecutionNotFoundError",
    "ExecutionQuery",
    "ExecutionStatus",
    "ExecutionView",
    "ExpiredTokenError",
    "FileState",
    "Flow",
    "FlowDirectory",
    "FlowError",
    "FlowFileError",
    "FlowMonkeyError",
    "FlowNotFoundError",
    "FlowRegistry",
    "FunctionHandler",
    "Handler",
    "HandlerNotFoundError",
    "HandlerParams",
    "HandlerRegistry",
    "HttpTriggers",
    "InputError",
    "InputSelector",
    "InvalidArgumentError",
    "InvalidTokenError",
    "Job",
    "JobContext",
    "JobFencedError",
    "JobRunner",
    "JobStatus",
    "LockManager",
    "MemoryStore",
    "NotJsonError",
    "NotMigratableError",
    "NotRepairableError",
    "NotWaitingError",
    "Page",
    "PostgresStore",
    "PostgresWakeSignaler",
    "Problem",
    "PruneReport",
    "Pruner",
    "RedisLockManager",
    "RedisWakeSignaler",
    "Result",
    "ResumeDataError",
    "RetentionLoop",
    "RetentionPolicy",
    "RetryPolicy",
    "Runtime",
    "RuntimeStats",
    "SQLiteStore",
    "ScheduleConfig",
    "SchemaVersionError",
    "SelectorType",
    "Step",
    "StepConfigError",
    "StepNotFoundError",
    "StepOutcome",
    "StepRecord",
    "StepResult",
    "StepStatus",
    "Store",
    "StoreError",
    "StoreURLError",
    "TimeoutConfig",
    "Transitions",
    "TriggerDefinition",
    "TriggerError",
    "TriggerFire",
    "TriggerNotFoundError",
    "TriggerService",
    "TriggerType",
    "WaitKind",
    "WakeSignaler",
    "__version__",
    "apply_schema",
    "attach_signaler",
    "default_handlers",
    "handler",
    "llm_handler",
    "load_flow_file",
    "missing_store",
    "open_store",
    "parse_duration",
    "run_job",
    "serve_http",
    "signaler_for",
    "token_cutoff",
    "token_secrets",
]

"""FlowMonkey: a durable workflow engine for Python (asyncio).

The names in ``__all__`` are the public API; the console and the CLI use nothing else.
Subsystems with heavy or optional dependencies (flow files, triggers, PostgreSQL, Redis)
are imported on first use of their names, so ``import flowmonkey`` stays fast and works
without the optional drivers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flowmonkey.change import Change
from flowmonkey.coordination import LockManager, WakeSignaler, attach_signaler, signaler_for
from flowmonkey.defaults import Engine, default_handlers
from flowmonkey.engine import CancelResult, StepOutcome
from flowmonkey.errors import (
    ConflictError,
    ContextLimitError,
    ErrorCode,
    ExecutionNotFoundError,
    FlowError,
    FlowMonkeyError,
    HandlerNotFoundError,
    InputError,
    NotWaitingError,
    StoreError,
)
from flowmonkey.events import Event, EventBus, EventType
from flowmonkey.handlers.job import run_job
from flowmonkey.jobs import JobContext, JobFencedError, JobRunner
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
from flowmonkey.runtime import Runtime, RuntimeStats
from flowmonkey.stores import (
    DEFAULT_STORE_URL,
    CreateResult,
    ExecutionQuery,
    MemoryStore,
    Page,
    Store,
    open_store,
)
from flowmonkey.stores.sqlite import SQLiteStore

if TYPE_CHECKING:
    from flowmonkey.cliopts import missing_store
    from flowmonkey.coordination.postgres import PostgresWakeSignaler
    from flowmonkey.coordination.redis import RedisLockManager, RedisWakeSignaler
    from flowmonkey.flowdirectory import FileState, FlowDirectory
    from flowmonkey.flowfiles import FlowFileError, Problem, load_flow_file
    from flowmonkey.handlers.llm import llm_handler
    from flowmonkey.stores.postgres import PostgresStore, apply_schema
    from flowmonkey.triggers import (
        TRIGGERS_SECTION,
        HttpTriggers,
        ScheduleConfig,
        TriggerError,
        TriggerService,
        serve_http,
    )

_LAZY = {
    "FileState": "flowmonkey.flowdirectory",
    "FlowDirectory": "flowmonkey.flowdirectory",
    "FlowFileError": "flowmonkey.flowfiles",
    "HttpTriggers": "flowmonkey.triggers",
    "PostgresStore": "flowmonkey.stores.postgres",
    "PostgresWakeSignaler": "flowmonkey.coordination.postgres",
    "Problem": "flowmonkey.flowfiles",
    "RedisLockManager": "flowmonkey.coordination.redis",
    "RedisWakeSignaler": "flowmonkey.coordination.redis",
    "ScheduleConfig": "flowmonkey.triggers",
    "TRIGGERS_SECTION": "flowmonkey.triggers",
    "TriggerError": "flowmonkey.triggers",
    "TriggerService": "flowmonkey.triggers",
    "apply_schema": "flowmonkey.stores.postgres",
    "llm_handler": "flowmonkey.handlers.llm",
    "load_flow_file": "flowmonkey.flowfiles",
    "missing_store": "flowmonkey.cliopts",
    "serve_http": "flowmonkey.triggers",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flowmonkey' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
    "FileState",
    "Flow",
    "FlowDirectory",
    "FlowError",
    "FlowFileError",
    "FlowMonkeyError",
    "FlowRegistry",
    "FunctionHandler",
    "Handler",
    "HandlerNotFoundError",
    "HandlerParams",
    "HandlerRegistry",
    "HttpTriggers",
    "InputError",
    "InputSelector",
    "Job",
    "JobContext",
    "JobFencedError",
    "JobRunner",
    "JobStatus",
    "LockManager",
    "MemoryStore",
    "NotWaitingError",
    "Page",
    "PostgresStore",
    "PostgresWakeSignaler",
    "Problem",
    "RedisLockManager",
    "RedisWakeSignaler",
    "Result",
    "RetryPolicy",
    "Runtime",
    "RuntimeStats",
    "SQLiteStore",
    "ScheduleConfig",
    "SelectorType",
    "Step",
    "StepOutcome",
    "StepRecord",
    "StepResult",
    "StepStatus",
    "Store",
    "StoreError",
    "TimeoutConfig",
    "Transitions",
    "TriggerDefinition",
    "TriggerError",
    "TriggerFire",
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
    "run_job",
    "serve_http",
    "signaler_for",
]

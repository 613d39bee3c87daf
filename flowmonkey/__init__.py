"""FlowMonkey: a durable workflow engine for Python (asyncio).

The names in ``__all__`` are the public API; the console and the CLI use nothing else.
"""

from __future__ import annotations

from flowmonkey.engine import CancelResult, Engine, StepOutcome
from flowmonkey.errors import (
    ConflictError,
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
from flowmonkey.model import (
    Execution,
    ExecutionError,
    ExecutionStatus,
    Flow,
    InputSelector,
    RetryPolicy,
    SelectorType,
    Step,
    StepRecord,
    StepStatus,
    TimeoutConfig,
    Transitions,
    WaitKind,
)
from flowmonkey.params import ExecutionView, HandlerParams
from flowmonkey.registry import FlowRegistry, FunctionHandler, Handler, HandlerRegistry, handler
from flowmonkey.result import Result, StepResult
from flowmonkey.stores import (
    DEFAULT_STORE_URL,
    CreateResult,
    ExecutionQuery,
    MemoryStore,
    Page,
    Store,
    open_store,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_STORE_URL",
    "CancelResult",
    "ConflictError",
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
    "Flow",
    "FlowError",
    "FlowMonkeyError",
    "FlowRegistry",
    "FunctionHandler",
    "Handler",
    "HandlerNotFoundError",
    "HandlerParams",
    "HandlerRegistry",
    "InputError",
    "InputSelector",
    "MemoryStore",
    "NotWaitingError",
    "Page",
    "Result",
    "RetryPolicy",
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
    "WaitKind",
    "__version__",
    "handler",
    "open_store",
]

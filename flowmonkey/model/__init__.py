"""The model: plain values every other part of FlowMonkey shares.

- :mod:`~flowmonkey.model.flow`: a flow definition (Flow, Step, InputSelector, ...),
  built from a dict checked against the one JSON Schema of the format
  (:mod:`~flowmonkey.model.schema`);
- :mod:`~flowmonkey.model.execution`: one run of a flow and its history;
- :mod:`~flowmonkey.model.triggers` and :mod:`~flowmonkey.model.jobs`: what the stores
  keep for triggers and long-running handlers;
- :mod:`~flowmonkey.model.fields`: the shape of each field of these records, read from
  their dataclasses: ``to_dict`` / ``from_dict`` and the SQL stores' columns derive from it.

The model imports nothing of FlowMonkey's but ids, errors and durations.
"""

from __future__ import annotations

from flowmonkey.model._json import JSON, JsonPath, copy_json
from flowmonkey.model.execution import (
    ACTIVE_STATUSES,
    Cancellation,
    Execution,
    ExecutionError,
    ExecutionStatus,
    StepRecord,
    StepStatus,
    TimeoutConfig,
    WaitKind,
    utcnow,
)
from flowmonkey.model.fanout import FanIn
from flowmonkey.model.flow import (
    Flow,
    RetryPolicy,
    Step,
    Transitions,
    build_flow,
)
from flowmonkey.model.jobs import Job, JobStatus
from flowmonkey.model.schema import flow_schema
from flowmonkey.model.selectors import InputSelector, SelectorType
from flowmonkey.model.triggers import TriggerDefinition, TriggerFire, TriggerType, WebhookSignature

__all__ = [
    "ACTIVE_STATUSES",
    "JSON",
    "Cancellation",
    "Execution",
    "ExecutionError",
    "ExecutionStatus",
    "FanIn",
    "Flow",
    "InputSelector",
    "Job",
    "JobStatus",
    "JsonPath",
    "RetryPolicy",
    "SelectorType",
    "Step",
    "StepRecord",
    "StepStatus",
    "TimeoutConfig",
    "Transitions",
    "TriggerDefinition",
    "TriggerFire",
    "TriggerType",
    "WaitKind",
    "WebhookSignature",
    "build_flow",
    "copy_json",
    "flow_schema",
    "utcnow",
]

"""The flow and execution model.

Flows are immutable values parsed from the seed's JSON shape (camelCase keys) by
:meth:`Flow.from_dict` and written back by :meth:`Flow.to_dict`. Executions are the
mutable records the engine commits to a store after every step.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from flowmonkey.durations import format_duration, parse_duration
from flowmonkey.errors import ErrorCode, FlowError

JSON = Any
Path = tuple[str | int, ...]


def utcnow() -> datetime:
    return datetime.now(UTC)


class ExecutionStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED})
ACTIVE_STATUSES = (ExecutionStatus.PENDING, ExecutionStatus.RUNNING, ExecutionStatus.WAITING)


class SelectorType(StrEnum):
    KEY = "key"
    KEYS = "keys"
    PATH = "path"
    TEMPLATE = "template"
    FULL = "full"
    STATIC = "static"


class WaitKind(StrEnum):
    """Why an execution waits: a handler asked to, or a failed step waits to retry."""

    HANDLER = "handler"
    RETRY = "retry"


class StepStatus(StrEnum):
    """What one history record says happened at a step."""

    COMPLETED = "completed"
    FAILED = "failed"
    WAITING = "waiting"
    RETRY = "retry"
    RESUMED = "resumed"
    CANCELLED = "cancelled"


# ---------------------------------------------------------------------------
# Flow definitions


def _fail(path: Path, message: str) -> FlowError:
    where = ".".join(str(p) for p in path)
    return FlowError(f"{where}: {message}" if where else message, details={"path": list(path)})


def _expect(value: Any, kind: type | tuple[type, ...], path: Path, what: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _fail(path, f"expected {what}, got {type(value).__name__} {value!r:.60}")
    return value


def _optional_str(data: Mapping[str, Any], key: str, path: Path) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    return str(_expect(value, str, (*path, key), "a string"))


def _duration(data: Mapping[str, Any], key: str, path: Path) -> timedelta | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        return parse_duration(value, where=".".join(str(p) for p in (*path, key)))
    except ValueError as exc:
        raise FlowError(str(exc), details={"path": [*path, key]}) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class InputSelector:
    """Chooses what part of the context a step's handler receives."""

    type: SelectorType = SelectorType.FULL
    key: str | None = None
    keys: tuple[str, ...] = ()
    path: str | None = None
    template: JSON = None
    value: JSON = None

    @classmethod
    def from_dict(cls, data: Any, path: Path = ("input",)) -> InputSelector:
        if data is None:
            return cls()
        _expect(data, Mapping, path, "an input selector object")
        raw_type = data.get("type", "full")
        try:
            kind = SelectorType(raw_type)
        except ValueError:
            options = ", ".join(t.value for t in SelectorType)
            raise _fail(
                (*path, "type"), f"unknown selector {raw_type!r} (expected one of {options})"
            ) from None
        if kind is SelectorType.KEY:
            key = _expect(data.get("key"), str, (*path, "key"), "a context key")
            return cls(type=kind, key=key)
        if kind is SelectorType.KEYS:
            keys = _expect(data.get("keys"), list, (*path, "keys"), "a list of context keys")
            for i, key in enumerate(keys):
                _expect(key, str, (*path, "keys", i), "a context key")
            return cls(type=kind, keys=tuple(keys))
        if kind is SelectorType.PATH:
            return cls(type=kind, path=_expect(data.get("path"), str, (*path, "path"), "a dot path"))
        if kind is SelectorType.TEMPLATE:
            if "template" not in data:
                raise _fail((*path, "template"), "a template selector needs 'template'")
            return cls(type=kind, template=data["template"])
        if kind is SelectorType.STATIC:
            return cls(type=kind, value=data.get("value"))
        return cls(type=kind)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type.value}
        if self.type is SelectorType.KEY:
            out["key"] = self.key
        elif self.type is SelectorType.KEYS:
            out["keys"] = list(self.keys)
        elif self.type is SelectorType.PATH:
            out["path"] = self.path
        elif self.type is SelectorType.TEMPLATE:
            out["template"] = self.template
        elif self.type is SelectorType.STATIC:
            out["value"] = self.value
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Transitions:
    """Where an execution goes after a step: ``None`` on success means completed."""

    on_success: str | None = None
    on_failure: str | None = None
    on_resume: str | None = None

    @classmethod
    def from_dict(cls, data: Any, path: Path) -> Transitions:
        if data is None:
            return cls()
        _expect(data, Mapping, path, "a transitions object")
        return cls(
            on_success=_optional_str(data, "onSuccess", path),
            on_failure=_optional_str(data, "onFailure", path),
            on_resume=_optional_str(data, "onResume", path),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"onSuccess": self.on_success}
        if self.on_failure is not None:
            out["onFailure"] = self.on_failure
        if self.on_resume is not None:
            out["onResume"] = self.on_resume
        return out

    def targets(self) -> list[tuple[str, str]]:
        """(camelCase name, target) pairs for every set transition."""
        pairs = [("onSuccess", self.on_success), ("onFailure", self.on_failure), ("onResume", self.on_resume)]
        return [(name, target) for name, target in pairs if target is not None]


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How a failed step is retried: durable backoff, growing by ``multiplier``."""

    max_attempts: int = 1
    backoff: timedelta = timedelta(seconds=1)
    multiplier: float = 2.0
    max_backoff: timedelta | None = None
    retry_on: tuple[str, ...] | None = None

    @classmethod
    def from_dict(cls, data: Any, path: Path) -> RetryPolicy | None:
        if data is None:
            return None
        _expect(data, Mapping, path, "a retry object")
        attempts = _expect(data.get("maxAttempts", 1), int, (*path, "maxAttempts"), "an integer")
        if attempts < 1:
            raise _fail((*path, "maxAttempts"), f"must be at least 1, got {attempts}")
        multiplier = _expect(data.get("multiplier", 2.0), (int, float), (*path, "multiplier"), "a number")
        retry_on = data.get("retryOn")
        if retry_on is not None:
            _expect(retry_on, list, (*path, "retryOn"), "a list of error codes")
            retry_on = tuple(str(code) for code in retry_on)
        return cls(
            max_attempts=attempts,
            backoff=_duration(data, "backoff", path) or timedelta(seconds=1),
            multiplier=float(multiplier),
            max_backoff=_duration(data, "maxBackoff", path),
            retry_on=retry_on,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "maxAttempts": self.max_attempts,
            "backoff": format_duration(self.backoff),
            "multiplier": self.multiplier,
        }
        if self.max_backoff is not None:
            out["maxBackoff"] = format_duration(self.max_backoff)
        if self.retry_on is not None:
            out["retryOn"] = list(self.retry_on)
        return out

    def delay(self, attempt: int) -> timedelta:
        """The backoff before ``attempt + 1``, after ``attempt`` failed (1-based)."""
        seconds = self.backoff.total_seconds() * self.multiplier ** (attempt - 1)
        if self.max_backoff is not None:
            seconds = min(seconds, self.max_backoff.total_seconds())
        return timedelta(seconds=seconds)

    def allows(self, code: str, attempt: int) -> bool:
        if attempt >= self.max_attempts:
            return False
        return self.retry_on is None or code in self.retry_on


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One node of a flow: a handler type, its config, input and transitions."""

    id: str
    type: str
    name: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    input: InputSelector = field(default_factory=InputSelector)
    output_key: str | None = None
    error_key: str | None = None
    transitions: Transitions = field(default_factory=Transitions)
    retry: RetryPolicy | None = None
    timeout: timedelta | None = None

    @classmethod
    def from_dict(cls, step_id: str, data: Any, path: Path) -> Step:
        _expect(data, Mapping, path, "a step object")
        declared = data.get("id")
        if declared is not None and declared != step_id:
            raise _fail((*path, "id"), f"step id {declared!r} differs from its key {step_id!r}")
        step_type = data.get("type")
        if not isinstance(step_type, str) or not step_type:
            raise _fail((*path, "type"), "expected a handler type (a non-empty string)")
        config = data.get("config") or {}
        _expect(config, Mapping, (*path, "config"), "a config object")
        return cls(
            id=step_id,
            type=step_type,
            name=_optional_str(data, "name", path),
            config=dict(config),
            input=InputSelector.from_dict(data.get("input"), (*path, "input")),
            output_key=_optional_str(data, "outputKey", path),
            error_key=_optional_str(data, "errorKey", path),
            transitions=Transitions.from_dict(data.get("transitions"), (*path, "transitions")),
            retry=RetryPolicy.from_dict(data.get("retry"), (*path, "retry")),
            timeout=_duration(data, "timeout", path),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.name is not None:
            out["name"] = self.name
        out["config"] = dict(self.config)
        out["input"] = self.input.to_dict()
        if self.output_key is not None:
            out["outputKey"] = self.output_key
        if self.error_key is not None:
            out["errorKey"] = self.error_key
        out["transitions"] = self.transitions.to_dict()
        if self.retry is not None:
            out["retry"] = self.retry.to_dict()
        if self.timeout is not None:
            out["timeout"] = format_duration(self.timeout)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Flow:
    """A versioned flow definition. ``hash`` identifies its exact content."""

    id: str
    version: str
    initial_step_id: str
    steps: Mapping[str, Step]
    name: str | None = None
    description: str | None = None
    timeout: timedelta | None = None
    triggers: tuple[Mapping[str, Any], ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    hash: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), default=str)
        object.__setattr__(self, "hash", hashlib.sha256(canonical.encode()).hexdigest())

    @classmethod
    def from_dict(cls, data: Any) -> Flow:
        """Parse the seed's JSON shape. Raises :class:`FlowError` naming the bad path."""
        _expect(data, Mapping, (), "a flow object")
        flow_id = data.get("id")
        if not isinstance(flow_id, str) or not flow_id:
            raise _fail(("id",), "expected a flow id (a non-empty string)")
        version = data.get("version", "1.0.0")
        if isinstance(version, int | float) and not isinstance(version, bool):
            version = str(version)
        _expect(version, str, ("version",), "a semantic version string")
        initial = data.get("initialStepId")
        if not isinstance(initial, str) or not initial:
            raise _fail(("initialStepId",), "expected the id of the first step")
        raw_steps = data.get("steps")
        steps: dict[str, Step] = {}
        if isinstance(raw_steps, list):  # the seed also allows a list of steps with ids
            for i, raw in enumerate(raw_steps):
                _expect(raw, Mapping, ("steps", i), "a step object")
                step_id = _expect(raw.get("id"), str, ("steps", i, "id"), "a step id")
                steps[step_id] = Step.from_dict(step_id, raw, ("steps", i))
        else:
            _expect(raw_steps, Mapping, ("steps",), "a mapping of step id to step")
            for step_id, raw in raw_steps.items():
                steps[str(step_id)] = Step.from_dict(str(step_id), raw, ("steps", str(step_id)))
        triggers = data.get("triggers") or []
        _expect(triggers, list, ("triggers",), "a list of triggers")
        metadata = data.get("metadata") or {}
        _expect(metadata, Mapping, ("metadata",), "an object")
        return cls(
            id=flow_id,
            version=version,
            initial_step_id=initial,
            steps=steps,
            name=_optional_str(data, "name", ()),
            description=_optional_str(data, "description", ()),
            timeout=_duration(data, "timeout", ()),
            triggers=tuple(dict(t) for t in triggers),
            metadata=dict(metadata),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "version": self.version}
        if self.name is not None:
            out["name"] = self.name
        if self.description is not None:
            out["description"] = self.description
        out["initialStepId"] = self.initial_step_id
        if self.timeout is not None:
            out["timeout"] = format_duration(self.timeout)
        out["steps"] = {step_id: step.to_dict() for step_id, step in self.steps.items()}
        if self.triggers:
            out["triggers"] = [dict(t) for t in self.triggers]
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out

    def step(self, step_id: str) -> Step:
        """The step with that id. Raises ``STEP_NOT_FOUND``."""
        try:
            return self.steps[step_id]
        except KeyError:
            raise FlowError(
                f"flow {self.id!r} {self.version} has no step {step_id!r}",
                code=ErrorCode.STEP_NOT_FOUND,
            ) from None


# ---------------------------------------------------------------------------
# Executions


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeoutConfig:
    """Execution-wide deadline and the longest any single wait may last."""

    execution: timedelta | None = None
    wait: timedelta | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionError:
    """Why an execution or a step failed: ``{code, message, step_id, details}``."""

    code: str
    message: str
    step_id: str | None = None
    details: JSON = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "step_id": self.step_id, "details": self.details}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExecutionError:
        return cls(
            code=str(data["code"]),
            message=str(data.get("message", "")),
            step_id=data.get("step_id"),
            details=data.get("details"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Cancellation:
    source: str
    reason: str | None
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "reason": self.reason, "at": self.at.isoformat()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Cancellation:
        return cls(source=data["source"], reason=data.get("reason"), at=_parse_dt(data["at"]))


@dataclass(kw_only=True)
class Execution:
    """One run of a flow. Stores hand out copies; ``revision`` guards every commit."""

    id: str
    flow_id: str
    flow_version: str
    flow_hash: str
    status: ExecutionStatus
    current_step_id: str | None
    context: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    revision: int = 0
    step_count: int = 0
    attempt: int = 1
    completed_at: datetime | None = None
    wake_at: datetime | None = None
    wait_kind: WaitKind | None = None
    wait_reason: str | None = None
    waiting_since: datetime | None = None
    timeout: TimeoutConfig = field(default_factory=TimeoutConfig)
    timeout_at: datetime | None = None
    error: ExecutionError | None = None
    cancellation: Cancellation | None = None
    idempotency_key: str | None = None
    idempotency_expires_at: datetime | None = None
    tenant_id: str | None = None
    parent_execution_id: str | None = None
    parent_step_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in _TERMINAL

    def copy(self) -> Execution:
        """An independent copy: context and metadata are copied deeply."""
        # Not dataclasses.replace: this runs on every store read and write, and
        # replace() was the engine's largest single cost.
        clone = object.__new__(Execution)
        clone.__dict__.update(self.__dict__)
        clone.context = copy_json(self.context)
        clone.metadata = copy_json(self.metadata)
        return clone

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO 8601 strings)."""
        return {
            "id": self.id,
            "flow_id": self.flow_id,
            "flow_version": self.flow_version,
            "flow_hash": self.flow_hash,
            "status": self.status.value,
            "current_step_id": self.current_step_id,
            "context": self.context,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "revision": self.revision,
            "step_count": self.step_count,
            "attempt": self.attempt,
            "completed_at": _iso(self.completed_at),
            "wake_at": _iso(self.wake_at),
            "wait_kind": self.wait_kind.value if self.wait_kind else None,
            "wait_reason": self.wait_reason,
            "waiting_since": _iso(self.waiting_since),
            "timeout": {
                "execution": _seconds(self.timeout.execution),
                "wait": _seconds(self.timeout.wait),
            },
            "timeout_at": _iso(self.timeout_at),
            "error": self.error.to_dict() if self.error else None,
            "cancellation": self.cancellation.to_dict() if self.cancellation else None,
            "idempotency_key": self.idempotency_key,
            "idempotency_expires_at": _iso(self.idempotency_expires_at),
            "tenant_id": self.tenant_id,
            "parent_execution_id": self.parent_execution_id,
            "parent_step_id": self.parent_step_id,
            "metadata": self.metadata,
            "lease_owner": self.lease_owner,
            "lease_expires_at": _iso(self.lease_expires_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Execution:
        timeout = data.get("timeout") or {}
        return cls(
            id=data["id"],
            flow_id=data["flow_id"],
            flow_version=data["flow_version"],
            flow_hash=data["flow_hash"],
            status=ExecutionStatus(data["status"]),
            current_step_id=data.get("current_step_id"),
            context=data.get("context") or {},
            created_at=_parse_dt(data["created_at"]),
            updated_at=_parse_dt(data["updated_at"]),
            revision=int(data.get("revision", 0)),
            step_count=int(data.get("step_count", 0)),
            attempt=int(data.get("attempt", 1)),
            completed_at=_opt_dt(data.get("completed_at")),
            wake_at=_opt_dt(data.get("wake_at")),
            wait_kind=WaitKind(data["wait_kind"]) if data.get("wait_kind") else None,
            wait_reason=data.get("wait_reason"),
            waiting_since=_opt_dt(data.get("waiting_since")),
            timeout=TimeoutConfig(
                execution=_opt_td(timeout.get("execution")), wait=_opt_td(timeout.get("wait"))
            ),
            timeout_at=_opt_dt(data.get("timeout_at")),
            error=ExecutionError.from_dict(data["error"]) if data.get("error") else None,
            cancellation=Cancellation.from_dict(data["cancellation"]) if data.get("cancellation") else None,
            idempotency_key=data.get("idempotency_key"),
            idempotency_expires_at=_opt_dt(data.get("idempotency_expires_at")),
            tenant_id=data.get("tenant_id"),
            parent_execution_id=data.get("parent_execution_id"),
            parent_step_id=data.get("parent_step_id"),
            metadata=data.get("metadata") or {},
            lease_owner=data.get("lease_owner"),
            lease_expires_at=_opt_dt(data.get("lease_expires_at")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRecord:
    """One entry of an execution's history; ``sequence`` is the revision it produced."""

    execution_id: str
    sequence: int
    step_id: str | None
    attempt: int
    outcome: StepStatus
    started_at: datetime
    finished_at: datetime
    input: JSON = None
    output: JSON = None
    error: ExecutionError | None = None
    next_step_id: str | None = None
    note: str | None = None

    @property
    def duration_ms(self) -> float:
        return (self.finished_at - self.started_at).total_seconds() * 1000

    def to_dict(self) -> dict[str, Any]:
        return {
            "execution_id": self.execution_id,
            "sequence": self.sequence,
            "step_id": self.step_id,
            "attempt": self.attempt,
            "outcome": self.outcome.value,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "duration_ms": round(self.duration_ms, 3),
            "input": self.input,
            "output": self.output,
            "error": self.error.to_dict() if self.error else None,
            "next_step_id": self.next_step_id,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepRecord:
        return cls(
            execution_id=data["execution_id"],
            sequence=int(data["sequence"]),
            step_id=data.get("step_id"),
            attempt=int(data.get("attempt", 1)),
            outcome=StepStatus(data["outcome"]),
            started_at=_parse_dt(data["started_at"]),
            finished_at=_parse_dt(data["finished_at"]),
            input=data.get("input"),
            output=data.get("output"),
            error=ExecutionError.from_dict(data["error"]) if data.get("error") else None,
            next_step_id=data.get("next_step_id"),
            note=data.get("note"),
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_dt(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _opt_dt(value: Any) -> datetime | None:
    return None if value is None else _parse_dt(value)


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _opt_td(value: Any) -> timedelta | None:
    return None if value is None else timedelta(seconds=float(value))


_SCALARS = frozenset({str, int, float, bool, type(None)})


def copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data, several times faster than ``copy.deepcopy``."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if isinstance(value, dict):
        return {k: v if type(v) in _SCALARS else copy_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [v if type(v) in _SCALARS else copy_json(v) for v in value]
    return value

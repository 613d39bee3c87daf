"""The flow model: a flow definition as immutable values.

Flows are parsed from the seed's JSON shape (camelCase keys) by :meth:`Flow.from_dict`
and written back by :meth:`Flow.to_dict`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from flowmonkey.durations import format_duration, parse_duration
from flowmonkey.errors import ErrorCode, FlowError
from flowmonkey.model._json import JSON, JsonPath

Path = JsonPath


class SelectorType(StrEnum):
    KEY = "key"
    KEYS = "keys"
    PATH = "path"
    TEMPLATE = "template"
    FULL = "full"
    STATIC = "static"


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

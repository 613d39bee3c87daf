"""The flow model: a flow definition as immutable values.

What a flow may look like is defined once, by the JSON Schema of the format
(:mod:`flowmonkey.model.schema`). :meth:`Flow.from_dict` validates a dict in the seed's
JSON shape (camelCase keys) against it, then :func:`build_flow` turns it into these
values without checking types again: the tables below only say which key becomes which
field. :meth:`Flow.to_dict` writes the same shape back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flowmonkey.durations import format_duration, parse_duration
from flowmonkey.errors import FlowError, StepNotFoundError
from flowmonkey.model._json import JsonPath, dotted
from flowmonkey.model.fanout import FAN_KINDS, FanSpec, fan_spec
from flowmonkey.model.schema import SchemaProblem, flow_error, validate_flow
from flowmonkey.model.selectors import InputSelector, selector_of


@dataclass(frozen=True, slots=True, kw_only=True)
class Transitions:
    """Where an execution goes after a step: ``None`` on success means completed."""

    on_success: str | None = None
    on_failure: str | None = None
    on_resume: str | None = None
    on_error: Mapping[str, str] = field(default_factory=dict)
    """Error code -> next step, after retries; ``"*"`` matches any code. Checked before
    ``onFailure``, which stays the target of a code not listed."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"onSuccess": self.on_success}
        if self.on_failure is not None:
            out["onFailure"] = self.on_failure
        if self.on_resume is not None:
            out["onResume"] = self.on_resume
        if self.on_error:
            out["onError"] = dict(self.on_error)
        return out

    def targets(self) -> list[tuple[str, str]]:
        """(camelCase name, target) pairs for every set transition (``onError.CODE`` for
        each code routed by ``onError``)."""
        pairs = [("onSuccess", self.on_success), ("onFailure", self.on_failure), ("onResume", self.on_resume)]
        pairs += [(f"onError.{code}", target) for code, target in self.on_error.items()]
        return [(name, target) for name, target in pairs if target is not None]

    def on_failure_of(self, code: str) -> str | None:
        """Where a failure with ``code`` goes: its ``onError`` entry, ``"*"``, else ``onFailure``."""
        routes = self.on_error
        if routes:
            target = routes.get(code) or routes.get("*")
            if target is not None:
                return target
        return self.on_failure


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How a failed step is retried: durable backoff, growing by ``multiplier``."""

    max_attempts: int = 1
    backoff: timedelta = timedelta(seconds=1)
    multiplier: float = 2.0
    max_backoff: timedelta | None = None
    retry_on: tuple[str, ...] | None = None

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
    on_exhausted: str | None = None
    """``"hold"`` or ``"fail"`` when retries run out; None: the flow's default (fail)."""
    output_schema: Mapping[str, Any] | None = None
    resume_schema: Mapping[str, Any] | None = None
    fan: FanSpec | None = None
    """For the engine's own kinds ``parallel`` and ``map``: what the step fans out to."""

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
        if self.on_exhausted is not None:
            out["onExhausted"] = self.on_exhausted
        if self.output_schema is not None:
            out["outputSchema"] = dict(self.output_schema)
        if self.resume_schema is not None:
            out["resumeSchema"] = dict(self.resume_schema)
        if self.fan is not None:
            out.update(self.fan.to_dict())
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Flow:
    """A versioned flow definition. ``hash`` identifies its exact content."""

    id: str
    version: str = "1.0.0"
    initial_step_id: str
    steps: Mapping[str, Step]
    name: str | None = None
    description: str | None = None
    timeout: timedelta | None = None
    on_exhausted: str = "fail"
    """What a step whose retries run out does unless it says: ``fail`` or ``hold``."""
    triggers: tuple[Mapping[str, Any], ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    hash: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), default=str)
        object.__setattr__(self, "hash", hashlib.sha256(canonical.encode()).hexdigest())

    @classmethod
    def from_dict(cls, data: Any) -> Flow:
        """Parse the seed's JSON shape, validated against the flow schema.

        Raises:
            FlowError: naming the path of every problem (``steps.a.timeout: expected ...``).
        """
        validate_flow(data)
        return build_flow(data)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "version": self.version}
        if self.name is not None:
            out["name"] = self.name
        if self.description is not None:
            out["description"] = self.description
        out["initialStepId"] = self.initial_step_id
        if self.timeout is not None:
            out["timeout"] = format_duration(self.timeout)
        if self.on_exhausted != "fail":  # the default stays out: hashes of older flows hold
            out["onExhausted"] = self.on_exhausted
        out["steps"] = {step_id: step.to_dict() for step_id, step in self.steps.items()}
        if self.triggers:
            out["triggers"] = [dict(t) for t in self.triggers]
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out

    def holds(self, step: Step) -> bool:
        """Whether ``step`` holds (rather than fails) when its retries run out."""
        return (step.on_exhausted or self.on_exhausted) == "hold"

    def step(self, step_id: str) -> Step:
        """The step with that id. Raises ``STEP_NOT_FOUND``."""
        try:
            return self.steps[step_id]
        except KeyError:
            raise StepNotFoundError(f"flow {self.id!r} {self.version} has no step {step_id!r}") from None


def build_flow(data: Mapping[str, Any]) -> Flow:
    """Build a :class:`Flow` from a dict that already matches the flow schema.

    For a caller that validated ``data`` itself, such as the flow-file loader, which
    reports schema problems by line and column; everyone else calls :meth:`Flow.from_dict`.

    Raises:
        FlowError: for what a schema cannot say: a step id that differs from its key or is
            used twice, a duration too large to hold.
    """
    return Flow(**_fields(data, (), _FLOW_KEYS))


# ---------------------------------------------------------------------------
# Building from a valid dict: each table maps a camelCase key to (field, conversion);
# a key that is absent leaves the dataclass's default.

Convert = Callable[[Any, JsonPath], Any]


def _fields(
    data: Mapping[str, Any], path: JsonPath, keys: Mapping[str, tuple[str, Convert]]
) -> dict[str, Any]:
    return {name: convert(data[key], (*path, key)) for key, (name, convert) in keys.items() if key in data}


def _same(value: Any, path: JsonPath) -> Any:
    return value


def _copy(value: Mapping[str, Any], path: JsonPath) -> dict[str, Any]:
    return dict(value)


def _json_schema(value: Mapping[str, Any], path: JsonPath) -> dict[str, Any]:
    """A JSON Schema a value will be checked against: it must itself be a valid schema."""
    import jsonschema  # slow to import: only flows that declare a schema need it

    try:
        jsonschema.validators.validator_for(value).check_schema(dict(value))
    except jsonschema.SchemaError as exc:
        where = ".".join(str(p) for p in (*path, *exc.absolute_path))
        raise FlowError(
            f"{where}: not a valid JSON Schema: {exc.message}", details={"path": list(path)}
        ) from None
    return dict(value)


def _text(value: Any, path: JsonPath) -> str:
    return value if isinstance(value, str) else str(value)  # a version written as a number


def _duration(value: Any, path: JsonPath) -> timedelta:
    try:
        return parse_duration(value, where=dotted(path))
    except (ValueError, OverflowError):  # the schema lets NaN, infinity and 1e300 seconds through
        raise flow_error([(path, f"expected a duration of at most 999999999 days, got {value!r}")]) from None


def _transitions(value: Mapping[str, Any], path: JsonPath) -> Transitions:
    return Transitions(**_fields(value, path, _TRANSITION_KEYS))


def _retry(value: Mapping[str, Any], path: JsonPath) -> RetryPolicy:
    return RetryPolicy(**_fields(value, path, _RETRY_KEYS))


def _step(step_id: str, value: Mapping[str, Any], path: JsonPath) -> Step:
    fields = _fields(value, path, _STEP_KEYS)
    if value["type"] in FAN_KINDS:
        fields["fan"] = fan_spec(value)
    return Step(id=step_id, **fields)


def _triggers(value: list[Mapping[str, Any]], path: JsonPath) -> tuple[dict[str, Any], ...]:
    return tuple(dict(trigger) for trigger in value)


def _steps(value: Mapping[str, Any] | list[Mapping[str, Any]], path: JsonPath) -> dict[str, Step]:
    """Steps by id, from a mapping of id to step or from a list of steps with ids."""
    if isinstance(value, list):
        placed = [((*path, index), str(raw["id"]), raw) for index, raw in enumerate(value)]
    else:
        placed = [((*path, str(key)), str(key), raw) for key, raw in value.items()]
    problems = list(_misnamed(placed))
    if problems:
        raise flow_error(problems)
    return {step_id: _step(step_id, raw, at) for at, step_id, raw in placed}


def _misnamed(placed: list[tuple[JsonPath, str, Mapping[str, Any]]]) -> Iterator[SchemaProblem]:
    """Step ids the schema cannot check: ``id`` must equal the key, and ids are unique."""
    first: dict[str, JsonPath] = {}
    for at, step_id, raw in placed:
        declared = raw.get("id")
        if declared is not None and declared != step_id:
            yield (*at, "id"), f"step id {declared!r} differs from its key {step_id!r}"
        elif step_id in first:
            yield (*at, "id"), f"step id {step_id!r} is already used at {dotted(first[step_id])}"
        first.setdefault(step_id, at)


_TRANSITION_KEYS: dict[str, tuple[str, Convert]] = {
    "onSuccess": ("on_success", _same),
    "onFailure": ("on_failure", _same),
    "onResume": ("on_resume", _same),
    "onError": ("on_error", _copy),
}

_RETRY_KEYS: dict[str, tuple[str, Convert]] = {
    "maxAttempts": ("max_attempts", lambda value, _: int(value)),  # the schema's integer allows 3.0
    "backoff": ("backoff", _duration),
    "multiplier": ("multiplier", lambda value, _: float(value)),
    "maxBackoff": ("max_backoff", _duration),
    "retryOn": ("retry_on", lambda value, _: tuple(value)),
}

_STEP_KEYS: dict[str, tuple[str, Convert]] = {
    "type": ("type", _same),
    "name": ("name", _same),
    "config": ("config", _copy),
    "input": ("input", selector_of),
    "outputKey": ("output_key", _same),
    "errorKey": ("error_key", _same),
    "transitions": ("transitions", _transitions),
    "retry": ("retry", _retry),
    "timeout": ("timeout", _duration),
    "onExhausted": ("on_exhausted", _same),
    "outputSchema": ("output_schema", _json_schema),
    "resumeSchema": ("resume_schema", _json_schema),
}

_FLOW_KEYS: dict[str, tuple[str, Convert]] = {
    "id": ("id", _same),
    "version": ("version", _text),
    "name": ("name", _same),
    "description": ("description", _same),
    "initialStepId": ("initial_step_id", _same),
    "timeout": ("timeout", _duration),
    "onExhausted": ("on_exhausted", _same),
    "steps": ("steps", _steps),
    "triggers": ("triggers", _triggers),
    "metadata": ("metadata", _copy),
}

"""Checking a parsed document: the JSON Schema, then what the flow means."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from flowmonkey.flowfiles._problems import JsonPath, Report, Severity
from flowmonkey.model import Flow
from flowmonkey.registry import HandlerRegistry, unreachable_steps


@cache
def flow_schema() -> dict[str, Any]:
    """The JSON Schema of the flow file format (``flowmonkey/schema/flow.schema.json``)."""
    text = resources.files("flowmonkey").joinpath("schema/flow.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def flow_validator() -> Draft202012Validator:
    return Draft202012Validator(flow_schema())


# ---------------------------------------------------------------------------
# Pass 1: the JSON Schema

_TYPE_NAMES = {
    "string": "a string",
    "object": "an object (a mapping)",
    "array": "a list",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _show(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, Mapping | list) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def did_you_mean(name: object, options: Iterable[str]) -> str:
    """`` (did you mean "x"?)`` for the closest option, or an empty string."""
    close = difflib.get_close_matches(str(name), list(options), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _expected_type(schema_type: Any) -> str:
    kinds = schema_type if isinstance(schema_type, list) else [schema_type]
    return " or ".join(_TYPE_NAMES.get(str(kind), str(kind)) for kind in kinds)


def _schema_problems(error: ValidationError) -> Iterator[tuple[JsonPath, str]]:
    """Plain-language (path, message) pairs for one jsonschema error."""
    path: JsonPath = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    kind = error.validator
    if kind == "required" and isinstance(error.validator_value, list):
        present = error.instance if isinstance(error.instance, Mapping) else {}
        for name in error.validator_value:
            if name not in present:
                yield path, f'missing required key "{name}"'
    elif kind == "additionalProperties" and isinstance(error.instance, Mapping):
        known = list(schema.get("properties", {}))
        for name in error.instance:
            if name not in known:
                yield (*path, str(name)), f'unknown key "{name}"' + did_you_mean(name, known)
    elif kind == "type":
        yield path, f"expected {_expected_type(error.validator_value)}, got {_show(error.instance)}"
    elif kind == "enum" and isinstance(error.validator_value, list):
        options = ", ".join(f'"{option}"' for option in error.validator_value)
        hint = did_you_mean(error.instance, [str(o) for o in error.validator_value])
        yield path, f"expected one of {options}, got {_show(error.instance)}{hint}"
    elif kind in ("anyOf", "oneOf"):
        expected = schema.get("description", "a valid value")
        got = "" if isinstance(error.instance, Mapping | list) else f", got {_show(error.instance)}"
        yield path, f"expected {expected}{got}"
    elif kind == "not" and isinstance(error.validator_value, Mapping):
        yield path, f"must not have {error.validator_value.get('description', 'this shape')}"
    elif kind in ("minLength", "minProperties", "minItems"):
        yield path, "must not be empty"
    elif kind == "minimum":
        yield path, f"must be at least {error.validator_value}, got {_show(error.instance)}"
    else:
        yield path, error.message


def check_schema(data: Any, validator: Draft202012Validator, base: JsonPath, report: Report) -> None:
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors:
        for path, message in _schema_problems(error):
            report.add((*base, *path), message)


# ---------------------------------------------------------------------------
# Pass 3: meaning


def _step_paths(data: Mapping[str, Any]) -> dict[str, JsonPath]:
    """Where each step is in the document (``steps.<id>`` or ``steps.<index>``)."""
    raw = data.get("steps")
    if isinstance(raw, list):
        return {str(s.get("id")): ("steps", i) for i, s in enumerate(raw) if isinstance(s, Mapping)}
    return {str(step_id): ("steps", str(step_id)) for step_id in raw or {}}


def _check_target(flow: Flow, target: str, path: JsonPath, report: Report) -> None:
    if target not in flow.steps:
        report.add(path, f'no step "{target}"' + did_you_mean(target, flow.steps))


def _control_targets(config: Mapping[str, Any]) -> Iterator[tuple[JsonPath, str]]:
    """Step ids named in switch / conditional config, with their config paths."""
    for key in ("default", "then", "else", "next"):
        if isinstance(config.get(key), str):
            yield (key,), config[key]
    cases = config.get("cases")
    if isinstance(cases, Mapping):
        for case, target in cases.items():
            if isinstance(target, str):
                yield ("cases", str(case)), target
    rules = config.get("rules")
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        if isinstance(rule, Mapping) and isinstance(rule.get("next"), str):
            yield ("rules", index, "next"), rule["next"]


_CONTROL_TYPES = frozenset({"switch", "conditional"})


def check_steps(
    flow: Flow, data: Mapping[str, Any], handlers: HandlerRegistry | None, report: Report
) -> None:
    paths = _step_paths(data)
    _check_target(flow, flow.initial_step_id, ("initialStepId",), report)
    for step in flow.steps.values():
        at = paths.get(step.id, ("steps", step.id))
        for name, target in step.transitions.targets():
            _check_target(flow, target, (*at, "transitions", name), report)
        if step.type in _CONTROL_TYPES:
            for sub, target in _control_targets(step.config):
                _check_target(flow, target, (*at, "config", *sub), report)
        if handlers is None:
            continue
        if step.type not in handlers:
            hint = did_you_mean(step.type, handlers.types())
            report.add((*at, "type"), f'no handler registered for type "{step.type}"{hint}')
            continue
        schema = getattr(handlers.get(step.type), "config_schema", None)
        if isinstance(schema, Mapping):
            check_schema(dict(step.config), Draft202012Validator(schema), (*at, "config"), report)
    for step_id in unreachable_steps(flow):
        report.add(
            paths.get(step_id, ("steps", step_id)),
            f'step "{step_id}" is unreachable: no transition leads to it',
            Severity.WARNING,
        )

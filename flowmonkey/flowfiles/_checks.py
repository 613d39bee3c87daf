"""Checking a parsed document: the JSON Schema, then what the flow means."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator

from flowmonkey.errors import ErrorCode
from flowmonkey.flowfiles._problems import JsonPath, Report, Severity
from flowmonkey.model import Flow, Step
from flowmonkey.model.schema import did_you_mean, schema_problems
from flowmonkey.registry import HandlerRegistry, error_codes_of, step_config_problems, unreachable_steps

# ---------------------------------------------------------------------------
# Pass 1: the JSON Schema (worded by the model, which owns it)


def check_schema(data: Any, validator: Draft202012Validator, base: JsonPath, report: Report) -> None:
    for path, message in schema_problems(validator, data):
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


ANY_STEP_CODES = frozenset(
    code.value
    for code in (
        ErrorCode.INPUT_ERROR,
        ErrorCode.HANDLER_ERROR,
        ErrorCode.STEP_TIMEOUT,
        ErrorCode.OUTPUT_NOT_JSON,
        ErrorCode.CONTEXT_LIMIT,
        ErrorCode.WAIT_EXPIRED,
    )
)
"""The codes the engine itself gives a failing step, whatever its handler."""
FAN_CODES = frozenset({ErrorCode.BRANCH_FAILED.value, ErrorCode.ITEM_FAILED.value})


def _check_error_codes(step: Step, handlers: HandlerRegistry, at: JsonPath, report: Report) -> None:
    """Warn about an ``onError`` code no failure of the step carries, where that is known
    (a handler that declares its ``error_codes``; parallel and map)."""
    if step.fan is not None:
        known: frozenset[str] | None = FAN_CODES
    else:
        known = error_codes_of(handlers.get(step.type)) if step.type in handlers else None
    if known is None:
        return
    possible = known | ANY_STEP_CODES
    for code in step.transitions.on_error:
        if code != "*" and code not in possible:
            report.add(
                (*at, "transitions", "onError", code),
                f'no failure of a "{step.type}" step carries {code} (it may fail with '
                + ", ".join(sorted(possible))
                + ")",
                Severity.WARNING,
            )


def check_steps(
    flow: Flow, data: Mapping[str, Any], handlers: HandlerRegistry | None, report: Report
) -> None:
    paths = _step_paths(data)
    _check_target(flow, flow.initial_step_id, ("initialStepId",), report)
    for step in flow.steps.values():
        at = paths.get(step.id, ("steps", step.id))
        for name, target in step.transitions.targets():
            _check_target(flow, target, (*at, "transitions", *name.split(".", 1)), report)
        if handlers is not None:
            _check_handler(flow, step, handlers, at, report)
            _check_error_codes(step, handlers, at, report)
    if handlers is None:
        return  # what a step's config names is its handler's to say: reachability is unknown
    for step_id in unreachable_steps(flow, handlers):
        report.add(
            paths.get(step_id, ("steps", step_id)),
            f'step "{step_id}" is unreachable: no transition leads to it',
            Severity.WARNING,
        )


def _check_handler(flow: Flow, step: Step, handlers: HandlerRegistry, at: JsonPath, report: Report) -> None:
    """The step's type is registered, its config matches the handler's schema, and every
    step id the config names (as the handler says) exists: the check every registration
    of a flow makes too (:func:`~flowmonkey.registry.step_config_problems`)."""
    if step.fan is not None:
        return  # parallel and map are the engine's own: their children's flows load on their own
    if step.type not in handlers:
        hint = did_you_mean(step.type, handlers.types())
        report.add((*at, "type"), f'no handler registered for type "{step.type}"{hint}')
        return
    for path, message in step_config_problems(flow, step, handlers):
        report.add((*at, *path), message)

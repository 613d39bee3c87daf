"""``conditional``: the first rule that matches picks the next step.

Config: ``rules`` — a list of ``{path, op, value, next}`` — and ``default`` (step id when
none matches; without it no match is a failure ``NO_MATCH``). ``path`` reads the context;
ops: eq, neq, gt, gte, lt, lte, in, nin, contains, startsWith, endsWith, exists,
notExists, matches (a regular expression searched in the text). Flows written for
FlowMonkey on Node name these ``conditions`` and ``target``: such a step does not match the
config schema, so its flow is refused when registered rather than always taking the default.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from flowmonkey.inputs import _MISSING, lookup
from flowmonkey.params import HandlerParams
from flowmonkey.registry import StepRef, handler
from flowmonkey.result import Result, StepResult


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def check(left: Any, right: Any) -> bool:
        try:
            return left is not _MISSING and bool(compare(left, right))
        except TypeError:
            return False

    return check


def _contains(left: Any, right: Any) -> bool:
    return isinstance(left, str | list | dict) and right in left


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda left, right: left == right,
    "neq": lambda left, right: left != right,
    "gt": _ordered(operator.gt),
    "gte": _ordered(operator.ge),
    "lt": _ordered(operator.lt),
    "lte": _ordered(operator.le),
    "in": lambda left, right: isinstance(right, list) and left in right,
    "nin": lambda left, right: isinstance(right, list) and left not in right,
    "contains": _contains,
    "startsWith": lambda left, right: isinstance(left, str) and left.startswith(str(right)),
    "endsWith": lambda left, right: isinstance(left, str) and left.endswith(str(right)),
    "exists": lambda left, right: left is not _MISSING,
    "notExists": lambda left, right: left is _MISSING,
    "matches": lambda left, right: isinstance(left, str) and re.search(str(right), left) is not None,
}

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "rules": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "path": {"type": "string"},
                    "op": {"enum": sorted(OPERATORS)},
                    "value": {},
                    "next": {"type": "string"},
                },
                "required": ["path", "op", "next"],
                "additionalProperties": False,
            },
        },
        "default": {"type": "string"},
    },
    "required": ["rules"],
    "additionalProperties": False,
}


def step_refs(config: Mapping[str, Any]) -> Iterator[StepRef]:
    """The step ids a conditional names: each rule's ``next``, and the default."""
    rules = config.get("rules")
    for index, rule in enumerate(rules if isinstance(rules, list) else ()):
        if isinstance(rule, Mapping) and isinstance(rule.get("next"), str):
            yield ("rules", index, "next"), rule["next"]
    if isinstance(config.get("default"), str):
        yield ("default",), config["default"]


def rule_matches(rule: dict[str, Any], context: Any) -> bool:
    """Whether one ``{path, op, value}`` rule holds for the context."""
    check = OPERATORS.get(rule.get("op", "eq"))
    if check is None:
        raise ValueError(f"unknown operator {rule.get('op')!r}; expected one of {', '.join(OPERATORS)}")
    left = lookup(context, str(rule.get("path", "")))
    if left is _MISSING and rule.get("op") not in ("exists", "notExists", "neq", "nin"):
        return False
    return check(left, rule.get("value"))


@handler(
    "conditional",
    config_schema=CONFIG_SCHEMA,
    step_refs=step_refs,
    error_codes=["INVALID_CONFIG", "NO_MATCH"],
)
async def conditional(params: HandlerParams) -> StepResult:
    """Route to the ``next`` of the first matching rule."""
    rules = params.config.get("rules") or []
    for index, rule in enumerate(rules):
        try:
            matched = rule_matches(rule, params.execution.context)
        except ValueError as exc:
            return Result.failure("INVALID_CONFIG", f"conditional rule {index}: {exc}")
        if matched:
            return Result.success({"matched": index, "next": rule["next"]}, next_step=rule["next"])
    default = params.config.get("default")
    if default is None:
        return Result.failure("NO_MATCH", f"conditional: none of {len(rules)} rules matched")
    return Result.success({"matched": None, "next": default}, next_step=default)

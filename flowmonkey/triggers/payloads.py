"""What a trigger puts in a new execution: schema checks and the starting context."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from flowmonkey.model import copy_json
from flowmonkey.triggers.config import context_key


def schema_errors(schema: Mapping[str, Any] | bool | None, payload: Any) -> list[dict[str, str]]:
    """Every way ``payload`` breaks ``schema``, as ``{"path": "$.x", "message": ...}``, by path.

    A missing required property is reported at its own path (``$.order.id``), which is
    where the sender has to add it.
    """
    if schema is None:
        return []
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [{"path": _where(error), "message": error.message} for error in validator.iter_errors(payload)]
    return sorted(errors, key=lambda e: (e["path"], e["message"]))


def _where(error: ValidationError) -> str:
    """The error's JSON path; for a missing required property, the property's own path."""
    if error.validator == "required" and isinstance(error.instance, Mapping):
        required: list[Any] = list(error.validator_value)  # type: ignore[arg-type]
        missing = [name for name in required if name not in error.instance and repr(name) in error.message]
        if missing:
            # An error at the child's path, so jsonschema spells the path (quoting included).
            return ValidationError(error.message, path=[*error.absolute_path, missing[0]]).json_path
    return error.json_path


def starting_context(
    config: Mapping[str, Any], payload: Any, *, include_payload: bool = True
) -> dict[str, Any]:
    """``staticContext``, with ``payload`` at the trigger's ``contextKey`` (dots nest).

    Raises:
        ValueError: ``contextKey`` is empty (merge at the root) but the payload is not an object.
    """
    context: dict[str, Any] = copy_json(dict(config.get("staticContext") or {}))
    if not include_payload:
        return context
    key = context_key(config)
    if key is None:
        if not isinstance(payload, Mapping):
            raise ValueError("this trigger merges its payload into the context, so it must be a JSON object")
        context.update(copy_json(dict(payload)))
        return context
    _put(context, key.split("."), copy_json(payload))
    return context


def _put(target: dict[str, Any], parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[parts[-1]] = value

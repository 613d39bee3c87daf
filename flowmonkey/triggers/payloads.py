"""What a trigger puts in a new execution: the starting context. (Payloads are checked
against a trigger's ``inputSchema`` by :func:`flowmonkey.jsonvalues.schema_errors`.)"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowmonkey.model import copy_json
from flowmonkey.triggers.config import context_key


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

"""What a waiting step's ``resumeSchema`` asks for, as the resume editor shows it: a short
description of the schema and a skeleton of the data to fill in.

The skeleton has every declared property (required ones first) with a placeholder of its
type: ``{"approved": false, "by": ""}``. It need not pass the schema (an empty name may be
too short): it shows the shape, and the engine's check says what is still wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_PLACEHOLDERS: dict[str, Any] = {
    "string": "",
    "boolean": False,
    "integer": 0,
    "number": 0,
    "array": [],
    "null": None,
}
_DEPTH = 8  # a recursive schema stops being followed here


def skeleton(schema: Mapping[str, Any] | bool | None, depth: int = 0) -> Any:
    """A value of the shape ``schema`` describes (``{}`` when it says nothing)."""
    if not isinstance(schema, Mapping) or depth > _DEPTH:
        return {} if depth == 0 else None
    for word in ("const", "default"):
        if word in schema:
            return schema[word]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = _first_type(schema)
    if kind == "object" or (kind is None and "properties" in schema):
        return {name: skeleton(part, depth + 1) for name, part in _properties(schema)}
    if kind is None:
        return {} if depth == 0 else None
    return _PLACEHOLDERS.get(kind)


def skeleton_text(schema: Mapping[str, Any] | bool | None) -> str:
    """The skeleton as the editor's first text: pretty JSON, one property a line."""
    value = skeleton(schema)
    return json.dumps(value, indent=2, ensure_ascii=False) if value != {} else "{}"


def describe(schema: Mapping[str, Any] | bool | None, depth: int = 0) -> str:
    """``{approved*: boolean, by*: string}``: the properties and their types (``*``
    required); a schema that is no object is shown by its type or as compact JSON."""
    if not isinstance(schema, Mapping) or depth > _DEPTH:
        return json.dumps(schema)
    if schema.get("enum"):
        return " | ".join(json.dumps(value, ensure_ascii=False) for value in schema["enum"])
    kind = _first_type(schema)
    if kind == "object" or (kind is None and "properties" in schema):
        required = set(schema.get("required", ()))
        parts = [
            f"{name}{'*' if name in required else ''}: {describe(part, depth + 1)}"
            for name, part in _properties(schema)
        ]
        return "{" + ", ".join(parts) + "}"
    if kind == "array" and isinstance(schema.get("items"), Mapping):
        return f"[{describe(schema['items'], depth + 1)}]"
    return kind or json.dumps(schema, ensure_ascii=False, separators=(",", ":"))


def _first_type(schema: Mapping[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        return next((k for k in kind if k != "null"), kind[0] if kind else None)
    return kind if isinstance(kind, str) else None


def _properties(schema: Mapping[str, Any]) -> list[tuple[str, Any]]:
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return []
    required = [name for name in schema.get("required", ()) if name in properties]
    return [(name, properties[name]) for name in [*required, *(n for n in properties if n not in required)]]

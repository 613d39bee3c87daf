"""JSON-shaped values: their type alias, paths into them, and a fast deep copy."""

from __future__ import annotations

from typing import Any

JSON = Any
JsonPath = tuple[str | int, ...]
"""Where a value is inside a document: keys and list indexes, e.g. ``("steps", "a", "timeout")``."""


def dotted(path: JsonPath) -> str:
    """``steps.a.timeout``: a path as problems name it."""
    return ".".join(str(part) for part in path)


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

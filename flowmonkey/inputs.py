"""Resolving a step's input selector against the execution context.

Templates substitute ``${a.b}`` inside strings, recursively through dicts and lists. A
string that is exactly ``${x}`` keeps x's type; a missing value renders as empty text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from flowmonkey.errors import InputError
from flowmonkey.model import InputSelector, SelectorType, copy_json

_PLACEHOLDER = re.compile(r"\$\{\s*([^}]*?)\s*\}")
_MISSING = object()


def lookup(data: Any, path: str) -> Any:
    """Follow a dot path (``items.0.name`` indexes lists); returns ``_MISSING`` if absent."""
    current = data
    for part in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(part, _MISSING)
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            current = current[index] if -len(current) <= index < len(current) else _MISSING
        else:
            return _MISSING
        if current is _MISSING:
            return _MISSING
    return current


def get_path(data: Any, path: str, default: Any = None) -> Any:
    """The value at a dot path, or ``default`` when any part is missing."""
    value = lookup(data, path)
    return default if value is _MISSING else value


def with_value(data: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``data`` with ``value`` at the dot path (nested objects are created on
    the way). Only the objects along the path are copied; ``data`` is never changed."""
    fresh = dict(data)
    if "." not in path:
        fresh[path] = value
        return fresh
    head, rest = path.split(".", 1)
    child = fresh.get(head)
    fresh[head] = with_value(child if isinstance(child, Mapping) else {}, rest, value)
    return fresh


def undo_of(data: Mapping[str, Any], path: str) -> dict[str, Any]:
    """How to take back ``with_value(data, path, ...)``: the old value at the shallowest
    part of the dot path that the write replaces (``{"path": p, "was": old}``), or that
    nothing was there (``{"path": p}``)."""
    current: Any = data
    parts = path.split(".")
    for depth, part in enumerate(parts):
        prefix = ".".join(parts[: depth + 1])
        if part not in current:
            return {"path": prefix}
        value = current[part]
        if depth + 1 == len(parts) or not isinstance(value, Mapping):
            return {"path": prefix, "was": copy_json(value)}
        current = value
    raise AssertionError("unreachable: the loop returns")  # pragma: no cover


def undone(data: Mapping[str, Any], undo: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with the change ``undo`` describes taken back (a copy; ``data`` is kept)."""
    path = undo["path"]
    if not path:  # the whole context (a retry restores one)
        was: dict[str, Any] = copy_json(undo["was"])
        return was
    if "was" in undo:
        return with_value(data, path, copy_json(undo["was"]))
    head, _, rest = path.partition(".")
    fresh = dict(data)
    if not rest:
        fresh.pop(head, None)
    elif isinstance(fresh.get(head), Mapping):
        fresh[head] = undone(fresh[head], {"path": rest})
    return fresh


def render(template: Any, context: Mapping[str, Any]) -> Any:
    """Substitute ``${...}`` placeholders through strings, dicts and lists."""
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            value = lookup(context, whole.group(1))
            return None if value is _MISSING else copy_json(value)
        return _PLACEHOLDER.sub(lambda m: _text(lookup(context, m.group(1))), template)
    if isinstance(template, Mapping):
        return {key: render(value, context) for key, value in template.items()}
    if isinstance(template, list):
        return [render(item, context) for item in template]
    return template


def _text(value: Any) -> str:
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        import json

        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def resolve_input(selector: InputSelector, context: Mapping[str, Any]) -> Any:
    """The value a step's handler receives. Raises :class:`InputError` for a missing key."""
    return _RESOLVERS[selector.type](selector, context)


def _resolve_key(selector: InputSelector, context: Mapping[str, Any]) -> Any:
    assert selector.key is not None
    if selector.key not in context:
        raise InputError(f"input key {selector.key!r} is not in the context")
    return copy_json(context[selector.key])


def _resolve_keys(selector: InputSelector, context: Mapping[str, Any]) -> Any:
    return {key: copy_json(context[key]) for key in selector.keys if key in context}


def _resolve_path(selector: InputSelector, context: Mapping[str, Any]) -> Any:
    assert selector.path is not None
    value = lookup(context, selector.path)
    if value is _MISSING:
        raise InputError(f"input path {selector.path!r} is not in the context")
    return copy_json(value)


_RESOLVERS: dict[SelectorType, Callable[[InputSelector, Mapping[str, Any]], Any]] = {
    SelectorType.KEY: _resolve_key,
    SelectorType.KEYS: _resolve_keys,
    SelectorType.PATH: _resolve_path,
    SelectorType.TEMPLATE: lambda s, c: render(s.template, c),
    SelectorType.FULL: lambda s, c: copy_json(c),
    SelectorType.STATIC: lambda s, c: copy_json(s.value),
}

"""Named events: which enabled event triggers listen for an event and match its payload.

A trigger's ``filter`` is an object of dot paths to values; every path must be present in
the payload with an equal value (``{"order.country": "FR"}``). Lists are indexed by number
(``items.0.sku``). No filter matches every payload.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flowmonkey.model import TriggerDefinition, TriggerType

_MISSING = object()


def lookup(payload: Any, path: str) -> Any:
    """The value at dot ``path`` in ``payload``, or a private sentinel when absent."""
    value = payload
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def matches_filter(filter_: Mapping[str, Any] | None, payload: Any) -> bool:
    """Whether every dot path of ``filter_`` holds an equal value in ``payload``."""
    if not filter_:
        return True
    return all(lookup(payload, path) == expected for path, expected in filter_.items())


def listeners(triggers: Iterable[TriggerDefinition], name: str, payload: Any) -> list[TriggerDefinition]:
    """The enabled event triggers for ``name`` whose filter ``payload`` passes."""
    return [
        t
        for t in triggers
        if t.type is TriggerType.EVENT
        and t.enabled
        and t.config.get("event") == name
        and matches_filter(t.config.get("filter"), payload)
    ]

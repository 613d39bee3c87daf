"""Validation of a trigger's settings, as declared under ``triggers:`` in a flow file.

A trigger's ``config`` keeps the flow file's camelCase keys (``cron``, ``timezone``,
``misfire``, ``staticContext``, ``path``, ``contextKey``, ``inputSchema``, ``secret``,
``event``, ``filter``, ``legacySignature``). :func:`validate_config` checks them once, when a trigger is
registered, so a bad declaration fails with a message that names the field, not later
when the trigger fires.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from flowmonkey.errors import TriggerError
from flowmonkey.model import TriggerType
from flowmonkey.triggers.schedule import CronSchedule, Misfire

DEFAULT_CONTEXT_KEY = "input"
"""Where an HTTP body or an event payload goes in the new execution's context.

``contextKey: ""`` (or ``null``) merges the payload, which must then be an object, into the
root of the context instead, so the flow sees the same context as ``flowmonkey run``.
"""

_COMMON = {"staticContext", "description", "name"}
_ALLOWED: dict[TriggerType, set[str]] = {
    TriggerType.HTTP: _COMMON | {"path", "contextKey", "inputSchema", "secret", "legacySignature"},
    TriggerType.SCHEDULE: _COMMON | {"cron", "timezone", "misfire"},
    TriggerType.EVENT: _COMMON | {"event", "filter", "contextKey", "inputSchema"},
}
# Keys of a flow-file item that are not part of ``config``.
_ITEM_KEYS = {"id", "type", "enabled", "flowVersion"}
# Bookkeeping the service adds to ``config``; never declared by users.
FLOW_HASH_KEY = "flowHash"


@dataclass(frozen=True, slots=True, kw_only=True)
class Declaration:
    """One parsed item of a flow file's ``triggers:`` list."""

    id: str
    type: TriggerType
    config: dict[str, Any]
    enabled: bool = True
    flow_version: str | None = None


def parse_type(value: Any, where: str) -> TriggerType:
    """The trigger type named by ``value``, or a :class:`TriggerError` saying what is allowed."""
    try:
        return TriggerType(value)
    except ValueError:
        allowed = ", ".join(t.value for t in TriggerType)
        raise TriggerError(f"{where}: type {value!r} is not one of {allowed}") from None


def check_id(trigger_id: Any, where: str = "trigger id") -> str:
    """A usable trigger id (it is a URL segment of its webhook), or a :class:`TriggerError`."""
    if not isinstance(trigger_id, str) or not trigger_id.strip() or trigger_id != trigger_id.strip():
        raise TriggerError(f"{where}: {trigger_id!r} must be a non-empty string without surrounding spaces")
    if "/" in trigger_id:
        raise TriggerError(f"{where}: {trigger_id!r} must not contain '/' (use `path` for nested URLs)")
    return trigger_id


def parse_declaration(flow_id: str, index: int, item: Any) -> Declaration:
    """Parse ``triggers[index]`` of flow ``flow_id``; the id defaults to ``{flow}-{type}-{index}``."""
    where = f"flow {flow_id!r} triggers[{index}]"
    if not isinstance(item, Mapping):
        raise TriggerError(f"{where}: expected a trigger object, got {type(item).__name__}")
    trigger_type = parse_type(item.get("type"), where)
    trigger_id = check_id(item.get("id") or f"{flow_id}-{trigger_type.value}-{index}", f"{where}.id")
    enabled = item.get("enabled", True)
    if not isinstance(enabled, bool):
        raise TriggerError(f"{where}.enabled: expected true or false, got {enabled!r}")
    version = item.get("flowVersion")
    config = {k: v for k, v in item.items() if k not in _ITEM_KEYS}
    return Declaration(
        id=trigger_id,
        type=trigger_type,
        config=validate_config(trigger_type, config, where=f"{where} ({trigger_id})"),
        enabled=enabled,
        flow_version=str(version) if version is not None else None,
    )


def validate_config(trigger_type: TriggerType, config: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    """Check ``config`` for a trigger of ``trigger_type``; returns a plain copy.

    Raises:
        TriggerError: naming ``where`` and the offending key.
    """
    unknown = set(config) - _ALLOWED[trigger_type] - {FLOW_HASH_KEY}
    if unknown:
        allowed = ", ".join(sorted(_ALLOWED[trigger_type]))
        raise TriggerError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))} for a {trigger_type.value} trigger "
            f"(allowed: {allowed})"
        )
    _check_mapping(config, "staticContext", where)
    _VALIDATORS[trigger_type](config, where)
    return dict(config)


def _check_http(config: Mapping[str, Any], where: str) -> None:
    _check_str(config, "path", where)
    _check_str(config, "secret", where)
    legacy = config.get("legacySignature", False)
    if not isinstance(legacy, bool):
        raise TriggerError(f"{where}.legacySignature: expected true or false, got {legacy!r}")
    _check_context_key(config, where)
    _check_schema(config, where)


def _check_schedule(config: Mapping[str, Any], where: str) -> None:
    cron = config.get("cron")
    if not isinstance(cron, str) or not cron.strip():
        raise TriggerError(f"{where}.cron: a schedule trigger needs a cron expression, e.g. '0 9 * * *'")
    timezone = config.get("timezone", "UTC")
    if not isinstance(timezone, str):
        raise TriggerError(f"{where}.timezone: expected an IANA zone name, got {timezone!r}")
    try:
        CronSchedule(expression=cron, timezone=timezone)
        Misfire(config.get("misfire", Misfire.ONCE))
    except ValueError as exc:
        raise TriggerError(f"{where}: {exc}") from None


def _check_event(config: Mapping[str, Any], where: str) -> None:
    event = config.get("event")
    if not isinstance(event, str) or not event:
        raise TriggerError(f"{where}.event: an event trigger needs the event name, e.g. 'order.created'")
    _check_mapping(config, "filter", where)
    _check_context_key(config, where)
    _check_schema(config, where)


_VALIDATORS = {
    TriggerType.HTTP: _check_http,
    TriggerType.SCHEDULE: _check_schedule,
    TriggerType.EVENT: _check_event,
}


def _check_str(config: Mapping[str, Any], key: str, where: str) -> None:
    value = config.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise TriggerError(f"{where}.{key}: expected a non-empty string, got {value!r}")


def _check_mapping(config: Mapping[str, Any], key: str, where: str) -> None:
    value = config.get(key)
    if value is not None and not isinstance(value, Mapping):
        raise TriggerError(f"{where}.{key}: expected an object, got {type(value).__name__}")


def _check_context_key(config: Mapping[str, Any], where: str) -> None:
    value = config.get("contextKey", DEFAULT_CONTEXT_KEY)
    if value is not None and not isinstance(value, str):
        raise TriggerError(f"{where}.contextKey: expected a key (dots nest), got {value!r}")


def _check_schema(config: Mapping[str, Any], where: str) -> None:
    schema = config.get("inputSchema")
    if schema is None:
        return
    if not isinstance(schema, Mapping | bool):
        raise TriggerError(f"{where}.inputSchema: expected a JSON Schema object")
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)  # type: ignore[arg-type]
    except jsonschema.SchemaError as exc:
        raise TriggerError(f"{where}.inputSchema is not a valid JSON Schema: {exc.message}") from None


def context_key(config: Mapping[str, Any]) -> str | None:
    """The trigger's ``contextKey`` (``None`` merges the payload at the root)."""
    key = config.get("contextKey", DEFAULT_CONTEXT_KEY)
    return key or None


def declared(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` without the service's bookkeeping, to compare declarations."""
    return {k: v for k, v in config.items() if k != FLOW_HASH_KEY}

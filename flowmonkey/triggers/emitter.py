"""Emitting an event from a process that has no flow files (``flowmonkey emit``).

Each trigger remembers the hash of the definition it starts, which the store keeps, so
the listening flows can be started from the store alone; workers sharing it run them.
"""

from __future__ import annotations

from typing import Any

from flowmonkey.engine import Engine
from flowmonkey.registry import FlowRegistry
from flowmonkey.stores.base import Store
from flowmonkey.triggers.config import FLOW_HASH_KEY
from flowmonkey.triggers.events import listeners
from flowmonkey.triggers.outcomes import FireOutcome
from flowmonkey.triggers.service import TriggerService


async def emit_from_store(
    store: Store, name: str, payload: Any, *, idempotency_key: str | None = None
) -> list[FireOutcome]:
    """Start every flow listening for event ``name``, using only what ``store`` holds."""
    engine = Engine(store, flows=await _stored_flows(store, name, payload))
    service = TriggerService(store, engine, schedule=None, sync_flows=False)
    return await service.emit(name, payload, idempotency_key=idempotency_key)


async def _stored_flows(store: Store, name: str, payload: Any) -> FlowRegistry:
    registry = FlowRegistry()
    for trigger in listeners(await store.list_triggers(), name, payload):
        flow_hash = trigger.config.get(FLOW_HASH_KEY)
        flow = await store.get_definition(str(flow_hash)) if flow_hash else None
        if flow is not None:
            registry.register(flow)
    return registry

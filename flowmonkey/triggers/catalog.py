"""The triggers in the store: registering, changing, deleting and reading them.

Every instance sharing a store sees the same triggers. A trigger remembers the hash of the
definition it starts (``config["flowHash"]``, stored with the definition), so another
process (``flowmonkey emit``) can start it from the store alone, without the flow files.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from flowmonkey.errors import FlowNotFoundError, TriggerError, TriggerNotFoundError
from flowmonkey.model import TriggerDefinition, TriggerFire, TriggerType
from flowmonkey.registry import FlowRegistry
from flowmonkey.stores.base import DefinitionStore, TriggerStore
from flowmonkey.triggers.config import FLOW_HASH_KEY, check_id, parse_type, validate_config


class CatalogStore(TriggerStore, DefinitionStore, Protocol):
    """The parts of the store the catalog uses: triggers, and the definitions they start."""


class TriggerCatalog:
    """Reads and writes triggers; every write goes through :meth:`save`.

    Args:
        store: where triggers live.
        flows: the definitions triggers start (for their hash).
        clock: stamps ``created_at`` / ``updated_at``.
        next_run: a schedule trigger's next slot from now (``None`` when disabled).
        on_saved: told about every trigger saved (to wake the scheduler, warn ...).
    """

    def __init__(
        self,
        store: CatalogStore,
        flows: FlowRegistry,
        *,
        clock: Callable[[], datetime],
        next_run: Callable[[TriggerDefinition], datetime | None],
        on_saved: Callable[[TriggerDefinition], None],
    ) -> None:
        self._store = store
        self._flows = flows
        self._clock = clock
        self._next_run = next_run
        self._on_saved = on_saved

    async def register(
        self,
        trigger_id: str,
        *,
        type: TriggerType | str,
        flow_id: str,
        config: Mapping[str, Any] | None = None,
        enabled: bool = True,
        flow_version: str | None = None,
        source: str | None = None,
    ) -> TriggerDefinition:
        """Add a trigger; raises :class:`TriggerError` if the id is taken or the config is bad."""
        if await self._store.get_trigger(trigger_id) is not None:
            raise TriggerError(f"trigger {trigger_id!r} already exists; update or delete it first")
        trigger_type = parse_type(type, f"trigger {trigger_id!r}")
        now = self._clock()
        trigger = TriggerDefinition(
            id=check_id(trigger_id),
            type=trigger_type,
            flow_id=flow_id,
            flow_version=flow_version,
            enabled=enabled,
            config=validate_config(trigger_type, config or {}, where=f"trigger {trigger_id!r}"),
            source=source,
            created_at=now,
            updated_at=now,
        )
        return await self.save(trigger, reschedule=True)

    async def update(
        self,
        trigger_id: str,
        *,
        config: Mapping[str, Any] | None = None,
        enabled: bool | None = None,
        flow_id: str | None = None,
        flow_version: str | None = None,
    ) -> TriggerDefinition:
        """Change a trigger's config, flow or enabled state (``None`` keeps a field)."""
        trigger = await self.require(trigger_id)
        changes: dict[str, Any] = {"updated_at": self._clock()}
        if config is not None:
            changes["config"] = validate_config(trigger.type, config, where=f"trigger {trigger_id!r}")
        if enabled is not None:
            changes["enabled"] = enabled
        if flow_id is not None:
            changes["flow_id"] = flow_id
        if flow_version is not None:
            changes["flow_version"] = flow_version
        return await self.save(replace(trigger, **changes), reschedule=True)

    async def delete(self, trigger_id: str) -> bool:
        """Remove the trigger (its fire history stays); False if it did not exist."""
        return await self._store.delete_trigger(trigger_id)

    async def get(self, trigger_id: str) -> TriggerDefinition | None:
        return await self._store.get_trigger(trigger_id)

    async def require(self, trigger_id: str) -> TriggerDefinition:
        """The trigger, or a ``TRIGGER_NOT_FOUND`` :class:`TriggerError`."""
        trigger = await self._store.get_trigger(trigger_id)
        if trigger is None:
            raise TriggerNotFoundError(f"no trigger {trigger_id!r}")
        return trigger

    async def list(self, type: TriggerType | str | None = None) -> builtins.list[TriggerDefinition]:
        """Every trigger (of ``type``), by id."""
        triggers = await self._store.list_triggers()
        if type is None:
            return triggers
        wanted = parse_type(type, "list")
        return [t for t in triggers if t.type is wanted]

    async def find_webhook(self, key: str) -> TriggerDefinition | None:
        """The HTTP trigger whose id, or else whose ``path``, is ``key``."""
        trigger = await self._store.get_trigger(key)
        if trigger is not None and trigger.type is TriggerType.HTTP:
            return trigger
        for candidate in await self.list(TriggerType.HTTP):
            if str(candidate.config.get("path", "")).strip("/") == key:
                return candidate
        return None

    async def history(self, trigger_id: str, *, limit: int = 50) -> builtins.list[TriggerFire]:
        """The trigger's fires, newest first."""
        return await self._store.trigger_history(trigger_id, limit=limit)

    async def save(self, trigger: TriggerDefinition, *, reschedule: bool) -> TriggerDefinition:
        """Store ``trigger`` as is (no validation); ``reschedule`` recomputes its next slot."""
        if trigger.type is TriggerType.SCHEDULE and reschedule:
            trigger = replace(trigger, next_run_at=self._next_run(trigger))
        trigger = await self._with_flow_hash(trigger)
        await self._store.save_trigger(trigger)
        self._on_saved(trigger)
        return trigger

    async def _with_flow_hash(self, trigger: TriggerDefinition) -> TriggerDefinition:
        """Remember the definition the trigger starts, and store that definition."""
        try:
            flow = self._flows.get(trigger.flow_id, trigger.flow_version)
        except FlowNotFoundError:
            return trigger
        if trigger.config.get(FLOW_HASH_KEY) == flow.hash:
            return trigger
        await self._store.save_definition(flow)
        return replace(trigger, config={**trigger.config, FLOW_HASH_KEY: flow.hash})

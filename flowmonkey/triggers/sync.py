"""Keeping the triggers that flow files declare in step with the flows.

On ``flow.registered`` / ``flow.reloaded`` the flow's ``triggers:`` are registered or
updated (their ``source`` is the file path) and the ones it no longer declares are deleted;
on ``flow.retired`` they are deleted. Triggers registered through the API (``source`` None)
are never touched. The file's ``enabled`` is applied when a trigger is created and when its
file is reloaded; at start-up an unchanged declaration keeps an operator's pause.

Events are handled one at a time, in the order they were published.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from flowmonkey.errors import TriggerError
from flowmonkey.events import Event, EventBus, EventType
from flowmonkey.model import Flow, TriggerDefinition
from flowmonkey.registry import FlowRegistry
from flowmonkey.triggers.config import FLOW_HASH_KEY, Declaration, declared, parse_declaration

log = logging.getLogger("flowmonkey.triggers")

_FLOW_EVENTS = (EventType.FLOW_REGISTERED, EventType.FLOW_RELOADED, EventType.FLOW_RETIRED)


@dataclass(slots=True, kw_only=True)
class SyncReport:
    """What one sync changed, by trigger id; ``errors`` are declarations that were skipped."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class TriggerWriter(Protocol):
    """What the sync changes triggers through (a :class:`TriggerCatalog`)."""

    async def list(self) -> builtins.list[TriggerDefinition]: ...

    async def save(self, trigger: TriggerDefinition, *, reschedule: bool) -> TriggerDefinition: ...

    async def delete(self, trigger_id: str) -> bool: ...


class FlowSync:
    """Keeps ``triggers`` in step with the flows ``events`` announce.

    Args:
        events: where flow events are published (``engine.events``).
        flows: the flows the events name (``engine.flows``).
        triggers: where declared triggers are saved and deleted.
        clock: stamps ``created_at`` / ``updated_at``.
    """

    def __init__(
        self,
        *,
        events: EventBus,
        flows: FlowRegistry,
        triggers: TriggerWriter,
        clock: Callable[[], datetime],
    ) -> None:
        self._events = events
        self._flows = flows
        self._triggers = triggers
        self._clock = clock
        self._unsubscribe: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()

    def attach(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self._events.subscribe(self._on_event, _FLOW_EVENTS)

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    async def settle(self) -> None:
        """Wait until every flow event received so far has been applied."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _on_event(self, event: Event) -> None:
        try:
            task = asyncio.get_running_loop().create_task(self._handle(event))
        except RuntimeError:
            log.warning("flow event %s outside an event loop: its triggers were not synced", event.type)
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, event: Event) -> None:
        async with self._lock:  # FIFO: a reload never overtakes the registration before it
            try:
                await self._apply(event)
            except Exception:
                log.exception("could not sync the triggers of flow %r", event.flow_id)

    async def _apply(self, event: Event) -> None:
        flow_id = event.data.get("flow_id") or event.flow_id
        if not flow_id:
            return
        if event.type is EventType.FLOW_RETIRED:
            await self.retire(flow_id)
            return
        flow = self._flows.by_hash(event.data.get("hash", "")) or self._flows.get(flow_id)
        await self.sync_flow(
            flow, source=event.data.get("path"), reloaded=event.type is EventType.FLOW_RELOADED
        )

    async def sync_all(self) -> None:
        """Sync every flow the engine offers (at start-up)."""
        for flow in self._flows.latest():
            if flow.triggers:
                await self.sync_flow(flow)

    async def sync_flow(self, flow: Flow, *, source: str | None = None, reloaded: bool = False) -> SyncReport:
        """Make the store hold exactly the triggers ``flow`` declares."""
        report = SyncReport()
        declarations = self._parse(flow, report)
        existing = {t.id: t for t in await self._triggers.list()}
        for trigger in existing.values():
            if trigger.flow_id == flow.id and trigger.source is not None and trigger.id not in declarations:
                await self._triggers.delete(trigger.id)
                report.removed.append(trigger.id)
        origin = source or _source_of(flow, existing.values())
        for declaration in declarations.values():
            await self._upsert(flow, declaration, existing.get(declaration.id), origin, reloaded, report)
        await self._refresh_api_triggers(flow, existing.values())
        return report

    def _parse(self, flow: Flow, report: SyncReport) -> dict[str, Declaration]:
        declarations: dict[str, Declaration] = {}
        for index, item in enumerate(flow.triggers):
            try:
                declaration = parse_declaration(flow.id, index, item)
            except TriggerError as exc:
                log.warning("skipping a trigger: %s", exc.message)
                report.errors.append(exc.message)
                continue
            declarations[declaration.id] = declaration
        return declarations

    async def _upsert(
        self,
        flow: Flow,
        declaration: Declaration,
        current: TriggerDefinition | None,
        source: str,
        reloaded: bool,
        report: SyncReport,
    ) -> None:
        if current is None:
            # save, not register: another instance syncing the same file may have won the race.
            now = self._clock()
            await self._triggers.save(
                TriggerDefinition(
                    id=declaration.id,
                    type=declaration.type,
                    flow_id=flow.id,
                    flow_version=declaration.flow_version,
                    enabled=declaration.enabled,
                    config=declaration.config,
                    source=source,
                    created_at=now,
                    updated_at=now,
                ),
                reschedule=True,
            )
            report.added.append(declaration.id)
            return
        if current.flow_id != flow.id or current.source is None:
            owner = f"flow {current.flow_id!r}" if current.source else "the API"
            message = f"flow {flow.id!r} declares trigger {declaration.id!r}, which {owner} already owns"
            log.warning("%s; keeping that one", message)
            report.errors.append(message)
            return
        changed = (
            current.type is not declaration.type
            or declared(current.config) != declaration.config
            or current.flow_version != declaration.flow_version
        )
        enabled = declaration.enabled if (reloaded or changed) else current.enabled
        if not changed and enabled == current.enabled and current.source == source:
            if current.config.get(FLOW_HASH_KEY) != flow.hash:
                await self._triggers.save(current, reschedule=False)  # re-stamps the flow hash
            return
        fresh = replace(
            current,
            type=declaration.type,
            config=declaration.config,
            flow_version=declaration.flow_version,
            enabled=enabled,
            source=source,
            updated_at=self._clock(),
        )
        await self._triggers.save(fresh, reschedule=changed or (enabled and not current.enabled))
        report.updated.append(declaration.id)

    async def _refresh_api_triggers(self, flow: Flow, triggers: Any) -> None:
        """API triggers of a flow follow its latest version's hash too."""
        for trigger in triggers:
            if (
                trigger.flow_id == flow.id
                and trigger.source is None
                and trigger.flow_version is None
                and trigger.config.get(FLOW_HASH_KEY) != flow.hash
            ):
                await self._triggers.save(trigger, reschedule=False)

    async def retire(self, flow_id: str) -> list[str]:
        """Delete the triggers a retired flow declared; returns their ids."""
        removed = []
        for trigger in await self._triggers.list():
            if trigger.flow_id == flow_id and trigger.source is not None:
                await self._triggers.delete(trigger.id)
                removed.append(trigger.id)
        return removed


def _source_of(flow: Flow, triggers: Any) -> str:
    """Keep the file path a previous sync recorded when an event does not carry one."""
    for trigger in triggers:
        if trigger.flow_id == flow.id and trigger.source:
            return str(trigger.source)
    return f"flow:{flow.id}"


__all__ = ["FlowSync", "SyncReport"]

"""The :class:`~flowmonkey.stores.base.FanInStore` part of the memory store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from flowmonkey.change import Change
from flowmonkey.model import ACTIVE_STATUSES, Execution, ExecutionStatus
from flowmonkey.model.fanout import FanIn, wakes_parent


class MemoryFanIns:
    """Fans, their join rows and counters; mixed into :class:`MemoryStore`, whose
    ``_executions`` and ``_wake_parent`` it uses."""

    _executions: dict[str, Execution]

    def __init__(self) -> None:
        self._fans: dict[str, FanIn] = {}
        self._joins: dict[str, tuple[str, int]] = {}  # child id -> (fan id, index)
        self._fan_members: dict[str, dict[int, str]] = {}  # fan id -> index -> child id
        self._ended: set[str] = set()

    def _forget_fans(self, execution_id: str) -> None:
        """A pruned execution's fans (as a parent) and its own join row (as a child)."""
        for fan_id in [f.fan_id for f in self._fans.values() if f.parent_id == execution_id]:
            del self._fans[fan_id]
            for child_id in self._fan_members.pop(fan_id, {}).values():
                self._joins.pop(child_id, None)
                self._ended.discard(child_id)
        self._joins.pop(execution_id, None)
        self._ended.discard(execution_id)

    def _wake_parent(self, parent_id: str, at: datetime) -> None:  # pragma: no cover - the store's
        raise NotImplementedError

    async def open_fan(self, fan: FanIn) -> FanIn:
        self._fan_members.setdefault(fan.fan_id, {})
        return self._fans.setdefault(fan.fan_id, fan)

    async def get_fan(self, fan_id: str) -> FanIn | None:
        return self._fans.get(fan_id)

    async def add_fan_children(self, fan_id: str, children: Sequence[tuple[int, Execution]]) -> FanIn:
        fan = self._fans[fan_id]
        parent = self._executions.get(fan.parent_id)
        if parent is None or parent.status not in ACTIVE_STATUSES:
            return fan
        members = self._fan_members[fan_id]
        fresh = [(index, child) for index, child in children if index not in members]
        for index, child in fresh:
            members[index] = child.id
            self._joins[child.id] = (fan_id, index)
            self._executions[child.id] = child.copy()
        fan = self._fans[fan_id] = replace(fan, started=fan.started + len(fresh))
        return fan

    async def fan_children(
        self, fan_id: str, *, running: bool = False, limit: int | None = None
    ) -> list[tuple[int, Execution]]:
        members = self._fan_members.get(fan_id, {})
        found = [
            (index, self._executions[child_id].copy())
            for index, child_id in sorted(members.items())
            if not (running and child_id in self._ended)
        ]
        return found if limit is None else found[:limit]

    async def fans_of(self, parent_id: str) -> list[FanIn]:
        return [fan for fan in self._fans.values() if fan.parent_id == parent_id]

    def _child_ended(self, change: Change, parent_id: str) -> None:
        """In the child's commit: count its end; wake the parent if a threshold is crossed."""
        child_id = change.execution_id
        join = self._joins.get(child_id)
        if join is None:
            self._wake_parent(parent_id, change.at)
            return
        if child_id in self._ended:
            return
        self._ended.add(child_id)
        before = self._fans[join[0]]
        failed = int(change.value("status") is not ExecutionStatus.COMPLETED)
        after = self._fans[join[0]] = before.ended(failed, 1 - failed)
        if wakes_parent(before, after):
            self._wake_parent(parent_id, change.at)

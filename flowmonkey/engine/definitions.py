"""Flow definitions by hash: the exact definition an execution started on, even after a
hot reload replaced it, saved to the store once per process and cached."""

from __future__ import annotations

from flowmonkey.errors import FlowNotFoundError
from flowmonkey.model import Execution, Flow
from flowmonkey.registry import FlowRegistry
from flowmonkey.stores.base import DefinitionStore


class Definitions:
    """Saves the definitions executions are pinned to, and finds them again by hash."""

    __slots__ = ("_by_hash", "_flows", "_saved", "_store")

    def __init__(self, store: DefinitionStore, flows: FlowRegistry) -> None:
        self._store = store
        self._flows = flows
        self._saved: set[str] = set()
        self._by_hash: dict[str, Flow] = {}

    async def save(self, flow: Flow) -> None:
        """Keep ``flow`` in the store under its hash (once per process)."""
        if flow.hash not in self._saved:
            await self._store.save_definition(flow)
            self._saved.add(flow.hash)
            self._by_hash[flow.hash] = flow

    def cached(self, flow_hash: str) -> Flow | None:
        """The definition if this process has it at hand (no await: every step asks)."""
        return self._by_hash.get(flow_hash)

    async def flow_of(self, execution: Execution) -> Flow:
        """The exact definition the execution started on (by hash), even if since replaced."""
        return await self.by_hash(
            execution.flow_hash, f"of flow {execution.flow_id!r} {execution.flow_version}"
        )

    async def by_hash(self, flow_hash: str, what: str = "") -> Flow:
        """The definition with that hash: cached, registered or stored."""
        flow = self._by_hash.get(flow_hash) or self._flows.by_hash(flow_hash)
        if flow is None:
            flow = await self._store.get_definition(flow_hash)
        if flow is None:
            raise FlowNotFoundError(
                f"definition {flow_hash[:12]} {what + ' ' if what else ''}is neither registered nor stored"
            )
        self._by_hash[flow.hash] = flow
        return flow

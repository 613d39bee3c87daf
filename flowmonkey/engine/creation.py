"""Starting executions: the flow version pinned by hash, the idempotency key, the timeouts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flowmonkey import jsonvalues
from flowmonkey.engine.clock import Clock
from flowmonkey.engine.definitions import Definitions
from flowmonkey.engine.limits import Limits
from flowmonkey.engine.notify import Emitter, WakeListeners
from flowmonkey.events import EventType
from flowmonkey.ids import new_id
from flowmonkey.model import Execution, ExecutionStatus, Flow, TimeoutConfig
from flowmonkey.observers import TRACE_METADATA_KEY, TraceContext
from flowmonkey.registry import FlowRegistry
from flowmonkey.state import initial_timeout_at
from flowmonkey.stores.base import CreateResult, ExecutionStore

DEFAULT_IDEMPOTENCY_TTL = timedelta(hours=24)


@dataclass(frozen=True, slots=True, kw_only=True)
class Start:
    """What to start: a flow (its latest or a given version) with a first context."""

    flow_id: str
    context: Mapping[str, Any] = field(default_factory=dict)
    version: str | None = None
    idempotency_key: str | None = None
    idempotency_ttl: timedelta = DEFAULT_IDEMPOTENCY_TTL
    tenant_id: str | None = None
    parent_execution_id: str | None = None
    parent_step_id: str | None = None
    timeout: TimeoutConfig | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    definition: Flow | None = None
    """The exact definition to run (a fork's pinned one), instead of a registered version."""
    step_id: str | None = None
    """Where to start (a fork's step), instead of the flow's first step."""


class Creator:
    """Creates executions, honouring idempotency keys (the store decides under races)."""

    __slots__ = ("_clock", "_definitions", "_emitter", "_flows", "_limits", "_store", "_wakes", "origin")

    def __init__(
        self,
        store: ExecutionStore,
        flows: FlowRegistry,
        definitions: Definitions,
        limits: Limits,
        notify: tuple[Clock, Emitter, WakeListeners],
    ) -> None:
        self._store = store
        self._flows = flows
        self._definitions = definitions
        self._limits = limits
        self._clock, self._emitter, self._wakes = notify
        self.origin: Callable[[], TraceContext | None] | None = None
        """What the trace context of whatever creates an execution now is (the observer's)."""

    async def create(self, start: Start) -> CreateResult:
        """Start an execution of the flow's latest (or given) version, pinned by hash.

        With an idempotency key, a second create in the same (tenant, flow) within the
        key's TTL returns the first execution with ``created=False``.
        """
        flow = start.definition or self._flows.get(start.flow_id, start.version)
        jsonvalues.check(start.context, what="the context")  # refused before anything is stored
        jsonvalues.check(start.metadata, what="the metadata")
        context = dict(start.context)
        self._limits.check(context)
        await self._definitions.save(flow)
        execution = self.new(flow, context, start)
        result = await self._store.create_execution(execution, now=execution.created_at)
        if result.created:
            self._emitter.emit(EventType.EXECUTION_CREATED, result.execution, version=flow.version)
            self._wakes.signal(result.execution.id)
        else:
            self._emitter.emit(EventType.IDEMPOTENCY_HIT, result.execution, key=start.idempotency_key)
        return result

    def new(self, flow: Flow, context: dict[str, Any], start: Start) -> Execution:
        """The pending execution ``start`` describes, of exactly ``flow`` (not yet stored)."""
        now = self._clock.now()
        key = start.idempotency_key
        execution = Execution(
            id=new_id(int(now.timestamp() * 1000)),
            flow_id=flow.id,
            flow_version=flow.version,
            flow_hash=flow.hash,
            status=ExecutionStatus.PENDING,
            current_step_id=start.step_id or flow.initial_step_id,
            context=context,
            created_at=now,
            updated_at=now,
            timeout=_timeouts(flow, start.timeout),
            idempotency_key=key,
            idempotency_expires_at=now + start.idempotency_ttl if key else None,
            tenant_id=start.tenant_id,
            parent_execution_id=start.parent_execution_id,
            parent_step_id=start.parent_step_id,
            metadata=self._metadata(start),
        )
        execution.timeout_at = initial_timeout_at(execution)
        return execution

    def _metadata(self, start: Start) -> dict[str, Any]:
        """The given metadata, with the trace context of the request that creates it."""
        metadata = dict(start.metadata)
        origin = self.origin() if self.origin is not None else None
        if origin is not None:
            metadata[TRACE_METADATA_KEY] = dict(origin)
        return metadata


def _timeouts(flow: Flow, given: TimeoutConfig | None) -> TimeoutConfig:
    """The given timeouts; the flow's ``timeout`` fills in a missing execution timeout."""
    if given is None:
        return TimeoutConfig(execution=flow.timeout)
    if given.execution is None and flow.timeout is not None:
        return TimeoutConfig(execution=flow.timeout, wait=given.wait)
    return given

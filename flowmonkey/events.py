"""Typed engine events and the in-process event bus.

A subscriber's failure never reaches the engine: it is logged and the bus moves on.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from flowmonkey.model import utcnow

log = logging.getLogger("flowmonkey.events")


class EventType(StrEnum):
    EXECUTION_CREATED = "execution.created"
    EXECUTION_STARTED = "execution.started"
    EXECUTION_WAITING = "execution.waiting"
    EXECUTION_RESUMED = "execution.resumed"
    EXECUTION_COMPLETED = "execution.completed"
    EXECUTION_FAILED = "execution.failed"
    EXECUTION_CANCELLED = "execution.cancelled"
    EXECUTION_TAKEN_OVER = "execution.taken_over"
    STEP_STARTED = "step.started"
    STEP_COMPLETED = "step.completed"
    STEP_FAILED = "step.failed"
    STEP_RETRY = "step.retry"
    STEP_TIMEOUT = "step.timeout"
    TRANSITION = "transition"
    IDEMPOTENCY_HIT = "idempotency.hit"
    FLOW_REGISTERED = "flow.registered"
    FLOW_RELOADED = "flow.reloaded"
    FLOW_INVALID = "flow.invalid"
    FLOW_RETIRED = "flow.retired"
    TRIGGER_FIRED = "trigger.fired"
    TRIGGER_FAILED = "trigger.failed"
    JOB_ENQUEUED = "job.enqueued"
    JOB_STARTED = "job.started"
    JOB_COMPLETED = "job.completed"
    JOB_FAILED = "job.failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Something that happened; ``data`` holds the event-specific fields."""

    type: EventType
    at: datetime = field(default_factory=utcnow)
    execution_id: str | None = None
    flow_id: str | None = None
    step_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "at": self.at.isoformat(),
            "execution_id": self.execution_id,
            "flow_id": self.flow_id,
            "step_id": self.step_id,
            "data": self.data,
        }


Subscriber = Callable[[Event], Any]


class EventBus:
    """Fan-out of events to subscribers, sync or async, each isolated from the others."""

    def __init__(self) -> None:
        self._subscribers: list[tuple[Subscriber, frozenset[EventType] | None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._wanted: frozenset[EventType] = frozenset()

    @property
    def active(self) -> bool:
        """Whether anyone listens; the engine skips building events when nobody does."""
        return bool(self._subscribers)

    def wants(self, kind: EventType) -> bool:
        """Whether anyone listens to ``kind``: an event no one wants is never built (a
        worker that logs only lifecycle events builds none per step)."""
        return kind in self._wanted

    def _subscribed(self) -> None:
        wanted: set[EventType] = set()
        for _, types in self._subscribers:
            wanted.update(EventType if types is None else types)
        self._wanted = frozenset(wanted)

    def subscribe(
        self, subscriber: Subscriber, types: Iterable[EventType | str] | None = None
    ) -> Callable[[], None]:
        """Call ``subscriber(event)`` for each event (of ``types``); returns an unsubscribe."""
        wanted = frozenset(EventType(t) for t in types) if types is not None else None
        entry = (subscriber, wanted)
        self._subscribers.append(entry)
        self._subscribed()

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers.remove(entry)
                self._subscribed()

        return unsubscribe

    def emit(self, event: Event) -> None:
        for subscriber, wanted in list(self._subscribers):
            if wanted is not None and event.type not in wanted:
                continue
            try:
                outcome = subscriber(event)
                if outcome is not None and inspect.isawaitable(outcome):
                    self._track(outcome)
            except Exception:
                log.exception("event subscriber %r failed on %s", subscriber, event.type)

    def _track(self, awaitable: Any) -> None:
        async def guarded() -> None:
            try:
                await awaitable
            except Exception:
                log.exception("async event subscriber failed")

        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

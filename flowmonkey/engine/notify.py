"""How the engine tells the rest of the process what happened: typed events on the bus,
and wake signals for runtimes sleeping until an execution becomes runnable."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flowmonkey.engine.clock import Clock
from flowmonkey.events import Event, EventBus, EventType
from flowmonkey.model import Execution

log = logging.getLogger("flowmonkey.engine")

WakeListener = Callable[[str, datetime | None], None]


class Emitter:
    """Publishes engine events stamped with the engine's clock (nothing when no one listens)."""

    __slots__ = ("_clock", "bus")

    def __init__(self, bus: EventBus, clock: Clock) -> None:
        self.bus = bus
        self._clock = clock

    @property
    def active(self) -> bool:
        return self.bus.active

    def emit(self, kind: EventType, execution: Execution, step_id: str | None = None, **data: Any) -> None:
        if self.bus.wants(kind):
            self.bus.emit(
                Event(
                    type=kind,
                    at=self._clock.now(),
                    execution_id=execution.id,
                    flow_id=execution.flow_id,
                    step_id=step_id,
                    data=data,
                )
            )


class WakeListeners:
    """Calls every listener with ``(execution_id, wake_at)`` when an execution becomes
    runnable (``wake_at`` None) or schedules a wake; a listener's failure is logged."""

    __slots__ = ("_listeners",)

    def __init__(self) -> None:
        self._listeners: list[WakeListener] = []

    def add(self, listener: WakeListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def signal(self, execution_id: str, wake_at: datetime | None = None) -> None:
        for listener in self._listeners:
            try:
                listener(execution_id, wake_at)
            except Exception:
                log.exception("wake listener failed")

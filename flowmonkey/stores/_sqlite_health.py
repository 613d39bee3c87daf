"""Flow health on SQLite: the bounded queries of :mod:`flowmonkey.stores.health`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from flowmonkey.stores import health
from flowmonkey.stores._sqlite_ops import SQL, enc

T = TypeVar("T")


class SQLiteHealth:
    """``flow_health`` and ``step_health`` of the SQLite store, on its reader connection."""

    async def _read(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError  # the store's own

    async def flow_health(self, flow_id: str, *, since: datetime, until: datetime) -> health.FlowHealth:
        return await self._read("flow_health", _flow_health, flow_id, since, until)

    async def step_health(self, flow_id: str, *, since: datetime, until: datetime) -> list[health.StepHealth]:
        return await self._read("step_health", _step_health, flow_id, since, until)


def _window(flow_id: str, since: datetime, until: datetime, limit: int) -> dict[str, Any]:
    return {"flow": flow_id, "since": enc(since), "until": enc(until), "limit": limit}


def _flow_health(
    conn: sqlite3.Connection, flow_id: str, since: datetime, until: datetime
) -> health.FlowHealth:
    window = _window(flow_id, since, until, health.DURATION_SAMPLE)
    finished = conn.execute(SQL["health_finished"], window).fetchall()
    durations = conn.execute(SQL["health_durations"], window).fetchall()
    started = conn.execute(SQL["health_started"], window).fetchall()
    return health.flow_health(
        flow_id,
        finished=finished,
        durations_ms=[micros / 1000 for (micros,) in durations],
        started=started,
        minutes=health.minutes_in(since, until),
    )


def _step_health(
    conn: sqlite3.Connection, flow_id: str, since: datetime, until: datetime
) -> list[health.StepHealth]:
    rows = conn.execute(SQL["health_steps"], _window(flow_id, since, until, health.STEP_SAMPLE))
    return health.step_health((step, outcome, micros / 1000) for step, outcome, micros in rows)

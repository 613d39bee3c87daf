"""Flow health on PostgreSQL: the bounded queries of :mod:`flowmonkey.stores.health`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flowmonkey.stores import health
from flowmonkey.stores._pg_sql import SQL


class PostgresHealth:
    """``flow_health`` and ``step_health`` of the PostgreSQL store."""

    async def _fetch(self, what: str, query: str, *args: Any) -> list[Any]:
        raise NotImplementedError  # the store's own

    async def flow_health(self, flow_id: str, *, since: datetime, until: datetime) -> health.FlowHealth:
        window = (flow_id, since, until)
        finished = await self._fetch("flow_health", SQL["health_finished"], *window)
        durations = await self._fetch("flow_health", SQL["health_durations"], *window, health.DURATION_SAMPLE)
        started = await self._fetch("flow_health", SQL["health_started"], *window)
        return health.flow_health(
            flow_id,
            finished=[(status, n) for status, n in finished],
            durations_ms=[ms for (ms,) in durations],
            started=[(minute, n) for minute, n in started],
            minutes=health.minutes_in(since, until),
        )

    async def step_health(self, flow_id: str, *, since: datetime, until: datetime) -> list[health.StepHealth]:
        rows = await self._fetch(
            "step_health", SQL["health_steps"], flow_id, since, until, health.STEP_SAMPLE
        )
        return health.step_health((step, outcome, ms) for step, outcome, ms in rows)

"""A large PostgreSQL store counts its unfinished executions and estimates the finished
ones (a console refreshes its counts often; counting a million rows takes ~110 ms)."""

from __future__ import annotations

import asyncpg
import pytest
from rich.text import Text

from flowmonkey.model import ExecutionStatus
from flowmonkey.stores import ExecutionCounts, ExecutionQuery, open_store
from flowmonkey.stores._pg_counts import ESTIMATE_FROM_ROWS
from flowmonkey_console.format import count_text

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]

FILL = """
INSERT INTO executions (id, flow_id, flow_version, flow_hash, status, context, created_at, updated_at,
    revision, step_count, attempt, metadata)
SELECT '00' || lpad(i::text, 24, '0'), 'f', '1.0.0', 'h',
    CASE WHEN i % 10 = 0 THEN 'failed' WHEN i % 1000 = 1 THEN 'waiting' ELSE 'completed' END,
    '{}'::jsonb, now(), now(), 1, 1, 1, '{}'::jsonb
FROM generate_series(1, $1) AS i
"""


async def test_a_large_table_estimates_the_finished_and_counts_the_rest(postgres_database: str) -> None:
    rows = ESTIMATE_FROM_ROWS + 20_000
    async with open_store(postgres_database) as store:
        small = await store.count_executions()
        assert not getattr(small, "estimated", frozenset())  # an empty table is counted
        conn = await asyncpg.connect(postgres_database)
        try:
            await conn.execute(FILL, rows)
            await conn.execute("ANALYZE executions")
        finally:
            await conn.close()
        counts = await store.count_executions()
        assert counts[ExecutionStatus.WAITING] == rows // 1000  # exact
        assert counts[ExecutionStatus.RUNNING] == 0
        failed, completed = rows // 10, rows - rows // 10 - (rows // 1000)
        assert counts[ExecutionStatus.FAILED] == pytest.approx(failed, rel=0.1)
        assert counts[ExecutionStatus.COMPLETED] == pytest.approx(completed, rel=0.1)
        assert isinstance(counts, ExecutionCounts)
        assert counts.estimated == {s for s in ExecutionStatus if s.is_terminal}
        filtered = await store.count_executions(ExecutionQuery(flow_id="f"))
        assert filtered[ExecutionStatus.FAILED] == failed  # a filter is counted exactly
        assert not getattr(filtered, "estimated", frozenset())
    line = count_text(counts).plain
    assert "about " in line and f"◷ {rows // 1000:,} waiting" in line
    assert isinstance(count_text(filtered), Text) and "about" not in count_text(filtered).plain

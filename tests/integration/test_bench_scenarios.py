"""A short smoke of each ``flowmonkey bench`` scenario (benchmarks, not timed tests: the
numbers are only checked to be there and consistent; what was stored is checked too)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flowmonkey.model import ExecutionStatus, StepStatus
from flowmonkey.stores import open_store


def _bench(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "flowmonkey.bench", "--json", "--concurrency", "4", "--warmup", "2", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout)
    assert result["steps_per_s"] > 0 and result["p99_ms"] >= result["p50_ms"] > 0
    return result


async def _stored(url: str) -> tuple[dict[ExecutionStatus, int], list[Any]]:
    async with open_store(url) as store:
        counts = await store.count_executions()
        page = await store.list_executions(limit=1)
        return counts, await store.history(page.items[0].id)


@pytest.mark.asyncio
@pytest.mark.parametrize("scenario", ["steps", "realistic", "resume"])
async def test_each_in_process_scenario_runs_and_counts_round_trips(scenario: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/bench.db"
    result = _bench("--store", url, "--scenario", scenario, "--executions", "6", "--steps", "3")
    assert result["workers"] == 0 and result["scenario"] == scenario
    assert result["round_trips_per_step"] > 0 and result["engine_us_per_step"] > 0
    assert result["row_us_per_step"] > 0
    assert result["storage_limit_rows_per_s"] is None  # only with --limits
    counts, history = await _stored(url)
    assert counts[ExecutionStatus.COMPLETED] == 8  # two warm-up executions and six measured
    done = [r.step_id for r in history if r.outcome is StepStatus.COMPLETED]
    assert done == (["s0"] if scenario == "resume" else ["s0", "s1", "s2"])  # resume: one step after


@pytest.mark.asyncio
async def test_worker_scenario_on_sqlite_runs_in_worker_processes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/bench.db"
    result = _bench(
        "--store", url, "--scenario", "worker", "--workers", "2", "--executions", "10", "--steps", "3"
    )
    assert result["workers"] == 2 and result["steps_per_execution"] == 3
    # Every step is stored, and every process's round trips are summed: at least one
    # for the creates and one per claim, so more than none per step.
    assert result["round_trips_per_step"] > 0
    counts, history = await _stored(url)
    assert counts[ExecutionStatus.COMPLETED] == 12
    assert sum(counts.values()) == 12
    assert [r.step_id for r in history if r.outcome is StepStatus.COMPLETED] == ["s0", "s1", "s2"]


@pytest.mark.asyncio
async def test_worker_scenario_on_postgres_realistic_flow(postgres_database: str) -> None:
    result = _bench(
        "--store",
        postgres_database,
        "--scenario",
        "realistic",
        "--workers",
        "1",
        "--executions",
        "5",
        "--steps",
        "2",
    )
    assert result["workers"] == 1 and result["scenario"] == "realistic"
    counts, history = await _stored(postgres_database)
    assert counts[ExecutionStatus.COMPLETED] == 7
    summary = history[-1].output
    assert summary["step"] == "s1" and summary["city"] == "London" and "final_line" in summary


def test_resume_refuses_workers(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "flowmonkey.bench",
            "--scenario",
            "resume",
            "--workers",
            "1",
            "--executions",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and "resume runs in this process only" in out.stderr

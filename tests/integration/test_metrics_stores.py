"""The metrics of one engine on each store: the same counts everywhere, commit batches
from the stores that group commits (SQLite, PostgreSQL), store-wide gauges counted."""

from __future__ import annotations

import asyncio

from flowmonkey import Engine, Flow, Observability
from flowmonkey.stores import open_store
from flowmonkey.stores.base import BatchedCommits
from tests.unit.helpers import BASIC, chain


def metric(observability: Observability, name: str, **labels: str) -> float:
    assert observability.metrics is not None
    return observability.metrics.registry.get_sample_value(name, labels) or 0.0


async def test_every_store_reports_the_same_counts_and_its_commit_batches(store_url: str) -> None:
    async with open_store(store_url) as store:
        engine = Engine(store, BASIC, [Flow.from_dict(chain("orders", ["echo", "echo", "echo"]))])
        observability = Observability.build(store, tracing=False)
        observability.install(engine)
        created = [(await engine.create("orders", {"n": n}))[0] for n in range(6)]
        await asyncio.gather(*(engine.run(execution.id) for execution in created))
        assert observability.metrics is not None
        await observability.metrics.refresh()
    assert metric(observability, "flowmonkey_executions_started_total", flow="orders") == 6
    assert (
        metric(observability, "flowmonkey_executions_finished_total", flow="orders", status="completed") == 6
    )
    for step in ("s0", "s1", "s2"):
        assert metric(observability, "flowmonkey_step_duration_seconds_count", flow="orders", step=step) == 6
    assert metric(observability, "flowmonkey_commit_duration_seconds_count") == 18
    assert metric(observability, "flowmonkey_store_executions", status="completed") == 6
    batches = metric(observability, "flowmonkey_commit_batch_size_count")
    batched = metric(observability, "flowmonkey_commit_batch_size_sum")
    if isinstance(store, BatchedCommits):
        # Every step commit went through a batch (SQLite's batches carry its other writes too).
        assert batches >= 1 and batched >= 18
    else:
        assert batches == 0  # the memory store writes each commit on its own

"""Observer hooks: what the engine, the runtime and the triggers report, counted by the
Prometheus observer into a registry of its own (read back with ``get_sample_value``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from flowmonkey import Engine, Flow, MemoryStore
from flowmonkey.metrics import PrometheusObserver, error_code_label
from flowmonkey.model import Execution, StepRecord
from flowmonkey.observers import Observer, Observers, combine
from flowmonkey.stores.base import Claim
from flowmonkey.triggers import TriggerService
from tests.unit.conftest import FakeClock
from tests.unit.helpers import BASIC, chain

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def metric(observer: PrometheusObserver, name: str, **labels: str) -> float:
    return observer.registry.get_sample_value(name, labels) or 0.0


class Recorder(Observer):
    """Writes down which hooks ran."""

    def __init__(self, name: str, calls: list[str]) -> None:
        self.name = name
        self.calls = calls

    def committed(self, execution: Execution, record: StepRecord, seconds: float) -> None:
        self.calls.append(f"{self.name}.committed {record.step_id} {record.outcome.value}")

    @contextlib.contextmanager
    def step(self, execution: Execution, step_id: str) -> Iterator[None]:
        self.calls.append(f"{self.name}.step {step_id}")
        yield
        self.calls.append(f"{self.name}.step done")


async def test_the_engine_calls_each_observer_around_the_step_and_after_its_commit() -> None:
    calls: list[str] = []
    quiet = Observer()  # has no hook of its own: never called
    engine = Engine(MemoryStore(), BASIC, [Flow.from_dict(chain("orders", ["echo"]))])
    engine.observe(Observers([Recorder("a", calls), quiet, Recorder("b", calls)]))
    execution, _ = await engine.create("orders", {"x": 1})
    await engine.run(execution.id)
    assert calls == [
        "a.step s0",
        "b.step s0",
        "a.committed s0 completed",
        "b.committed s0 completed",
        "b.step done",
        "a.step done",
    ]


class Skipper(Recorder):
    """Has nothing to do around a step (its ``step`` returns None), only after commits."""

    def step(self, execution: Execution, step_id: str) -> None:  # type: ignore[override]
        self.calls.append(f"{self.name}.step skipped")


async def test_an_observer_with_nothing_around_a_step_is_passed_over_and_the_others_still_run() -> None:
    calls: list[str] = []
    engine = Engine(MemoryStore(), BASIC, [Flow.from_dict(chain("orders", ["echo", "echo", "echo"]))])
    engine.observe(Observers([Skipper("a", calls), Recorder("b", calls), Skipper("c", calls)]))
    execution, _ = await engine.create("orders", {"x": 1})
    await engine.run(execution.id)
    first = calls[: calls.index("c.committed s0 completed") + 1]
    assert first == [  # each is asked in order; then what b returned is entered
        "a.step skipped",
        "c.step skipped",
        "b.step s0",
        "a.committed s0 completed",
        "b.committed s0 completed",
        "c.committed s0 completed",
    ]
    assert calls.count("b.step done") == 3 and calls.count("c.committed s2 completed") == 1
    calls.clear()
    engine.observe(Observers([Skipper("a", calls), Skipper("b", calls)]))  # none has a manager
    execution, _ = await engine.create("orders", {"x": 2})
    assert (await engine.run(execution.id)).status.value == "completed"
    assert calls[:3] == ["a.step skipped", "b.step skipped", "a.committed s0 completed"]


def test_combine_gives_one_observer_or_none() -> None:
    only = Observer()
    assert combine([None, None]) is None
    assert combine([None, only]) is only
    both = combine([only, Observer()])
    assert isinstance(both, Observers) and len(both.observers) == 2


def test_error_codes_outside_flowmonkeys_own_count_as_other() -> None:
    assert [error_code_label(code) for code in ("HTTP_ERROR", "STEP_TIMEOUT", "CARD_DECLINED", None)] == [
        "HTTP_ERROR",
        "STEP_TIMEOUT",
        "other",
        "other",
    ]


async def test_trigger_fires_by_outcome_and_the_lateness_of_a_cron_slot() -> None:
    clock = FakeClock(START)
    store = MemoryStore()
    engine = Engine(store, BASIC, [Flow.from_dict(chain("orders", ["echo"]))], clock=clock)
    metrics = PrometheusObserver()
    engine.observe(metrics)
    service = TriggerService(store, engine, schedule=None)
    await service.register("every10", type="schedule", flow_id="orders", config={"cron": "*/10 * * * *"})
    await service.register("manual", type="http", flow_id="orders")
    clock.advance(minutes=10, seconds=7)  # the slot of 9:10 starts 7 s late
    [slot] = await service.tick(clock.now)
    assert slot.created
    await service.fire("manual", {"n": 1}, idempotency_key="k")
    await service.fire("manual", {"n": 1}, idempotency_key="k")  # an idempotent repeat
    assert metric(metrics, "flowmonkey_schedule_lateness_seconds_sum", trigger="every10") == 7
    assert metric(metrics, "flowmonkey_schedule_lateness_seconds_count", trigger="every10") == 1
    assert metric(metrics, "flowmonkey_trigger_fires_total", trigger="every10", outcome="ok") == 1
    assert metric(metrics, "flowmonkey_trigger_fires_total", trigger="manual", outcome="ok") == 1
    assert metric(metrics, "flowmonkey_trigger_fires_total", trigger="manual", outcome="duplicate") == 1


async def test_a_takeover_is_counted_once_by_flow() -> None:
    clock = FakeClock(START)
    store = MemoryStore()
    engine = Engine(store, BASIC, [Flow.from_dict(chain("orders", ["echo"]))], clock=clock)
    metrics = PrometheusObserver(count_by_status=store.count_executions)
    engine.observe(metrics)
    execution, _ = await engine.create("orders")
    [lost] = await store.claim(owner="lost", now=clock.now, lease=timedelta(seconds=30), limit=1)
    clock.advance(seconds=31)
    [claim] = await store.claim(owner="next", now=clock.now, lease=timedelta(seconds=30), limit=1)
    assert isinstance(claim, Claim) and claim.taken_from == "lost" and lost.execution.id == execution.id
    assert await engine.take_over(claim) is not None
    await engine.run(execution.id)  # the new owner runs the step again
    await metrics.refresh()
    assert metric(metrics, "flowmonkey_takeovers_total", flow="orders") == 1
    assert metric(metrics, "flowmonkey_executions_started_total", flow="orders") == 1
    assert metric(metrics, "flowmonkey_executions_finished_total", flow="orders", status="completed") == 1
    assert metric(metrics, "flowmonkey_store_executions", status="completed") == 1
    assert metric(metrics, "flowmonkey_store_executions", status="pending") == 0


async def test_metrics_switched_off_answer_404_saying_so() -> None:
    from starlette.requests import Request

    from flowmonkey.metrics import METRICS_OFF, metrics_endpoint

    request = Request({"type": "http", "method": "GET", "path": "/metrics", "headers": []})
    response = await metrics_endpoint(None)(request)
    assert response.status_code == 404 and bytes(response.body).decode() == METRICS_OFF

"""``flowmonkey bench``: how many durable steps per second a store sustains.

Runs ``--executions`` executions of an N-step flow of trivial handlers, ``--concurrency``
at a time, and reports steps/s, executions/s and per-execution latency (p50/p99).
``--scenario resume`` instead parks every execution in a wait first, then measures
resume → next step done. ``--scenario map`` runs one map step over ``--executions``
elements (each a child execution of a one-step flow, ``--concurrency`` at once) with one
in-process worker (:mod:`flowmonkey.bench_map`). ``--warmup`` executions run first, unmeasured, so that caches
and prepared statements are warm. Without ``--store`` it uses a fresh temporary SQLite
file, so runs are repeatable::

    python -m flowmonkey.bench --store sqlite:///bench.db --executions 500 --concurrency 50
    python -m flowmonkey.bench --store postgresql://postgres@127.0.0.1/test --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any

from flowmonkey import bench_map
from flowmonkey.defaults import Engine
from flowmonkey.errors import FlowMonkeyError, StoreURLError
from flowmonkey.metrics import INSTALL_HINT, metrics_available
from flowmonkey.model import ExecutionStatus, Flow
from flowmonkey.observability import Observability
from flowmonkey.params import HandlerParams
from flowmonkey.registry import handler
from flowmonkey.result import Result, StepResult
from flowmonkey.stores import Store, open_store
from flowmonkey.tracing import INSTALL_HINT as TRACING_HINT
from flowmonkey.tracing import OpenTelemetryObserver, tracing_available

SCENARIOS = ("steps", "resume", "map")


class BenchmarkError(Exception):
    """A benchmark execution did not complete, so the numbers would mean nothing. Not a
    FlowMonkeyError: the library worked; the measurement is what failed."""


@handler("bench.noop")
async def _noop(params: HandlerParams) -> StepResult:
    return Result.success(None)


@handler("bench.wait")
async def _wait(params: HandlerParams) -> StepResult:
    return Result.wait(reason="benchmark")


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchResult:
    """What one benchmark run measured (the ``--json`` keys)."""

    store: str
    scenario: str
    steps_per_execution: int
    executions: int
    concurrency: int
    warmup: int
    seconds: float
    executions_per_s: float
    steps_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_step: float
    """CPU time of this process (every thread) per step: on a shared machine a steadier
    measure of the cost of a step than the wall-clock throughput."""
    metrics: bool = False
    tracing: float | None = None
    """The share of run segments traced (None: no tracing)."""


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``bench`` options to ``parser``."""
    parser.add_argument(
        "--store",
        default=None,
        help="store URL (default: a fresh temporary SQLite file; FLOWMONKEY_STORE is ignored, so a bench never writes into a working database)",
    )
    parser.add_argument("--steps", type=_positive, default=10, help="steps per execution (default 10)")
    parser.add_argument("--executions", type=_positive, default=500, help="executions to run (default 500)")
    parser.add_argument("--concurrency", type=_positive, default=50, help="executions in flight (default 50)")
    parser.add_argument("--scenario", choices=SCENARIOS, default="steps", help="what to measure")
    parser.add_argument(
        "--warmup",
        type=_not_negative,
        default=50,
        help="executions run first and not measured (caches, prepared statements; default 50)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="collect Prometheus metrics meanwhile (needs prometheus-client)",
    )
    parser.add_argument(
        "--tracing",
        action="store_true",
        help="record OpenTelemetry spans meanwhile (an SDK provider that exports nowhere, if "
        "opentelemetry-sdk is installed; else the API's no-op spans)",
    )
    parser.add_argument(
        "--tracing-ratio",
        type=float,
        default=1.0,
        metavar="RATIO",
        help="with --tracing: the share of run segments sampled (default 1: every one)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the benchmark described by ``args``; print the result; return the exit code."""
    if args.scenario == "map":
        return _run_map(args)
    try:
        result = asyncio.run(
            bench(
                store_url=args.store,
                steps=args.steps,
                executions=args.executions,
                concurrency=args.concurrency,
                scenario=args.scenario,
                warmup=args.warmup,
                progress=sys.stderr.isatty(),
                metrics=args.metrics,
                tracing=args.tracing_ratio if args.tracing else None,
            )
        )
    except StoreURLError as exc:
        print(f"flowmonkey bench: {exc}", file=sys.stderr)
        return 2
    except (FlowMonkeyError, BenchmarkError) as exc:
        print(f"flowmonkey bench: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(result)) if args.json else _describe(result))
    return 0


async def bench(
    *,
    store_url: str | None = None,
    steps: int = 10,
    executions: int = 500,
    concurrency: int = 50,
    scenario: str = "steps",
    warmup: int = 50,
    progress: bool = False,
    metrics: bool = False,
    tracing: float | None = None,
) -> BenchResult:
    """Measure one scenario on a store; see the module docstring. ``metrics`` and
    ``tracing`` observe the engine as a worker with them switched on does."""
    async with _store(store_url) as store:
        flow = _flow(steps if scenario == "steps" else 1, waits=scenario == "resume")
        engine = Engine(store, [_noop, _wait], [flow])
        _observe(engine, metrics=metrics, tracing=tracing)
        measure = _steps_scenario if scenario == "steps" else _resume_scenario
        if warmup:
            await measure(engine, flow.id, warmup, concurrency, False)
        cpu_started = time.process_time()
        seconds, latencies = await measure(engine, flow.id, executions, concurrency, progress)
        cpu = time.process_time() - cpu_started
        per_execution = steps if scenario == "steps" else 1
    ordered = sorted(latencies)
    return BenchResult(
        store=store.url,
        scenario=scenario,
        steps_per_execution=per_execution,
        executions=executions,
        concurrency=concurrency,
        warmup=warmup,
        seconds=round(seconds, 4),
        executions_per_s=round(executions / seconds, 1),
        steps_per_s=round(executions * per_execution / seconds, 1),
        p50_ms=round(statistics.median(ordered) * 1000, 3),
        p99_ms=round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3),
        cpu_us_per_step=round(cpu / (executions * per_execution) * 1e6, 1),
        metrics=metrics,
        tracing=tracing,
    )


def _observe(engine: Engine, *, metrics: bool, tracing: float | None) -> None:
    if metrics and not metrics_available():
        raise BenchmarkError(INSTALL_HINT.strip())
    if tracing is not None and not tracing_available():
        raise BenchmarkError(TRACING_HINT)
    observability = Observability.build(engine.store, metrics=metrics, tracing=False)
    if tracing is not None:
        observability.tracing = OpenTelemetryObserver(_discarding_provider(tracing))
    observability.install(engine)


def _discarding_provider(ratio: float) -> Any:
    """An SDK tracer provider sampling ``ratio`` of the traces, whose spans are built,
    batched and dropped (None: no SDK)."""
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
    except ImportError:
        return None

    class Discard(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(ratio)))
    provider.add_span_processor(BatchSpanProcessor(Discard()))
    return provider


@asynccontextmanager
async def _store(url: str | None) -> AsyncIterator[Store]:
    if url is not None:
        async with open_store(url) as store:
            yield store
        return
    directory = tempfile.mkdtemp(prefix="flowmonkey-bench-")
    try:
        async with open_store(f"sqlite:///{directory}/bench.db") as store:
            yield store
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _flow(steps: int, *, waits: bool) -> Flow:
    ids = [f"s{i}" for i in range(steps)]
    body: dict[str, Any] = {
        step_id: {"type": "bench.noop", "transitions": {"onSuccess": ids[i + 1] if i + 1 < steps else None}}
        for i, step_id in enumerate(ids)
    }
    initial = ids[0]
    if waits:
        body["park"] = {"type": "bench.wait", "transitions": {"onResume": ids[0]}}
        initial = "park"
    return Flow.from_dict({"id": "bench", "version": "1.0.0", "initialStepId": initial, "steps": body})


async def _steps_scenario(
    engine: Engine, flow_id: str, executions: int, concurrency: int, progress: bool
) -> tuple[float, list[float]]:
    async def one(_: int) -> None:
        execution, _created = await engine.create(flow_id)
        done = await engine.run(execution.id)
        _expect_completed(done.status, execution.id)

    return await _drive(one, executions, concurrency, progress)


async def _resume_scenario(
    engine: Engine, flow_id: str, executions: int, concurrency: int, progress: bool
) -> tuple[float, list[float]]:
    parked: list[str] = []

    async def park(_: int) -> None:
        execution, _created = await engine.create(flow_id)
        parked.append((await engine.run(execution.id)).id)

    await _drive(park, executions, concurrency, False)

    async def one(i: int) -> None:
        await engine.resume(parked[i])
        done = await engine.run(parked[i])
        _expect_completed(done.status, parked[i])

    return await _drive(one, executions, concurrency, progress)


def _expect_completed(status: ExecutionStatus, execution_id: str) -> None:
    if status is not ExecutionStatus.COMPLETED:
        raise BenchmarkError(f"benchmark execution {execution_id} ended {status.value}, not completed")


async def _drive(
    one: Callable[[int], Awaitable[None]], total: int, concurrency: int, progress: bool
) -> tuple[float, list[float]]:
    """Run ``one(0..total-1)`` with ``concurrency`` in flight; each call's latency and the total time."""
    latencies: list[float] = []
    indexes = iter(range(total))

    async def worker() -> None:
        for i in indexes:
            started = time.perf_counter()
            await one(i)
            latencies.append(time.perf_counter() - started)
            if progress and len(latencies) % 100 == 0:
                print(f"\r{len(latencies)}/{total} executions", end="", file=sys.stderr, flush=True)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, total))))
    seconds = time.perf_counter() - started
    if progress:
        print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)
    return seconds, latencies


def _run_map(args: argparse.Namespace) -> int:
    async def measure() -> tuple[str, bench_map.MapRun]:
        async with _store(args.store) as store:
            if args.warmup:
                await bench_map.run_map(store, min(args.warmup, args.executions), args.concurrency)
            return store.url, await bench_map.run_map(store, args.executions, args.concurrency)

    try:
        url, result = asyncio.run(measure())
    except StoreURLError as exc:
        print(f"flowmonkey bench: {exc}", file=sys.stderr)
        return 2
    except (FlowMonkeyError, bench_map.BenchmarkMapError) as exc:
        print(f"flowmonkey bench: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"store": url, "scenario": "map", **asdict(result)}))
    else:
        print(f"store         {url}\n{bench_map.describe(result)}")
    return 0


def _describe(r: BenchResult) -> str:
    return "\n".join(
        [
            f"store         {r.store}",
            f"scenario      {r.scenario}: {r.executions} executions x {r.steps_per_execution} steps, "
            f"{r.concurrency} in flight",
            f"time          {r.seconds:.3f} s",
            f"throughput    {r.steps_per_s:,.0f} steps/s   {r.executions_per_s:,.0f} executions/s",
            f"latency       p50 {r.p50_ms:.2f} ms   p99 {r.p99_ms:.2f} ms   (per execution)",
            f"cpu           {r.cpu_us_per_step:,.0f} us per step (this process, every thread)",
            f"observed      metrics {'on' if r.metrics else 'off'}, "
            f"tracing {'off' if r.tracing is None else f'{r.tracing:.0%} of segments'}",
        ]
    )


def _not_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected zero or more, got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="flowmonkey bench", description=__doc__.splitlines()[0].replace("``", "")
    )
    configure_parser(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

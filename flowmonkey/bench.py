"""``flowmonkey bench``: how many durable steps per second a store sustains.

Runs ``--executions`` executions of an N-step flow of trivial handlers, ``--concurrency``
at a time, and reports steps/s, executions/s and per-execution latency (p50/p99).
``--scenario resume`` instead parks every execution in a wait first, then measures
resume → next step done. ``--scenario realistic`` runs steps over a 10 KB context that
render a template and transform it (:mod:`flowmonkey.bench_flows`). ``--scenario worker``
(or ``--workers N`` with ``steps`` or ``realistic``) is the production path: a client
process creates the executions and N ``flowmonkey worker`` processes run them
(:mod:`flowmonkey.bench_workers`). Every scenario counts its store round trips per step
(:mod:`flowmonkey.bench_probe`). ``--scenario map`` runs one map step over ``--executions``
elements (each a child execution of a one-step flow, ``--concurrency`` at once) with one
in-process worker (:mod:`flowmonkey.bench_map`). ``--metrics`` and ``--tracing`` observe
the in-process engine (:mod:`flowmonkey.bench_observe`). ``--warmup`` executions run first, unmeasured, so that
caches and prepared statements are warm. Without ``--store`` it uses a fresh temporary
SQLite file, so runs are repeatable::

    python -m flowmonkey.bench --store sqlite:///bench.db --executions 500 --concurrency 50
    python -m flowmonkey.bench --store postgresql://postgres@127.0.0.1/test --json
    python -m flowmonkey.bench --scenario worker --workers 2 --store postgresql://...
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from flowmonkey import bench_map
from flowmonkey.bench_flows import FLOW_ID, initial_context, write_flows
from flowmonkey.bench_limits import row_us, sample_record, storage_limit
from flowmonkey.bench_observe import observe
from flowmonkey.bench_probe import count_round_trips
from flowmonkey.bench_workers import BenchmarkError, BenchProcesses, WorkerRun, run_with_workers
from flowmonkey.defaults import Engine
from flowmonkey.errors import FlowMonkeyError, StoreURLError
from flowmonkey.flowdirectory import FlowDirectory
from flowmonkey.model import ExecutionStatus
from flowmonkey.stores import Store, open_store

SCENARIOS = ("steps", "resume", "realistic", "worker", "map")


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchResult:
    """What one benchmark run measured (the ``--json`` keys).

    ``engine_us_per_step``: CPU time of the FlowMonkey processes (this one in-process; the
    client and the workers otherwise; not the database server's) per step.
    ``row_us_per_step``: of that, the encoding of a step's rows. ``storage_limit_*``: with
    ``--limits``, the rows per second the storage commits with nothing else to do, and
    steps/s as a share of it (:mod:`flowmonkey.bench_limits`).
    """

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
    workers: int
    round_trips_per_step: float
    engine_us_per_step: float
    row_us_per_step: float
    storage_limit_rows_per_s: float | None
    storage_limit_ratio: float | None
    metrics: bool = False
    tracing: float | None = None
    """The share of run segments traced in this process (None: no tracing)."""


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
    parser.add_argument(
        "--workers",
        type=_not_negative,
        default=None,
        help="run the executions in this many `flowmonkey worker` processes, created by a client "
        "process (default: 0, in this process; 1 with --scenario worker)",
    )
    parser.add_argument(
        "--worker-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="pass ARG to each worker process (repeatable; e.g. --worker-arg=--metrics for the switches that turn metrics and tracing on)",
    )
    parser.add_argument(
        "--limits", action="store_true", help="also measure the storage's row-commit limit (about 1 s)"
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
    tracing = args.tracing_ratio if args.tracing else None
    try:
        result = asyncio.run(
            bench(
                store_url=args.store,
                steps=args.steps,
                executions=args.executions,
                concurrency=args.concurrency,
                scenario=args.scenario,
                warmup=args.warmup,
                workers=args.workers,
                worker_args=args.worker_arg,
                limits=args.limits,
                engine_hook=functools.partial(observe, metrics=args.metrics, tracing=tracing),
                progress=sys.stderr.isatty(),
            )
        )
    except StoreURLError as exc:
        print(f"flowmonkey bench: {exc}", file=sys.stderr)
        return 2
    except (FlowMonkeyError, BenchmarkError) as exc:
        print(f"flowmonkey bench: {exc}", file=sys.stderr)
        return 1
    result = replace(result, metrics=args.metrics, tracing=tracing)
    print(json.dumps(asdict(result)) if args.json else _describe(result))
    return 0


def _run_map(args: argparse.Namespace) -> int:
    async def measure() -> tuple[str, bench_map.MapRun]:
        with tempfile.TemporaryDirectory(prefix="flowmonkey-bench-") as directory:
            async with _store(args.store, directory) as store:
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


async def bench(
    *,
    store_url: str | None = None,
    steps: int = 10,
    executions: int = 500,
    concurrency: int = 50,
    scenario: str = "steps",
    warmup: int = 50,
    workers: int | None = None,
    worker_args: Sequence[str] = (),
    limits: bool = False,
    engine_hook: Callable[[Engine], None] | None = None,
    progress: bool = False,
) -> BenchResult:
    """Measure one scenario on a store; see the module docstring. ``engine_hook`` is
    called with the in-process engine before it runs (instrument it: metrics, tracing);
    ``worker_args`` go to each worker process's command line for the same purpose."""
    workers = (1 if scenario == "worker" else 0) if workers is None else workers
    if workers and scenario == "resume":
        raise BenchmarkError("--scenario resume runs in this process only (no --workers)")
    flow_scenario = "steps" if scenario == "worker" else scenario
    per_execution = 1 if scenario == "resume" else steps
    with tempfile.TemporaryDirectory(prefix="flowmonkey-bench-") as directory:
        flows = Path(directory) / "flows"
        flows.mkdir()
        write_flows(flows, scenario=flow_scenario, steps=per_execution)
        async with _store(store_url, directory) as store:
            if workers:
                processes = BenchProcesses(
                    Path(directory), store.url, flow_scenario, workers, concurrency, worker_args
                )
                run = await _with_workers(store, processes, executions, concurrency, warmup)
            else:
                engine = Engine(store)
                if engine_hook is not None:
                    engine_hook(engine)
                run = await _in_process(
                    engine, flows, flow_scenario, executions, concurrency, warmup, progress
                )
            limit = await storage_limit(store.url) if limits else None
    ordered = sorted(run.latencies)
    steps_total = executions * per_execution
    steps_per_s = steps_total / run.seconds
    return BenchResult(
        store=store.url,
        scenario=scenario,
        steps_per_execution=per_execution,
        executions=executions,
        concurrency=concurrency,
        warmup=warmup,
        seconds=round(run.seconds, 4),
        executions_per_s=round(executions / run.seconds, 1),
        steps_per_s=round(steps_per_s, 1),
        p50_ms=round(statistics.median(ordered) * 1000, 3),
        p99_ms=round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3),
        workers=workers,
        round_trips_per_step=round(run.round_trips / steps_total, 3),
        engine_us_per_step=round(run.cpu_s / steps_total * 1e6, 1),
        row_us_per_step=round(row_us(run.sample, sample_record(run.sample)), 2),
        storage_limit_rows_per_s=round(limit) if limit else None,
        storage_limit_ratio=round(steps_per_s / limit, 3) if limit else None,
    )


async def _in_process(
    engine: Engine, flows: Path, scenario: str, executions: int, concurrency: int, warmup: int, progress: bool
) -> WorkerRun:
    await FlowDirectory(flows, engine).load()
    context = initial_context(scenario)
    measure = _resume_scenario if scenario == "resume" else _steps_scenario
    if warmup:
        await measure(engine, warmup, concurrency, False, context)
    cpu = time.process_time()
    with count_round_trips() as trips:
        seconds, latencies = await measure(engine, executions, concurrency, progress, context)
    cpu = time.process_time() - cpu
    sample = (await engine.store.list_executions(limit=1)).items[0]
    return WorkerRun(seconds=seconds, latencies=latencies, round_trips=trips.count, cpu_s=cpu, sample=sample)


async def _with_workers(
    store: Store, processes: BenchProcesses, executions: int, concurrency: int, warmup: int
) -> WorkerRun:
    await processes.start()
    try:
        if warmup:
            await run_with_workers(store, processes, warmup, concurrency)
        return await run_with_workers(store, processes, executions, concurrency)
    finally:
        await processes.stop()


@asynccontextmanager
async def _store(url: str | None, directory: str) -> AsyncIterator[Store]:
    async with open_store(url or f"sqlite:///{directory}/bench.db") as store:
        yield store


async def _steps_scenario(
    engine: Engine, executions: int, concurrency: int, progress: bool, context: dict[str, Any] | None
) -> tuple[float, list[float]]:
    async def one(_: int) -> None:
        execution, _created = await engine.create(FLOW_ID, context)
        done = await engine.run(execution.id)
        _expect_completed(done.status, execution.id)

    return await _drive(one, executions, concurrency, progress)


async def _resume_scenario(
    engine: Engine, executions: int, concurrency: int, progress: bool, context: dict[str, Any] | None
) -> tuple[float, list[float]]:
    parked: list[str] = []

    async def park(_: int) -> None:
        execution, _created = await engine.create(FLOW_ID, context)
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


def _describe(r: BenchResult) -> str:
    return "\n".join(
        [
            f"store         {r.store}",
            f"scenario      {r.scenario}: {r.executions} executions x {r.steps_per_execution} steps, "
            f"{r.concurrency} in flight"
            + (f" in each of {r.workers} worker process(es)" if r.workers else ""),
            f"time          {r.seconds:.3f} s",
            f"throughput    {r.steps_per_s:,.0f} steps/s   {r.executions_per_s:,.0f} executions/s",
            f"latency       p50 {r.p50_ms:.2f} ms   p99 {r.p99_ms:.2f} ms   (per execution)",
            f"per step      {r.engine_us_per_step:,.0f} µs CPU in FlowMonkey ({r.row_us_per_step:.1f} µs row "
            f"encoding), {r.round_trips_per_step:.2f} store round trips",
            *(
                [
                    f"storage       {r.storage_limit_rows_per_s:,.0f} row-commits/s at most; this run used {r.storage_limit_ratio:.0%}"
                ]
                if r.storage_limit_rows_per_s
                else []
            ),
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

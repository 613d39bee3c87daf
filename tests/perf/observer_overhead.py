"""What metrics and tracing cost a no-op step: ``flowmonkey bench`` with them off and on,
alternating in one process, many short rounds, and the median of the per-round ratios.

A shared VM drifts by up to 2x over minutes, so runs minutes apart do not compare; two runs
seconds apart, in one process, mostly do. Each round runs "off" then "on" (or the reverse,
alternately, so warming up favours neither) on a fresh store::

    PYTHONPATH=. python tests/perf/observer_overhead.py --rounds 15 --executions 1500 \\
        [--store memory://] [--tracing-ratio 0.01] [--only metrics|tracing]

Prints steps/s and engine CPU us per step for each run, then the medians of on/off.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

from flowmonkey.bench import BenchResult, bench
from flowmonkey.bench_observe import observe
from flowmonkey.defaults import Engine


async def _once(
    store: str | None, executions: int, on: bool, metrics: bool, ratio: float | None
) -> BenchResult:
    def hook(engine: Engine) -> None:
        observe(engine, metrics=metrics, tracing=ratio)

    return await bench(store_url=store, executions=executions, warmup=50, engine_hook=hook if on else None)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--executions", type=int, default=1500)
    parser.add_argument("--store", default=None, help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--tracing-ratio", type=float, default=0.01)
    parser.add_argument("--only", choices=("metrics", "tracing"), help="switch on only this one")
    args = parser.parse_args()
    metrics = args.only != "tracing"
    ratio = args.tracing_ratio if args.only != "metrics" else None
    throughput, cpu = [], []
    for round_ in range(args.rounds):
        order = (False, True) if round_ % 2 == 0 else (True, False)
        runs = {on: await _once(args.store, args.executions, on, metrics, ratio) for on in order}
        off, on = runs[False], runs[True]
        throughput.append(on.steps_per_s / off.steps_per_s)
        cpu.append(on.engine_us_per_step / off.engine_us_per_step)
        print(
            f"round {round_ + 1:2d}: off {off.steps_per_s:8.1f} steps/s {off.engine_us_per_step:6.1f} us"
            f" | on {on.steps_per_s:8.1f} steps/s {on.engine_us_per_step:6.1f} us"
            f" | ratio {throughput[-1]:.3f}, cpu {cpu[-1]:.3f}",
            flush=True,
        )
    print(
        f"median throughput on/off {statistics.median(throughput):.3f}; cpu per step on/off {statistics.median(cpu):.3f}"
    )


if __name__ == "__main__":
    asyncio.run(main())

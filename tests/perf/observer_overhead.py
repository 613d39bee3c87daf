"""What metrics and tracing cost a no-op step: ``flowmonkey bench`` with them off and on,
each run a process of its own, alternating, many rounds; the medians and their ratio.

A shared VM drifts by up to 2x over minutes, so only runs taken close together compare.
Each round runs "off" then "on" (or the reverse, alternately, so neither is always first),
each in a fresh process on a fresh store, as a user's worker runs. (An earlier version ran
both sides in one process; the later runs in a process are slower for reasons that are
not the hooks', and it charged that to the observers: metrics alone measured 0.86 there
and 0.93 in separate processes, in the same hour.)::

    PYTHONPATH=. python tests/perf/observer_overhead.py --rounds 12 --executions 3000 \\
        [--stores sqlite,postgres] [--tracing-ratio 0.01] [--only metrics|tracing]

Prints each pair, then per store the medians (steps/s and engine CPU us per step), the
ratio of the medians and the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
from pathlib import Path

from tests.perf.bench_matrix import HERE, one


def _switches(only: str | None, ratio: float) -> list[str]:
    metrics = [] if only == "tracing" else ["--metrics"]
    tracing = [] if only == "metrics" else ["--tracing", "--tracing-ratio", str(ratio)]
    return [*metrics, *tracing]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--executions", type=int, default=3000)
    parser.add_argument("--stores", type=lambda s: s.split(","), default=["sqlite"])
    parser.add_argument(
        "--dsn",
        default=os.environ.get("FLOWMONKEY_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--tracing-ratio", type=float, default=0.01)
    parser.add_argument("--only", choices=("metrics", "tracing"), help="switch on only this one")
    args = parser.parse_args()
    sides = {"off": [], "on": _switches(args.only, args.tracing_ratio)}
    print(f"on: {' '.join(sides['on'])}", flush=True)
    runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for round_ in range(args.rounds):
        for store in args.stores:
            order = ("off", "on") if round_ % 2 == 0 else ("on", "off")
            for side in order:
                common = ["--executions", str(args.executions), "--steps", "10", *sides[side]]
                result = await one(Path(HERE), store, args.dsn, "steps", 0, common)
                runs.setdefault((store, side), []).append(
                    (result["steps_per_s"], result["engine_us_per_step"])
                )
            off, on = runs[store, "off"][-1], runs[store, "on"][-1]
            print(
                f"round {round_ + 1:2d} {store:8s}: off {off[0]:8.1f} steps/s {off[1]:6.1f} us"
                f" | on {on[0]:8.1f} steps/s {on[1]:6.1f} us | ratio {on[0] / off[0]:.3f}",
                flush=True,
            )
    for store in args.stores:
        offs, ons = runs[store, "off"], runs[store, "on"]
        median_off, median_on = (statistics.median(s for s, _ in r) for r in (offs, ons))
        cpu_off, cpu_on = (statistics.median(c for _, c in r) for r in (offs, ons))
        paired = statistics.median(b[0] / a[0] for a, b in zip(offs, ons, strict=True))
        print(
            f"{store}: off {median_off:.0f} steps/s {cpu_off:.1f} us, on {median_on:.0f} steps/s {cpu_on:.1f} us;"
            f" on/off {median_on / median_off:.3f} (median of rounds {paired:.3f}), cpu {cpu_on / cpu_off:.3f}"
        )


if __name__ == "__main__":
    asyncio.run(main())

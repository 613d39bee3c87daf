"""CPU instructions per step of ``flowmonkey bench`` configurations, counted by valgrind.

Wall-clock and CPU time on a shared VM drift by 10-30% from one process to the next, so
a change of a few percent needs dozens of alternating rounds to show, and still may not.
An instruction count does not drift: two runs of one configuration agree within about
0.3%. Each configuration runs under ``valgrind --tool=callgrind`` twice, with N and 2N
executions; the difference, divided by the N executions' steps, is what one more step
costs (start-up, imports and warm-up cancel out). The figure counts this process's
instructions only (not a database server's), and not what they cost in cache misses or
stalls: it ranks changes, it does not predict steps/s::

    PYTHONPATH=. python tests/perf/instructions_per_step.py --executions 200 \\
        --config= --config="--metrics --tracing --tracing-ratio 0.01" [--store URL]

Needs valgrind (``apt-get install valgrind``). About 3 minutes for two configurations on
two cores (valgrind runs a program some 50 times slower).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from tests.perf.bench_matrix import admin

HERE = Path(__file__).resolve().parents[2]
COLLECTED = re.compile(rb"Collected : (\d+)")


@contextlib.contextmanager
def fresh(store: str | None) -> Iterator[str | None]:
    """``store``; for PostgreSQL a new database on its server, dropped afterwards, so that
    every run starts empty (a SQLite run makes its own file when ``store`` is None)."""
    if store is None or not store.startswith("postgres"):
        yield store
        return
    name = f"fm_instructions_{secrets.token_hex(4)}"
    asyncio.run(admin(store, f'CREATE DATABASE "{name}"'))
    try:
        yield urlunparse(urlparse(store)._replace(path=f"/{name}"))
    finally:
        asyncio.run(admin(store, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def instructions(flags: list[str], executions: int, steps: int, store: str | None, directory: str) -> int:
    """Instructions of one ``flowmonkey bench`` run under callgrind."""
    out = Path(tempfile.mkstemp(dir=directory, suffix=".callgrind")[1])
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "flowmonkey.bench",
        "--json",
        "--warmup",
        "20",
        "--executions",
        str(executions),
        "--steps",
        str(steps),
        *flags,
    ]
    env = {**os.environ, "PYTHONPATH": str(HERE), "PYTHONHASHSEED": "0"}
    with fresh(store) as url:
        if url is not None:
            command += ["--store", url]
        done = subprocess.run(command, capture_output=True, env=env, cwd=HERE, check=False)
    found = COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(done.stderr[-2000:].decode(errors="replace"))
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=200, help="N (the runs take N and 2N)")
    parser.add_argument("--steps", type=int, default=10, help="steps per execution (default 10)")
    parser.add_argument(
        "--store",
        default=None,
        help="store URL (default: a fresh SQLite file per run; PostgreSQL: a fresh database)",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=None,
        help='bench flags, as --config="--metrics" (--config= for none)',
    )
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("instructions_per_step: needs valgrind (apt-get install valgrind)", file=sys.stderr)
        return 2
    configs = [shlex.split(c) for c in (args.config or ["", "--metrics --tracing --tracing-ratio 0.01"])]
    runs = [(i, n) for i in range(len(configs)) for n in (args.executions, 2 * args.executions)]
    with (
        tempfile.TemporaryDirectory(prefix="flowmonkey-instructions-") as directory,
        concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool,
    ):
        counts = pool.map(
            lambda run: instructions(configs[run[0]], run[1], args.steps, args.store, directory), runs
        )
        counted = dict(zip(runs, counts, strict=True))
    steps = args.executions * args.steps
    per_step = [
        (counted[i, 2 * args.executions] - counted[i, args.executions]) / steps for i in range(len(configs))
    ]
    for config, count in zip(configs, per_step, strict=True):
        label = shlex.join(config) or "(no flags)"
        print(f"{count:10.0f} instructions/step  {count / per_step[0]:.3f}  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

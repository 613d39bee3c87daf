"""DBOS beside FlowMonkey, for scale: the same workload (N ten-step workflows of no-op steps,
50 in flight) on DBOS Transact, in a virtual environment of its own (DBOS is not a
FlowMonkey dependency, and never becomes one by running this)::

    python tests/perf/dbos_side_by_side.py [--venv ~/.cache/flowmonkey-dbos] [--executions 500]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]

The first run creates the venv and ``pip install dbos==VERSION`` into it. Each store (a
temporary SQLite file; a fresh PostgreSQL database next to ``--postgres``, dropped after)
runs in its own DBOS process; prints one JSON object per store, with the keys of
``flowmonkey bench --json`` that apply (steps_per_s, p50_ms, p99_ms ...).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from urllib.parse import urlparse, urlunparse

DBOS_VERSION = "3.4.0"

# Runs inside the DBOS venv: one process, one DBOS instance, one system database.
WORKLOAD = r"""
import asyncio, json, statistics, sys, time
from dbos import DBOS

url, executions, concurrency, steps, warmup = sys.argv[1], *map(int, sys.argv[2:6])

@DBOS.step()
async def noop(i):
    return None

@DBOS.workflow()
async def chain():
    for i in range(steps):
        await noop(i)

async def drive(total):
    latencies, indexes = [], iter(range(total))
    async def worker():
        for _ in indexes:
            started = time.perf_counter()
            handle = await DBOS.start_workflow_async(chain)
            await handle.get_result()
            latencies.append(time.perf_counter() - started)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, total))))
    return time.perf_counter() - started, sorted(latencies)

async def main():
    DBOS(config={"name": "flowmonkey-side-by-side", "system_database_url": url})
    DBOS.launch()
    await drive(warmup)
    seconds, lat = await drive(executions)
    DBOS.destroy()
    print(json.dumps({
        "engine": "dbos " + __import__("dbos").__version__ if hasattr(__import__("dbos"), "__version__") else "dbos",
        "store": url.split(":", 1)[0], "executions": executions, "concurrency": concurrency,
        "steps_per_execution": steps, "seconds": round(seconds, 3),
        "steps_per_s": round(executions * steps / seconds, 1),
        "p50_ms": round(statistics.median(lat) * 1000, 1),
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1),
    }))

asyncio.run(main())
"""


def dbos_python(venv_dir: Path) -> Path:
    """The venv's python, with DBOS installed (made on first use)."""
    python = venv_dir / "bin" / "python"
    if not python.exists():
        venv.create(venv_dir, with_pip=True)
    probe = subprocess.run([str(python), "-c", "import dbos"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"dbos=={DBOS_VERSION}"], check=True)
    return python


def run(python: Path, url: str, args: argparse.Namespace) -> dict[str, object]:
    numbers = [str(n) for n in (args.executions, args.concurrency, args.steps, args.warmup)]
    out = subprocess.run(
        [str(python), "-c", WORKLOAD, url, *numbers], capture_output=True, text=True, timeout=3600
    )
    if out.returncode != 0:
        raise SystemExit(f"DBOS run on {url.split(':')[0]} failed:\n{out.stderr[-3000:]}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    result["engine"] = f"dbos {DBOS_VERSION}"
    return result


def _admin(dsn: str, statement: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import asyncio,asyncpg,sys\n"
            "async def m():\n c=await asyncpg.connect(sys.argv[1]); await c.execute(sys.argv[2]); await c.close()\n"
            "asyncio.run(m())",
            dsn,
            statement,
        ],
        check=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=Path.home() / ".cache" / "flowmonkey-dbos")
    parser.add_argument("--executions", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("FLOWMONKEY_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--stores", default="sqlite,postgres")
    args = parser.parse_args()
    python = dbos_python(args.venv)
    stores = args.stores.split(",")
    if "sqlite" in stores:
        with tempfile.TemporaryDirectory() as directory:
            print(json.dumps(run(python, f"sqlite:///{directory}/dbos.sqlite", args)), flush=True)
    if "postgres" in stores:
        name = f"fm_dbos_{os.getpid()}"
        _admin(args.postgres, f'CREATE DATABASE "{name}"')
        try:
            url = urlunparse(urlparse(args.postgres)._replace(path=f"/{name}"))
            print(json.dumps(run(python, url, args)), flush=True)
        finally:
            _admin(args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())

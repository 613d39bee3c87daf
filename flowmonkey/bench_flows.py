"""The flows ``flowmonkey bench`` runs, written as a flows directory (a flow file and a
handler module) so that the bench process and real ``flowmonkey worker`` processes load
exactly the same thing.

``noop``: N steps of a handler that returns at once, an empty context: the engine and the
store's cost per step and nothing else. ``realistic``: N steps over a context of about
10 KB (an order of 50 lines); each step renders a template against the context and
transforms the result (the built-in ``transform`` handler: a template input, ``omit``,
``rename`` and a templated ``merge``) into one output key, so the context stays ~10 KB and
is written back at every step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FLOW_ID = "bench"
NOOP_HANDLERS = '''"""The bench's handlers (written by flowmonkey.bench_flows)."""
from flowmonkey.registry import handler
from flowmonkey.result import Result


@handler("bench.noop")
async def noop(params):
    return Result.success(None)


@handler("bench.wait")
async def wait(params):
    return Result.wait(reason="benchmark")
'''


def write_flows(directory: Path, *, scenario: str, steps: int) -> None:
    """Write the flow (and handler module) of ``scenario`` into ``directory``."""
    (directory / "bench_handlers.py").write_text(NOOP_HANDLERS)
    flow = realistic_flow(steps) if scenario == "realistic" else noop_flow(steps, waits=scenario == "resume")
    (directory / f"{FLOW_ID}.json").write_text(json.dumps(flow))


def initial_context(scenario: str) -> dict[str, Any] | None:
    """The context each execution of ``scenario`` is created with."""
    return realistic_context() if scenario == "realistic" else None


def noop_flow(steps: int, *, waits: bool) -> dict[str, Any]:
    ids = [f"s{i}" for i in range(steps)]
    body: dict[str, Any] = {
        step_id: {"type": "bench.noop", "transitions": {"onSuccess": ids[i + 1] if i + 1 < steps else None}}
        for i, step_id in enumerate(ids)
    }
    initial = ids[0]
    if waits:
        body["park"] = {"type": "bench.wait", "transitions": {"onResume": ids[0]}}
        initial = "park"
    return {"id": FLOW_ID, "version": "1.0.0", "initialStepId": initial, "steps": body}


def realistic_flow(steps: int) -> dict[str, Any]:
    ids = [f"s{i}" for i in range(steps)]
    body = {
        step_id: {
            "type": "transform",
            "input": {
                "type": "template",
                "template": {
                    "title": "Order ${order.id} for ${order.customer.name} <${order.customer.email}>",
                    "first": "${order.lines.0}",
                    "last": "${order.lines.49}",
                    "total": "${order.total}",
                    "note": "step "
                    + step_id
                    + " of ${order.id}: ${order.lines.7.sku} x ${order.lines.7.qty}",
                },
            },
            "config": {
                "omit": ["first"],
                "rename": {"last": "final_line"},
                "merge": {"step": step_id, "status": "${order.status}", "city": "${order.customer.city}"},
            },
            "outputKey": "summary",
            "transitions": {"onSuccess": ids[i + 1] if i + 1 < steps else None},
        }
        for i, step_id in enumerate(ids)
    }
    return {"id": FLOW_ID, "version": "1.0.0", "initialStepId": ids[0], "steps": body}


def realistic_context() -> dict[str, Any]:
    """An order of 50 lines: about 10 KB of JSON."""
    lines = [
        {
            "sku": f"SKU-{n:05d}",
            "name": f"Article number {n} in the spring catalogue",
            "qty": n % 7 + 1,
            "price": round(3.5 + n * 1.25, 2),
            "tags": ["catalogue", "spring", f"shelf-{n % 12}"],
            "warehouse": {"site": f"W{n % 3}", "aisle": n % 40, "bin": f"B{n:03d}"},
        }
        for n in range(50)
    ]
    total = round(sum((n % 7 + 1) * (3.5 + n * 1.25) for n in range(50)), 2)
    customer = {"name": "Ada Lovelace", "email": "ada@example.com", "city": "London", "tier": "gold"}
    return {
        "order": {
            "id": "ORD-2026-000123",
            "status": "paid",
            "customer": customer,
            "lines": lines,
            "total": total,
        }
    }

"""A webhook site for the integration tests: a store, an engine, a TriggerService and its
routes served by a real uvicorn server on 127.0.0.1 (a free port), spoken to with httpx."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from flowmonkey import Engine, ExecutionQuery, Flow, Store
from flowmonkey.triggers import SIGNATURE_HEADER, HttpServer, HttpTriggers, TriggerService, serve_http
from tests.unit.helpers import BASIC, chain

SECRET = "s3cret"
TOKEN_SECRET = "token-secret"
ORDERS = Flow.from_dict(chain("orders", ["echo"]))
APPROVE = Flow.from_dict(chain("approve", ["wait", "echo"]))
JSON = {"content-type": "application/json"}


@dataclass
class Site:
    store: Store
    engine: Engine
    service: TriggerService
    server: HttpServer
    client: httpx.AsyncClient

    async def executions(self, flow_id: str = "orders") -> int:
        """How many executions of ``flow_id`` the store holds."""
        return sum((await self.store.count_executions(ExecutionQuery(flow_id=flow_id))).values())

    async def fire_statuses(self, trigger_id: str) -> list[str]:
        """The trigger's recorded fires, oldest first."""
        return [fire.status for fire in reversed(await self.service.history(trigger_id))]

    async def post(self, path: str, body: bytes, **headers: str) -> httpx.Response:
        return await self.client.post(path, content=body, headers={**JSON, **headers})

    async def signed(self, path: str, body: bytes, signature: str) -> httpx.Response:
        return await self.client.post(path, content=body, headers={**JSON, SIGNATURE_HEADER: signature})


@asynccontextmanager
async def open_site(
    store: Store, *, http: HttpTriggers | None = None, register: bool = True, **service: Any
) -> AsyncIterator[Site]:
    """Serve webhooks on ``store``: triggers ``open`` (no secret), ``signed`` (secret
    :data:`SECRET`) and ``legacy`` (also takes the old body-only signature), when
    ``register`` and not there already."""
    engine = Engine(store, BASIC, [ORDERS, APPROVE])
    triggers = TriggerService(store, engine, http=http, schedule=None, secret=TOKEN_SECRET, **service)
    server = await serve_http(triggers, "127.0.0.1", 0)
    try:
        if register and await triggers.get("open") is None:
            await triggers.register("open", type="http", flow_id="orders")
            await triggers.register("signed", type="http", flow_id="orders", config={"secret": SECRET})
            legacy = {"secret": SECRET, "legacySignature": True}
            await triggers.register("legacy", type="http", flow_id="orders", config=legacy)
        async with httpx.AsyncClient(base_url=f"{server.url}/webhooks", timeout=30) as client:
            yield Site(store, engine, triggers, server, client)
    finally:
        await server.stop()


def v1_of(header: str) -> str:
    """The ``v1`` signature of an ``X-FlowMonkey-Signature`` value."""
    match = re.search(r"v1=([0-9a-f]+)", header)
    assert match is not None, header
    return match.group(1)


LEAKS = re.compile(r"Traceback|File \"|\.py\b|site-packages|/work/|/tmp/|postgres(ql)?://|sqlite:///|asyncpg")


def assert_clean(response: httpx.Response, *canaries: str) -> None:
    """The body carries no traceback, file path, URL of a store, or any of ``canaries``."""
    text = response.text
    assert LEAKS.search(text) is None, text
    for canary in canaries:
        assert canary not in text, (canary, text)

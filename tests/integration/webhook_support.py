"""A webhook site for the integration tests: a store, an engine, a TriggerService and its
routes served by a real uvicorn server on 127.0.0.1 (a free port), spoken to with httpx."""

from __future__ import annotations

import asyncio
import contextlib
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


class TcpProxy:
    """A TCP relay on 127.0.0.1 to a server: stopping it takes the server away from its
    clients (connections cut, new ones refused) without touching the server itself."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Listen (again on the same port, once it has one)."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Refuse new connections and cut the open ones."""
        if self._server is None or not self._server.is_serving():
            return
        self._server.close()
        for writer in list(self._links):
            writer.transport.abort()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._links.update((writer, upstream_writer))
        pipes = {
            asyncio.ensure_future(_pipe(reader, upstream_writer)),
            asyncio.ensure_future(_pipe(upstream_reader, writer)),
        }
        try:  # either side ending ends both: a client waits for the server's close, and so on
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            self._links.difference_update((writer, upstream_writer))
            for end in (writer, upstream_writer):
                end.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()

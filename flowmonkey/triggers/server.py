"""Serving the webhook app with uvicorn inside the current event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any, Protocol

import uvicorn
from starlette.applications import Starlette


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: the host process owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """A uvicorn server running as a task of the current loop; ``await stop()`` ends it."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        self.host, self.port = sock.getsockname()[:2]
        config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False, ws="none")
        self.server = _EmbeddedServer(config)
        self._socket = sock
        self.task: asyncio.Task[None] = asyncio.create_task(self.server.serve(sockets=[sock]))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def wait_started(self, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not self.server.started:  # uvicorn exposes a flag, not an event
                if self.task.done():
                    self.task.result()
                    raise RuntimeError("the HTTP server stopped while starting")
                await asyncio.sleep(0.005)

    async def stop(self) -> None:
        """Finish in-flight requests, close the socket and end the task."""
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self._socket.close()


class AsgiSource(Protocol):
    """Something that builds the webhook app (a :class:`TriggerService`)."""

    def asgi_app(self, base_path: str | None = None) -> Starlette: ...


async def serve_http(
    service: AsgiSource, host: str = "127.0.0.1", port: int = 8080, *, base_path: str | None = None
) -> HttpServer:
    """Serve ``service.asgi_app()`` with uvicorn on ``host:port`` (``port=0`` picks a free one).

    Binds only to ``host`` (loopback by default). Raises ``OSError`` if the port is taken.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio only sets TCP_NODELAY on connections of sockets that say
    # so; without it every response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot serve webhooks on {host}:{port}: {exc.strerror}") from exc
    sock.set_inheritable(True)
    server = HttpServer(service.asgi_app(base_path), sock)
    await server.wait_started()
    return server

"""HTTP webhooks on Starlette: ``POST {base}/{trigger_id}`` and ``POST {base}/resume/{token}``.

A webhook request is checked in this order, and the first failure answers:

====  =====================================================================
404   no HTTP trigger has that id (or ``path``)
403   the trigger is disabled
415   the ``Content-Type`` is not JSON (``application/json`` or ``*/*+json``)
413   the body is larger than ``max_body_bytes`` (by ``Content-Length``, then as streamed)
401   the trigger has a ``secret`` and the request carries neither
      ``Authorization: Bearer <secret>`` nor ``X-FlowMonkey-Signature: sha256=<hex>``
      (HMAC-SHA256 of the raw body with the secret)
400   the body is not JSON, or breaks the trigger's ``inputSchema`` (every error, with its
      path; checked where every payload is, by ``WebhookActions.start``)
====  =====================================================================

Otherwise the flow starts: 201 ``{"executionId": ...}``; with an ``Idempotency-Key`` header
a repeat answers 200 with the same id. ``POST {base}/resume/{token}`` answers 200, or 401
for a forged token, 410 for an expired one, 404 / 409 for an unknown or not-waiting
execution. Authentication comes after the cheap checks so an unauthenticated sender learns
nothing about the schema.

The routes know no service: they get :class:`WebhookActions`, four functions.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from flowmonkey.errors import (
    ErrorCode,
    ExecutionNotFoundError,
    ExpiredTokenError,
    FlowMonkeyError,
    InvalidTokenError,
    NotWaitingError,
)
from flowmonkey.model import Execution, TriggerDefinition
from flowmonkey.triggers.outcomes import FireOutcome, FireStatus

DEFAULT_MAX_BODY = 1024 * 1024
# Why a flow could not start, as an HTTP status; anything else is a 500.
_FAILURE_STATUS: dict[str, int] = {
    ErrorCode.STORE_ERROR: 503,  # try again later
    ErrorCode.CONFLICT: 503,
    ErrorCode.CONTEXT_LIMIT: 413,
    ErrorCode.FLOW_NOT_FOUND: 503,  # the flow is being (re)loaded or was retired
}
SIGNATURE_HEADER = "X-FlowMonkey-Signature"


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpTriggers:
    """Where webhook routes are served.

    Attributes:
        app: a Starlette or FastAPI app to add the routes to (``None``: use
            ``service.asgi_app()`` or :func:`serve_http`).
        base_path: the URL prefix of the routes.
        max_body_bytes: larger bodies are refused with 413.
    """

    app: Any = None
    base_path: str = "/webhooks"
    max_body_bytes: int = DEFAULT_MAX_BODY


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookActions:
    """What the routes do, as plain functions (the service composes them).

    Attributes:
        find: the HTTP trigger a URL names (by id, else by ``path``), or None.
        start: start the trigger's flow with a payload and an idempotency key; the payload
            is checked against the trigger's ``inputSchema`` there, and a mismatch comes
            back as a rejected outcome with every error in its details.
        reject: record a refused request (message, details).
        resume: resume the execution a resume token names, with data.
    """

    find: Callable[[str], Awaitable[TriggerDefinition | None]]
    start: Callable[[TriggerDefinition, Any, str | None], Awaitable[FireOutcome]]
    reject: Callable[[TriggerDefinition, str, Any], Awaitable[FireOutcome]]
    resume: Callable[[str, Any], Awaitable[Execution]]


class _Rejection(Exception):
    def __init__(self, status: int, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"error": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        headers = {"WWW-Authenticate": 'Bearer realm="flowmonkey"'} if self.status == 401 else None
        return JSONResponse(body, status_code=self.status, headers=headers)


class WebhookEndpoints:
    """The request handlers, bound to their actions and one size limit."""

    def __init__(self, actions: WebhookActions, max_body_bytes: int) -> None:
        self._actions = actions
        self._max_body = max_body_bytes

    def routes(self) -> list[Route]:
        return [
            Route("/resume/{token}", self.resume, methods=["POST"]),
            Route("/{trigger_id:path}", self.trigger, methods=["POST"]),  # a `path` may nest
        ]

    async def trigger(self, request: Request) -> JSONResponse:
        trigger = await self._actions.find(request.path_params["trigger_id"])
        if trigger is None:
            return _Rejection(404, f"no HTTP trigger {request.path_params['trigger_id']!r}").response()
        try:
            payload = await self._accept(trigger, request)
        except _Rejection as rejection:
            await self._actions.reject(trigger, rejection.message, rejection.errors)
            return rejection.response()
        key = request.headers.get("idempotency-key") or None
        return _outcome_response(await self._actions.start(trigger, payload, key))

    async def _accept(self, trigger: TriggerDefinition, request: Request) -> Any:
        if not trigger.enabled:
            raise _Rejection(403, f"trigger {trigger.id!r} is disabled")
        body = await self._read_json_body(request)
        secret = trigger.config.get("secret")
        if secret and not _authorized(str(secret), request, body):
            raise _Rejection(
                401, f"trigger {trigger.id!r} needs 'Authorization: Bearer <secret>' or '{SIGNATURE_HEADER}'"
            )
        return _parse_json(body)

    async def _read_json_body(self, request: Request) -> bytes:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if not (content_type == "application/json" or content_type.endswith("+json")):
            raise _Rejection(415, f"expected Content-Type application/json, got {content_type or 'none'!r}")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_body:
            raise _Rejection(413, f"body of {declared} bytes is over the limit of {self._max_body}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():  # a lying or absent Content-Length is caught here
            size += len(chunk)
            if size > self._max_body:
                raise _Rejection(413, f"body is over the limit of {self._max_body} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def resume(self, request: Request) -> JSONResponse:
        try:
            payload = _parse_json(await self._read_json_body(request))
            execution = await self._actions.resume(request.path_params["token"], payload)
        except _Rejection as rejection:
            return rejection.response()
        except ExpiredTokenError as exc:
            return _Rejection(410, exc.message).response()  # genuine, but too late: ask again
        except InvalidTokenError as exc:
            return _Rejection(401, exc.message).response()
        except ExecutionNotFoundError as exc:
            return _Rejection(404, exc.message).response()
        except NotWaitingError as exc:
            return _Rejection(409, exc.message).response()
        except FlowMonkeyError as exc:
            return _Rejection(422, f"{exc.code}: {exc.message}").response()
        return JSONResponse({"executionId": execution.id, "status": execution.status.value})


def _outcome_response(outcome: FireOutcome) -> JSONResponse:
    if outcome.status is FireStatus.REJECTED:  # the body broke the trigger's inputSchema
        return _Rejection(400, outcome.error or "rejected", outcome.details).response()
    if outcome.execution_id is None:
        status = _FAILURE_STATUS.get(outcome.code or "", 500)
        headers = {"Retry-After": "5"} if status == 503 else None
        return JSONResponse(
            {"error": outcome.error, "code": outcome.code}, status_code=status, headers=headers
        )
    return JSONResponse({"executionId": outcome.execution_id}, status_code=201 if outcome.created else 200)


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _Rejection(400, "body is not valid JSON", [{"path": "$", "message": str(exc)}]) from None


def _authorized(secret: str, request: Request, body: bytes) -> bool:
    bearer = request.headers.get("authorization", "")
    if bearer[:7].lower() == "bearer " and hmac.compare_digest(bearer[7:].strip().encode(), secret.encode()):
        return True
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if signature.startswith("sha256="):
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature[7:].strip().lower().encode(), expected.encode())
    return False


def sign_body(secret: str, body: bytes) -> str:
    """The ``X-FlowMonkey-Signature`` header value a sender puts on ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def mount_routes(actions: WebhookActions, app: Any, http: HttpTriggers) -> None:
    """Add the webhook routes under ``http.base_path`` to a Starlette or FastAPI ``app``."""
    endpoints = WebhookEndpoints(actions, http.max_body_bytes)
    app.router.routes.append(Mount(_base(http.base_path), routes=endpoints.routes()))


def build_app(actions: WebhookActions, http: HttpTriggers) -> Starlette:
    """A standalone app with only the webhook routes."""
    app = Starlette()
    mount_routes(actions, app, http)
    return app


def _base(path: str) -> str:
    path = "/" + path.strip("/")
    return "" if path == "/" else path


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

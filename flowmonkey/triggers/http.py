"""HTTP webhooks on Starlette: ``POST {base}/{trigger_id}``, ``GET {base}/{trigger_id}`` and
``POST {base}/resume/{token}``.

A webhook request is checked in this order, and the first failure answers:

====  =====================================================================
404   no HTTP trigger has that id (or ``path``)
403   the trigger is disabled
415   the ``Content-Type`` is not JSON (``application/json`` or ``*/*+json``)
413   the body is larger than ``max_body_bytes`` (by ``Content-Length``, then as streamed)
401   the trigger has a ``secret`` and the request carries neither ``Authorization: Bearer
      <secret>`` nor a fresh ``X-FlowMonkey-Signature: t=<unix time>,v1=<hex>``
      (:mod:`flowmonkey.triggers.signatures`)
400   the body is not strict JSON (:mod:`flowmonkey.triggers.bodies`: nesting, huge
      integers, ``NaN``, NUL, lone surrogates, with the JSON path), or breaks the
      trigger's ``inputSchema`` (every error, with its path)
====  =====================================================================

Otherwise the flow starts: 201 ``{"executionId": ...}``. A repeat answers 200 with the
same id and creates nothing: the same ``Idempotency-Key`` header, or the same signature
seen before (a sender's redelivery). A store outage answers 503 with ``Retry-After``;
nothing else does, and no response body carries a driver's message.

``GET {base}/{trigger_id}`` (behind the same secret; a signature signs the empty body)
answers the trigger's flow, whether it is enabled and its ``inputSchema``.
``POST {base}/resume/{token}`` answers 200, or 401 for a forged token, 410 for an expired
one, 404 / 409 for an unknown execution or one no longer at the wait the token names.
Authentication comes after the cheap checks, before parsing, so an unauthenticated sender
learns nothing about the schema.

The routes know no service: they get :class:`WebhookActions`, a few plain functions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from flowmonkey.errors import (
    ErrorCode,
    ExecutionNotFoundError,
    ExpiredTokenError,
    FlowMonkeyError,
    InvalidArgumentError,
    InvalidTokenError,
    NotWaitingError,
    ResumeDataError,
    StoreError,
)
from flowmonkey.model import Execution, TriggerDefinition, utcnow
from flowmonkey.triggers.bodies import (
    DEFAULT_MAX_DEPTH,
    MAX_ALLOWED_DEPTH,
    parse_json,
    read_limited,
    require_json_content_type,
)
from flowmonkey.triggers.outcomes import FireOutcome, FireStatus
from flowmonkey.triggers.refusal import RETRY_AFTER_SECONDS, Refusal, error_response, store_failure
from flowmonkey.triggers.signatures import (
    DEFAULT_SIGNATURE_TOLERANCE,
    Caller,
    Signature,
    SignaturePolicy,
    authenticate,
)

DEFAULT_MAX_BODY = 1024 * 1024
_PARSE_INLINE_BYTES = 64 * 1024
# Why a flow could not start (a failed outcome's code), as an HTTP status and what the
# sender is told; the outcome's own message, which may name the store, stays in the log.
_FAILURES: dict[str, tuple[int, str]] = {
    ErrorCode.CONFLICT: (409, "the request conflicted with a concurrent one; send it again"),
    ErrorCode.CONTEXT_LIMIT: (413, "the payload makes the execution's context larger than its limit"),
    ErrorCode.FLOW_NOT_FOUND: (500, "the trigger's flow is not loaded on this server"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpTriggers:
    """Where and how webhook routes are served.

    Attributes:
        app: a Starlette or FastAPI app to add the routes to (``None``: use
            ``service.asgi_app()`` or :func:`serve_http`).
        base_path: the URL prefix of the routes.
        max_body_bytes: larger bodies are refused with 413.
        max_depth: bodies whose arrays and objects nest deeper are refused with 400.
        signature_tolerance: how far a signature's timestamp may be from the server's
            clock (either way); it is also how long a redelivery is recognised.
        info_endpoint: serve ``GET {base}/{trigger_id}``.
    """

    app: Any = None
    base_path: str = "/webhooks"
    max_body_bytes: int = DEFAULT_MAX_BODY
    max_depth: int = DEFAULT_MAX_DEPTH
    signature_tolerance: timedelta = DEFAULT_SIGNATURE_TOLERANCE
    info_endpoint: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.max_depth <= MAX_ALLOWED_DEPTH:
            raise InvalidArgumentError(
                f"HttpTriggers.max_depth must be 1 to {MAX_ALLOWED_DEPTH}, not {self.max_depth}"
            )
        if self.max_body_bytes < 1:
            raise InvalidArgumentError(
                f"HttpTriggers.max_body_bytes must be positive, not {self.max_body_bytes}"
            )
        if self.signature_tolerance <= timedelta(0):
            raise InvalidArgumentError("HttpTriggers.signature_tolerance must be positive")


class StartFlow(Protocol):
    """Start a trigger's flow (:meth:`FlowStarter.start`): the payload is checked against
    the trigger's ``inputSchema`` there (a mismatch is a rejected outcome with every error
    in its details), and a ``signature`` seen before is an idempotent repeat."""

    def __call__(
        self,
        trigger: TriggerDefinition,
        payload: Any,
        idempotency_key: str | None,
        /,
        *,
        signature: Signature | None = None,
    ) -> Awaitable[FireOutcome]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookActions:
    """What the routes do, as plain functions (the service composes them).

    Attributes:
        find: the HTTP trigger a URL names (by id, else by ``path``), or None.
        start: start the trigger's flow (:class:`StartFlow`).
        reject: record a refused request (message, details).
        resume: resume the execution a resume token names, with data.
        now: the time signatures are checked against.
    """

    find: Callable[[str], Awaitable[TriggerDefinition | None]]
    start: StartFlow
    reject: Callable[[TriggerDefinition, str, Any], Awaitable[FireOutcome]]
    resume: Callable[[str, Any], Awaitable[Execution]]
    now: Callable[[], datetime] = field(default=utcnow)


class WebhookEndpoints:
    """The request handlers, bound to their actions and the limits of :class:`HttpTriggers`."""

    def __init__(self, actions: WebhookActions, http: HttpTriggers) -> None:
        self._actions = actions
        self._http = http

    def routes(self) -> list[Route]:
        routes = [
            Route("/resume/{token}", self.resume, methods=["POST"]),
            Route("/{trigger_id:path}", self.trigger, methods=["POST"]),  # a `path` may nest
        ]
        if self._http.info_endpoint:
            routes.append(Route("/{trigger_id:path}", self.info, methods=["GET"]))
        return routes

    async def trigger(self, request: Request) -> JSONResponse:
        try:
            return await self._fire(await self._find(request), request)
        except Refusal as refusal:
            return refusal.response()
        except StoreError as exc:
            return store_failure(exc, "starting the flow")

    async def _fire(self, trigger: TriggerDefinition, request: Request) -> JSONResponse:
        try:
            payload, caller = await self._accept(trigger, request)
        except Refusal as refusal:
            await self._actions.reject(trigger, refusal.message, refusal.errors)
            return refusal.response()
        key = request.headers.get("idempotency-key") or None
        return _outcome_response(await self._actions.start(trigger, payload, key, signature=caller.signature))

    async def info(self, request: Request) -> JSONResponse:
        """``GET``: the trigger's flow, whether it is enabled, and its ``inputSchema``."""
        try:
            trigger = await self._find(request)
            self._authenticate(trigger, request, b"")
        except Refusal as refusal:
            return refusal.response()
        except StoreError as exc:
            return store_failure(exc, "reading the trigger")
        return JSONResponse(describe(trigger))

    async def _find(self, request: Request) -> TriggerDefinition:
        key = request.path_params["trigger_id"]
        trigger = await self._actions.find(key)
        if trigger is None:
            raise Refusal(404, f"no HTTP trigger {key!r}")
        return trigger

    async def _accept(self, trigger: TriggerDefinition, request: Request) -> tuple[Any, Caller]:
        if not trigger.enabled:
            raise Refusal(403, f"trigger {trigger.id!r} is disabled")
        body = await self._read_body(request)
        caller = self._authenticate(trigger, request, body)
        return await self._parse(body), caller

    async def _parse(self, body: bytes) -> Any:
        """The body's value; a large one is parsed off the event loop, so a hostile
        megabyte (tenths of a second to check) never stalls the runtime sharing the loop."""
        if len(body) <= _PARSE_INLINE_BYTES:
            return parse_json(body, max_depth=self._http.max_depth)
        return await asyncio.to_thread(parse_json, body, max_depth=self._http.max_depth)

    def _authenticate(self, trigger: TriggerDefinition, request: Request, body: bytes) -> Caller:
        secret = trigger.config.get("secret")
        if not secret:
            return Caller()
        policy = SignaturePolicy(
            secret=str(secret),
            tolerance=self._http.signature_tolerance,
            legacy=trigger.config.get("legacySignature") is True,
        )
        return authenticate(policy, request.headers, body, now=self._actions.now(), trigger_id=trigger.id)

    async def _read_body(self, request: Request) -> bytes:
        require_json_content_type(request.headers.get("content-type"))
        return await read_limited(
            request.headers.get("content-length"), request.stream(), self._http.max_body_bytes
        )

    async def resume(self, request: Request) -> JSONResponse:
        try:
            payload = await self._parse(await self._read_body(request))
            execution = await self._actions.resume(request.path_params["token"], payload)
        except Refusal as refusal:
            return refusal.response()
        except StoreError as exc:
            return store_failure(exc, "resuming the execution")
        except ResumeDataError as exc:  # the waiting step's resumeSchema: every error, with its path
            errors = exc.details.get("errors") if isinstance(exc.details, dict) else None
            return Refusal(
                400, "the resume data does not match the waiting step's resumeSchema", errors
            ).response()
        except FlowMonkeyError as exc:
            status = _resume_status(exc)
            return Refusal(status, exc.message if status != 422 else f"{exc.code}: {exc.message}").response()
        return JSONResponse({"executionId": execution.id, "status": execution.status.value})


def _resume_status(exc: FlowMonkeyError) -> int:
    """The status of a refused resume: 410 for a genuine token too late (ask again)."""
    for kind, status in _RESUME_STATUS:
        if isinstance(exc, kind):
            return status
    return 422


_RESUME_STATUS: tuple[tuple[type[FlowMonkeyError], int], ...] = (
    (ExpiredTokenError, 410),  # before its parent, InvalidTokenError
    (InvalidTokenError, 401),
    (ExecutionNotFoundError, 404),
    (NotWaitingError, 409),
)


def describe(trigger: TriggerDefinition) -> dict[str, Any]:
    """What ``GET {base}/{trigger_id}`` answers (the Node project's keys); never the secret."""
    config = trigger.config
    info: dict[str, Any] = {
        "id": trigger.id,
        "type": trigger.type.value,
        "flowId": trigger.flow_id,
        "flowVersion": trigger.flow_version,
        "enabled": trigger.enabled,
        "inputSchema": config.get("inputSchema"),
    }
    info.update({key: config[key] for key in ("name", "description", "path", "contextKey") if key in config})
    return info


def _outcome_response(outcome: FireOutcome) -> JSONResponse:
    if outcome.status is FireStatus.REJECTED:  # the body broke the trigger's inputSchema
        return Refusal(400, outcome.error or "rejected", outcome.details).response()
    if outcome.execution_id is None:
        return _failure_response(outcome)
    return JSONResponse({"executionId": outcome.execution_id}, status_code=201 if outcome.created else 200)


def _failure_response(outcome: FireOutcome) -> JSONResponse:
    if outcome.transient:
        message = "the store is unavailable; try again later"
        return error_response(503, message, outcome.code, {"Retry-After": str(RETRY_AFTER_SECONDS)})
    status, message = _FAILURES.get(outcome.code or "", (500, "the flow could not be started"))
    return error_response(status, message, outcome.code)


def mount_routes(actions: WebhookActions, app: Any, http: HttpTriggers) -> None:
    """Add the webhook routes under ``http.base_path`` to a Starlette or FastAPI ``app``."""
    endpoints = WebhookEndpoints(actions, http)
    app.router.routes.append(Mount(_base(http.base_path), routes=endpoints.routes()))


def build_app(actions: WebhookActions, http: HttpTriggers) -> Starlette:
    """A standalone app with only the webhook routes."""
    app = Starlette()
    mount_routes(actions, app, http)
    return app


def _base(path: str) -> str:
    path = "/" + path.strip("/")
    return "" if path == "/" else path

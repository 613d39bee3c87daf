"""``http``: call an HTTP endpoint.

Config: ``url`` (required), ``method`` (default GET), ``headers``, ``query``, ``json`` (a
body sent as JSON) or ``body`` (text), ``timeout`` (a duration, default 30s). ``${...}``
templates in url, headers, query, json and body are rendered against the context.

Output: ``{status, headers, body}``; the body is parsed when the response says it is
JSON. A non-2xx answer fails the step with ``HTTP_ERROR`` and details ``{status, body}``
(an excerpt), as does a network error or timeout (``status`` None), so a retry policy
with ``retryOn: [HTTP_ERROR]`` can act on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from flowmonkey.durations import parse_duration
from flowmonkey.errors import ErrorCode
from flowmonkey.inputs import render
from flowmonkey.params import HandlerParams
from flowmonkey.registry import handler
from flowmonkey.result import Result, StepResult

DEFAULT_TIMEOUT = 30.0
EXCERPT = 500

DURATION_SCHEMA: dict[str, Any] = {
    "description": "seconds (a number) or a string like 250ms, 30s, 5m, 2h, 7d",
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$"},
    ],
}

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "minLength": 1, "description": "The URL; ${...} templates allowed."},
        "method": {
            "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
            "description": "The HTTP method (default GET).",
        },
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "query": {"type": "object", "description": "Query parameters."},
        "json": {"description": "A body sent as JSON (templates keep types)."},
        "body": {"type": "string", "description": "A text body."},
        "timeout": DURATION_SCHEMA,
    },
    "required": ["url"],
    "additionalProperties": False,
    "not": {"required": ["json", "body"], "description": "both json and body (send one of them)"},
}


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpReply:
    """A response reduced to what a flow can store: status, headers, parsed body."""

    status: int
    headers: dict[str, str]
    body: Any

    def to_output(self) -> dict[str, Any]:
        return {"status": self.status, "headers": self.headers, "body": self.body}

    def excerpt(self) -> str:
        text = self.body if isinstance(self.body, str) else json.dumps(self.body, default=str)
        return text[:EXCERPT]


def parse_body(response: httpx.Response) -> Any:
    """The body as JSON when the content type says so (and it parses), else as text."""
    content_type = response.headers.get("content-type", "")
    if "json" in content_type.lower():
        try:
            return response.json()
        except ValueError:
            pass  # a server that lies about its content type: keep the text
    return response.text


async def send(
    method: str, url: str, *, timeout: float = DEFAULT_TIMEOUT, **options: Any
) -> HttpReply | StepResult:
    """Send one request; a failure result (``HTTP_ERROR``) on a network error or timeout."""
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.request(method, url, **options)
    except httpx.TimeoutException as exc:
        return Result.failure(
            ErrorCode.HTTP_ERROR, f"{method} {url} timed out after {timeout:g}s", _network(exc, "timeout")
        )
    except (httpx.HTTPError, ValueError) as exc:  # ValueError: a malformed URL
        return Result.failure(
            ErrorCode.HTTP_ERROR,
            f"{method} {url} failed: {exc or type(exc).__name__}",
            _network(exc, "network"),
        )
    return HttpReply(status=response.status_code, headers=dict(response.headers), body=parse_body(response))


def _network(exc: Exception, kind: str) -> dict[str, Any]:
    return {"status": None, "kind": kind, "exception": type(exc).__name__}


def status_failure(method: str, url: str, reply: HttpReply) -> StepResult:
    """``HTTP_ERROR`` for a non-2xx reply, with the status and a body excerpt."""
    return Result.failure(
        ErrorCode.HTTP_ERROR,
        f"{method} {url} answered {reply.status}",
        {"status": reply.status, "body": reply.excerpt()},
    )


def timeout_seconds(config: Mapping[str, Any], default: float = DEFAULT_TIMEOUT) -> float:
    value = config.get("timeout")
    return default if value is None else parse_duration(value, where="timeout").total_seconds()


def _request_options(config: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if config.get("headers"):
        options["headers"] = {str(k): str(v) for k, v in render(config["headers"], context).items()}
    if config.get("query"):
        options["params"] = {str(k): _query_value(v) for k, v in render(config["query"], context).items()}
    if "json" in config:
        options["json"] = render(config["json"], context)
    elif "body" in config:
        options["content"] = str(render(config["body"], context)).encode()
    return options


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@handler("http", config_schema=CONFIG_SCHEMA)
async def http_request(params: HandlerParams) -> StepResult:
    """Send the configured request; fail with HTTP_ERROR unless the answer is 2xx."""
    config = params.config
    context = params.execution.context
    method = str(config.get("method", "GET")).upper()
    url = str(render(config["url"], context))
    reply = await send(method, url, timeout=timeout_seconds(config), **_request_options(config, context))
    if isinstance(reply, StepResult):
        return reply
    if not 200 <= reply.status < 300:
        return status_failure(method, url, reply)
    return Result.success(reply.to_output())

"""``http``: call an HTTP endpoint.

Config: ``url``, ``method`` (default GET), ``headers``, ``query``, ``json`` (a body sent as
JSON) or ``body`` (text), ``timeout`` (a duration, default 30s). ``${...}`` templates in
url, headers, query, json and body are rendered against the context.

Where the request comes from, when both could say:

1. A config with a ``url`` is the request; the step's input is not used.
2. Without one (``config: {}``, as flows written for FlowMonkey on Node have it), the
   request is the step's input: an object with the same keys, already resolved by its
   input selector (a ``template`` input renders ``${...}`` itself, so nothing is rendered
   twice), and a ``body`` that is not a string is sent as JSON. The config's other keys
   (``timeout``, ``headers``, ...) are defaults the input overrides key by key.

An input that makes no request (no ``url``, an unknown key, a bad method) fails the step
with ``INPUT_ERROR`` saying what is wrong where.

Output: ``{status, headers, body}``; the body is parsed when the response says it is
JSON. A non-2xx answer fails the step with ``HTTP_ERROR`` and details ``{status, body}``
(an excerpt), as does a network error or timeout (``status`` None), so a retry policy
with ``retryOn: [HTTP_ERROR]`` can act on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx

from flowmonkey.durations import parse_duration
from flowmonkey.errors import ErrorCode
from flowmonkey.inputs import render
from flowmonkey.jsonvalues import path_of
from flowmonkey.model.schema import schema_problems
from flowmonkey.params import HandlerParams
from flowmonkey.registry import handler
from flowmonkey.result import Result, StepResult
from flowmonkey.tracing import inject_traceparent

DEFAULT_TIMEOUT = 30.0
EXCERPT = 500

DURATION_SCHEMA: dict[str, Any] = {
    "description": "seconds (a number) or a string like 250ms, 30s, 5m, 2h, 7d",
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$"},
    ],
}

_PROPERTIES: dict[str, Any] = {
    "url": {
        "type": "string",
        "minLength": 1,
        "description": "The URL; ${...} templates allowed. Without it the request is the step's input.",
    },
    "method": {
        "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
        "description": "The HTTP method (default GET).",
    },
    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
    "query": {"type": "object", "description": "Query parameters."},
    "json": {"description": "A body sent as JSON (templates keep types)."},
    "body": {"type": "string", "description": "A text body."},
    "timeout": DURATION_SCHEMA,
}
_ONE_BODY = {"required": ["json", "body"], "description": "both json and body (send one of them)"}

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": _PROPERTIES,
    "additionalProperties": False,
    "not": _ONE_BODY,
}

REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {**_PROPERTIES, "body": {"description": "A body: text as it is, anything else as JSON."}},
    "required": ["url"],
    "additionalProperties": False,
    "not": _ONE_BODY,
}
"""A request taken from the step's input (the config has no ``url``), defaults merged in."""

_TEMPLATED = ("url", "headers", "query", "json", "body")


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
    headers = dict(options.pop("headers", None) or {})
    inject_traceparent(headers)  # the step's span continues at the server (OpenTelemetry)
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.request(method, url, headers=headers, **options)
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


def _rendered(config: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """The config with its templated keys rendered against the context."""
    return {key: render(value, context) if key in _TEMPLATED else value for key, value in config.items()}


def request_of(params: HandlerParams) -> dict[str, Any] | StepResult:
    """The request to send: the config's if it has a ``url``, else the step's input over
    the config's defaults (see the module docstring); ``INPUT_ERROR`` if that is none."""
    request = _rendered(params.config, params.execution.context)
    if "url" in params.config:
        return request
    given = params.input
    if not isinstance(given, Mapping):
        return _no_request(f"the config has no url, and the step's input is {_kind(given)}, not a request")
    request.update(given)
    problems = schema_problems(_request_validator(), request)
    if problems:
        path, message = problems[0]
        where = path_of(path)
        return _no_request(
            f"the config has no url, and the request in the step's input is not usable: {where}: {message}"
        )
    return request


def _no_request(reason: str) -> StepResult:
    hint = "set config.url, or give the step an input with one, e.g. {type: template, template: {url: ...}}"
    return Result.failure(ErrorCode.INPUT_ERROR, f"http: {reason} ({hint})")


def _kind(value: Any) -> str:
    return "missing" if value is None else f"a {type(value).__name__}"


@cache
def _request_validator() -> Any:
    from jsonschema import Draft202012Validator  # slow to import: on first use

    return Draft202012Validator(REQUEST_SCHEMA)


def _request_options(request: Mapping[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if request.get("headers"):
        options["headers"] = {str(k): str(v) for k, v in request["headers"].items()}
    if request.get("query"):
        options["params"] = {str(k): _query_value(v) for k, v in request["query"].items()}
    if "json" in request:
        options["json"] = request["json"]
    elif isinstance(request.get("body"), str):
        options["content"] = request["body"].encode()
    elif "body" in request:
        options["json"] = request["body"]  # an object in a request from the input: JSON
    return options


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@handler("http", config_schema=CONFIG_SCHEMA, error_codes=[ErrorCode.HTTP_ERROR])
async def http_request(params: HandlerParams) -> StepResult:
    """Send the configured request (or the input's); fail with HTTP_ERROR unless the
    answer is 2xx."""
    request = request_of(params)
    if isinstance(request, StepResult):
        return request
    method = str(request.get("method", "GET")).upper()
    url = str(request["url"])
    reply = await send(method, url, timeout=timeout_seconds(request), **_request_options(request))
    if isinstance(reply, StepResult):
        return reply
    if not 200 <= reply.status < 300:
        return status_failure(method, url, reply)
    return Result.success(reply.to_output())

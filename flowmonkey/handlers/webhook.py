"""``webhook``: POST a JSON event to a URL.

Config: ``url`` (required, ``${...}`` allowed), ``event`` (the event name, default
``<flow id>.<step id>``), ``data`` (a template rendered against the context; default: the
step's input), ``headers``, ``secret`` (signs the body: header
``X-FlowMonkey-Signature: sha256=<hex HMAC>``), ``timeout`` (default 30s).

The body is ``{event, execution_id, flow_id, data}`` and the request carries an
``Idempotency-Key`` (execution, step, attempt) so receivers can drop repeats. A non-2xx
answer or a network error fails the step with ``HTTP_ERROR``. Output: ``{status, body}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from flowmonkey.handlers.http import DURATION_SCHEMA, send, status_failure, timeout_seconds
from flowmonkey.inputs import render
from flowmonkey.params import HandlerParams
from flowmonkey.registry import handler
from flowmonkey.result import Result, StepResult

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "minLength": 1},
        "event": {"type": "string", "minLength": 1},
        "data": {"description": "The payload; ${...} templates keep types. Default: the step's input."},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "secret": {"type": "string", "description": "Signs the body with HMAC-SHA256."},
        "timeout": DURATION_SCHEMA,
    },
    "required": ["url"],
    "additionalProperties": False,
}


def signature(secret: str, body: bytes) -> str:
    """The value of ``X-FlowMonkey-Signature`` for a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _payload(params: HandlerParams) -> dict[str, Any]:
    context = params.execution.context
    data = render(params.config["data"], context) if "data" in params.config else params.input
    return {
        "event": str(
            render(params.config.get("event", f"{params.execution.flow_id}.{params.step.id}"), context)
        ),
        "execution_id": params.execution.id,
        "flow_id": params.execution.flow_id,
        "data": data,
    }


@handler("webhook", config_schema=CONFIG_SCHEMA, error_codes=[])
async def webhook(params: HandlerParams) -> StepResult:
    """POST the event; fail with HTTP_ERROR unless the receiver answers 2xx."""
    context = params.execution.context
    url = str(render(params.config["url"], context))
    body = json.dumps(_payload(params), separators=(",", ":"), default=str).encode()
    headers = {str(k): str(v) for k, v in render(params.config.get("headers") or {}, context).items()}
    headers.update({"content-type": "application/json", "idempotency-key": params.idempotency_key})
    if params.config.get("secret"):
        headers["x-flowmonkey-signature"] = signature(str(params.config["secret"]), body)
    reply = await send("POST", url, timeout=timeout_seconds(params.config), content=body, headers=headers)
    if isinstance(reply, StepResult):
        return reply
    if not 200 <= reply.status < 300:
        return status_failure("POST", url, reply)
    return Result.success({"status": reply.status, "body": reply.body})

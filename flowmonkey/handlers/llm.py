"""``llm``: one chat completion from an OpenAI-compatible API.

Config: ``model`` (required), ``messages`` (a list of ``{role, content}``) or ``prompt``
(one user message), optional ``system``; ``${...}`` templates in all of them are rendered
against the context. ``temperature``, ``maxTokens``, ``timeout`` (default 60s).
``baseUrl`` and ``apiKey`` default to the handler's own (:func:`llm_handler`; the
``flowmonkey`` command, the worker and the console take them from ``OPENAI_BASE_URL`` and
``OPENAI_API_KEY``), else ``https://api.openai.com/v1`` and no key.

Output: ``{text, usage, model, finish_reason}``. Failures carry stable codes:
``LLM_AUTH`` (401/403), ``LLM_RATE_LIMITED`` (429), ``LLM_ERROR`` (other statuses and
network errors), ``LLM_BAD_RESPONSE`` (an answer without a message).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from flowmonkey.handlers.http import DURATION_SCHEMA, HttpReply, send, timeout_seconds
from flowmonkey.inputs import render
from flowmonkey.params import HandlerParams
from flowmonkey.registry import FunctionHandler, handler
from flowmonkey.result import Result, StepResult

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class LlmErrorCode(StrEnum):
    AUTH = "LLM_AUTH"
    RATE_LIMITED = "LLM_RATE_LIMITED"
    ERROR = "LLM_ERROR"
    BAD_RESPONSE = "LLM_BAD_RESPONSE"


_MESSAGE = {
    "type": "object",
    "properties": {"role": {"enum": ["system", "user", "assistant", "tool"]}, "content": {"type": "string"}},
    "required": ["role", "content"],
}

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "model": {"type": "string", "minLength": 1},
        "messages": {"type": "array", "items": _MESSAGE, "minItems": 1},
        "prompt": {"type": "string", "description": "One user message; ${...} templates allowed."},
        "system": {"type": "string", "description": "A system message put first."},
        "temperature": {"type": "number", "minimum": 0},
        "maxTokens": {"type": "integer", "minimum": 1},
        "baseUrl": {"type": "string", "description": "Default: $OPENAI_BASE_URL or the OpenAI API."},
        "apiKey": {"type": "string", "description": "Default: $OPENAI_API_KEY."},
        "timeout": DURATION_SCHEMA,
    },
    "required": ["model"],
    "description": "a model and either messages or a prompt",
    "oneOf": [{"required": ["messages"]}, {"required": ["prompt"]}],
    "additionalProperties": False,
}


def _messages(config: Mapping[str, Any], context: Mapping[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if config.get("system"):
        messages.append({"role": "system", "content": render(config["system"], context)})
    if "messages" in config:
        messages.extend(dict(m) for m in render(config["messages"], context))
    else:
        messages.append({"role": "user", "content": render(config["prompt"], context)})
    return messages


def _request(config: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"model": config["model"], "messages": _messages(config, context)}
    if "temperature" in config:
        body["temperature"] = config["temperature"]
    if "maxTokens" in config:
        body["max_tokens"] = config["maxTokens"]
    return body


def _status_failure(reply: HttpReply) -> StepResult:
    code = {401: LlmErrorCode.AUTH, 403: LlmErrorCode.AUTH, 429: LlmErrorCode.RATE_LIMITED}.get(
        reply.status, LlmErrorCode.ERROR
    )
    return Result.failure(
        code, f"the LLM API answered {reply.status}", {"status": reply.status, "body": reply.excerpt()}
    )


def _output(body: Any) -> StepResult:
    try:
        choice = body["choices"][0]
        text = choice["message"]["content"]
    except (KeyError, IndexError, TypeError):
        excerpt = HttpReply(status=200, headers={}, body=body).excerpt()
        return Result.failure(
            LlmErrorCode.BAD_RESPONSE, "the LLM API answered without a message", {"body": excerpt}
        )
    return Result.success(
        {
            "text": text if isinstance(text, str) else "",
            "usage": body.get("usage"),
            "model": body.get("model"),
            "finish_reason": choice.get("finish_reason"),
        }
    )


def llm_handler(*, base_url: str | None = None, api_key: str | None = None) -> FunctionHandler:
    """The ``llm`` handler, with the endpoint and key of steps that name none.

    Args:
        base_url: the API's base URL (default: the OpenAI API).
        api_key: the bearer key (default: none).
    """
    default_base = base_url or DEFAULT_BASE_URL

    @handler("llm", config_schema=CONFIG_SCHEMA)
    async def llm(params: HandlerParams) -> StepResult:
        """Ask the model; the reply text is the output."""
        config = params.config
        base = str(config.get("baseUrl") or default_base)
        return await _ask(config, params.execution.context, base, config.get("apiKey") or api_key)

    return llm


async def _ask(
    config: Mapping[str, Any], context: Mapping[str, Any], base: str, key: str | None
) -> StepResult:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    reply = await send(
        "POST",
        base.rstrip("/") + "/chat/completions",
        timeout=timeout_seconds(config, 60.0),
        json=_request(config, context),
        headers=headers,
    )
    if isinstance(reply, StepResult):
        return Result.failure(
            LlmErrorCode.ERROR, reply.error_message or "LLM request failed", reply.error_details
        )
    if not 200 <= reply.status < 300:
        return _status_failure(reply)
    return _output(reply.body)


llm = llm_handler()
"""The built-in ``llm`` handler: the OpenAI API, and only the keys steps give it."""

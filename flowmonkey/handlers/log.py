"""``log``: write a templated message to the ``flowmonkey.flows`` logger.

Config: ``message`` (``${...}`` templates rendered against the context), ``level``
(debug, info, warning, error; default info). Output: ``{"message": rendered}``.
"""

from __future__ import annotations

import logging
from typing import Any

from flowmonkey.inputs import render
from flowmonkey.params import HandlerParams
from flowmonkey.registry import handler
from flowmonkey.result import Result, StepResult

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
log = logging.getLogger("flowmonkey.flows")

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"message": {"type": "string"}, "level": {"enum": sorted(_LEVELS)}},
    "additionalProperties": False,
}


@handler("log", config_schema=CONFIG_SCHEMA, error_codes=[])
async def log_message(params: HandlerParams) -> StepResult:
    """Log a message rendered from the context."""
    template = params.config.get("message", "${}")
    message = render(template, params.execution.context)
    text = message if isinstance(message, str) else str(message)
    log.log(
        _LEVELS.get(params.config.get("level", "info"), logging.INFO),
        "%s [%s/%s]",
        text,
        params.execution.id,
        params.step.id,
    )
    return Result.success({"message": text})

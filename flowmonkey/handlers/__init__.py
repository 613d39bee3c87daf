"""Built-in handlers. :func:`builtin_handlers` lists them for a :class:`HandlerRegistry`."""

from __future__ import annotations

from flowmonkey.handlers.conditional import conditional
from flowmonkey.handlers.log import log_message
from flowmonkey.handlers.subflow import subflow
from flowmonkey.handlers.switch import switch
from flowmonkey.handlers.transform import transform
from flowmonkey.registry import Handler

__all__ = ["builtin_handlers", "conditional", "log_message", "subflow", "switch", "transform"]


def builtin_handlers() -> list[Handler]:
    """Every built-in handler, ready to register."""
    return [switch, conditional, subflow, transform, log_message]

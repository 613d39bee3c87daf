"""Built-in handlers. :func:`builtin_handlers` lists them for a :class:`HandlerRegistry`."""

from __future__ import annotations

from flowmonkey.handlers.approval import approval
from flowmonkey.handlers.conditional import conditional
from flowmonkey.handlers.delay import delay
from flowmonkey.handlers.http import http_request
from flowmonkey.handlers.job import job_handler, run_job
from flowmonkey.handlers.llm import llm
from flowmonkey.handlers.log import log_message
from flowmonkey.handlers.subflow import subflow
from flowmonkey.handlers.switch import switch
from flowmonkey.handlers.transform import transform
from flowmonkey.handlers.webhook import webhook
from flowmonkey.registry import Handler

__all__ = [
    "approval",
    "builtin_handlers",
    "conditional",
    "delay",
    "http_request",
    "job_handler",
    "llm",
    "log_message",
    "run_job",
    "subflow",
    "switch",
    "transform",
    "webhook",
]


def builtin_handlers() -> list[Handler]:
    """Every built-in handler, ready to register."""
    return [
        switch,
        conditional,
        subflow,
        transform,
        log_message,
        http_request,
        delay,
        approval,
        webhook,
        llm,
        job_handler,
    ]

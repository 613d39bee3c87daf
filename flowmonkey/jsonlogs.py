"""Structured logs: one JSON object per line, with the execution a line is about.

Every line has the same fields: ``time`` (UTC, ISO 8601), ``level``, ``event`` (the
message), ``logger``, ``execution_id``, ``flow``, ``step``, ``attempt``, ``worker`` (null
when they do not apply), and ``error`` (the exception and its traceback) when one was
logged. The execution's fields come from the log call's ``extra`` or, for any line
logged while a step runs (the engine's, a handler's own ``logging`` calls), from
:class:`StepLogContext`, an observer that remembers the step in progress per task.

Built on the standard library's :mod:`logging`: the engine and the handlers already log
through it, applications configure it, and a formatter plus a context variable is all a
JSON line needs, without a second logging API or another dependency.
"""

from __future__ import annotations

import json
import logging
from contextlib import AbstractContextManager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from flowmonkey.model import Execution
from flowmonkey.observers import Observer

FIELDS = ("time", "level", "event", "logger", "execution_id", "flow", "step", "attempt", "worker")
"""The fields of every line, in order."""

_EXECUTION_FIELDS = ("execution_id", "flow", "step", "attempt")
_current: ContextVar[dict[str, Any] | None] = ContextVar("flowmonkey_log_step", default=None)


class StepLogContext(Observer):
    """Remembers the step running in the current task, so its log lines name it."""

    def step(self, execution: Execution, step_id: str) -> AbstractContextManager[None]:
        return _Naming(
            {
                "execution_id": execution.id,
                "flow": execution.flow_id,
                "step": step_id,
                "attempt": execution.attempt,
            }
        )


class _Naming:
    """Names ``fields``' step in the log lines of the current task while it runs (a class:
    every step enters one, and a generator-based manager costs several times more)."""

    __slots__ = ("_fields", "_token")

    def __init__(self, fields: dict[str, Any]) -> None:
        self._fields = fields

    def __enter__(self) -> None:
        self._token = _current.set(self._fields)

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._token)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line (see the module docstring for the fields).

    Args:
        worker: the worker's id, on every line (None: the record's ``worker`` extra).
    """

    def __init__(self, worker: str | None = None) -> None:
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        step = _current.get() or {}
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            "logger": record.name,
        }
        for name in _EXECUTION_FIELDS:
            line[name] = getattr(record, name, None) or step.get(name)
        line["worker"] = getattr(record, "worker", None) or self.worker
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def text_formatter() -> logging.Formatter:
    """The plain format of ``--log-format text``."""
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


__all__ = ["FIELDS", "JsonFormatter", "StepLogContext", "text_formatter"]

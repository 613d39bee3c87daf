"""Triggers start flows: HTTP webhooks, cron schedules and named events.

See :class:`TriggerService`; ``http.py`` (Starlette routes and :func:`serve_http`),
``schedule.py`` (cron in IANA zones, DST rules, misfire policies), ``events.py`` (event
filters), ``sync.py`` (triggers declared in flow files), ``tokens.py`` (resume tokens) and
``cli.py`` (``flowmonkey emit``).
"""

from __future__ import annotations

from flowmonkey.triggers.config import DEFAULT_CONTEXT_KEY, TriggerError
from flowmonkey.triggers.http import DEFAULT_MAX_BODY, HttpServer, HttpTriggers, serve_http, sign_body
from flowmonkey.triggers.outcomes import NO_PAYLOAD, FireOutcome, FireStatus, TriggerStats
from flowmonkey.triggers.schedule import CronSchedule, Misfire, ScheduleConfig
from flowmonkey.triggers.service import TriggerService
from flowmonkey.triggers.sync import SyncReport
from flowmonkey.triggers.tokens import (
    DEFAULT_RESUME_TOKEN_TTL,
    ExpiredTokenError,
    InvalidTokenError,
    resume_token,
    sign_resume_token,
    verify_resume_token,
)

__all__ = [
    "DEFAULT_CONTEXT_KEY",
    "DEFAULT_MAX_BODY",
    "DEFAULT_RESUME_TOKEN_TTL",
    "NO_PAYLOAD",
    "CronSchedule",
    "ExpiredTokenError",
    "FireOutcome",
    "FireStatus",
    "HttpServer",
    "HttpTriggers",
    "InvalidTokenError",
    "Misfire",
    "ScheduleConfig",
    "SyncReport",
    "TriggerError",
    "TriggerService",
    "TriggerStats",
    "resume_token",
    "serve_http",
    "sign_body",
    "sign_resume_token",
    "verify_resume_token",
]

"""Triggers start flows: HTTP webhooks, cron schedules and named events.

See :class:`TriggerService`, a facade over ``catalog.py`` (the triggers in the store),
``firing.py`` (starting a flow, checking its payload, recording the fire), ``scheduler.py``
and ``schedule.py`` (cron in IANA zones, DST rules, misfire policies), ``sync.py``
(triggers declared in flow files), ``http.py`` (Starlette routes), ``server.py`` (:func:`serve_http`),
``bodies.py`` (strict JSON bodies), ``signatures.py`` (webhook signatures), ``refusal.py``
(what a failure answers), ``resuming.py`` and ``tokens.py`` (resume tokens); ``events.py`` (event filters),
``emitter.py`` (:func:`emit_from_store`, for ``flowmonkey emit``) and ``section.py`` (the
flow-file ``triggers:`` checker, :data:`TRIGGERS_SECTION`).
"""

from __future__ import annotations

from flowmonkey.errors import ExpiredTokenError, InvalidTokenError, TriggerError, TriggerNotFoundError
from flowmonkey.triggers.bodies import DEFAULT_MAX_DEPTH
from flowmonkey.triggers.config import DEFAULT_CONTEXT_KEY
from flowmonkey.triggers.emitter import emit_from_store
from flowmonkey.triggers.http import DEFAULT_MAX_BODY, HttpTriggers
from flowmonkey.triggers.outcomes import NO_PAYLOAD, FireOutcome, FireStatus, TriggerStats
from flowmonkey.triggers.schedule import CronSchedule, Misfire, ScheduleConfig
from flowmonkey.triggers.section import TRIGGERS_SECTION
from flowmonkey.triggers.server import HttpServer, serve_http
from flowmonkey.triggers.service import TriggerService
from flowmonkey.triggers.signatures import (
    DEFAULT_SIGNATURE_TOLERANCE,
    SIGNATURE_HEADER,
    sign_body,
    sign_request,
)
from flowmonkey.triggers.sync import SyncReport
from flowmonkey.triggers.tokens import (
    DEFAULT_RESUME_TOKEN_TTL,
    resume_token,
    sign_resume_token,
    token_cutoff,
    token_secrets,
    verify_resume_token,
)

__all__ = [
    "DEFAULT_CONTEXT_KEY",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_RESUME_TOKEN_TTL",
    "DEFAULT_SIGNATURE_TOLERANCE",
    "NO_PAYLOAD",
    "SIGNATURE_HEADER",
    "TRIGGERS_SECTION",
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
    "TriggerNotFoundError",
    "TriggerService",
    "TriggerStats",
    "emit_from_store",
    "resume_token",
    "serve_http",
    "sign_body",
    "sign_request",
    "sign_resume_token",
    "token_cutoff",
    "token_secrets",
    "verify_resume_token",
]

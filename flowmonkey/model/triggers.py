"""Triggers as stored: what starts a flow (a webhook, a schedule, an event) and each firing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class TriggerType(StrEnum):
    HTTP = "http"
    SCHEDULE = "schedule"
    EVENT = "event"


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerDefinition:
    """A persisted trigger. ``config`` holds the type's settings (cron, inputSchema, ...)."""

    id: str
    type: TriggerType
    flow_id: str
    flow_version: str | None = None
    enabled: bool = True
    config: dict[str, Any] = field(default_factory=dict)
    source: str | None = None  # the flow file that declared it, or None for the API
    created_at: datetime
    updated_at: datetime
    next_run_at: datetime | None = None
    last_fired_at: datetime | None = None
    last_status: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerFire:
    """One firing of a trigger, successful or not."""

    id: str
    trigger_id: str
    fired_at: datetime
    status: str  # "ok" | "failed" | "rejected"
    duration_ms: float = 0.0
    execution_id: str | None = None
    error: str | None = None
    slot_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookSignature:
    """A webhook signature seen by the store: the seen-set that makes a redelivered request
    an idempotent repeat, across workers and restarts.

    ``execution_id`` is the execution the first delivery started (``None`` while that
    delivery is still starting it). The row matters until ``expires_at``, when the
    signature's timestamp leaves the tolerance and the signature is refused anyway.
    """

    trigger_id: str
    signature: str
    execution_id: str | None = None
    seen_at: datetime
    expires_at: datetime

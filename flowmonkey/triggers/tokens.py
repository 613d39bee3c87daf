"""Resume tokens: an execution id, a step and an expiry, signed with the service's secret.

A waiting step (an approval, a callback) hands a token to the outside world; whoever
holds it may resume that execution at that step, through ``POST {base}/resume/{token}``,
and nothing else, until the token expires. A token is
``base64url(execution_id "\\n" step_id "\\n" expires) "." base64url(HMAC)`` with HMAC-SHA256
over the first part; ``expires`` is a Unix time in seconds, empty for a token that never
expires. The expiry is inside the signed part, so a holder cannot extend it. Tokens issued
before expiries existed (two fields) are still accepted and never expire.

Every instance that must accept a token needs the same secret (``TriggerService(secret=...)``;
``flowmonkey worker`` and the console pass ``FLOWMONKEY_SECRET``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flowmonkey.errors import ExpiredTokenError, InvalidTokenError

DEFAULT_RESUME_TOKEN_TTL = timedelta(days=30)
"""How long a resume token works unless ``TriggerService(resume_token_ttl=...)`` says otherwise."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeTarget:
    """What a valid token names: the execution, the step it may resume (or any), and
    until when (``None``: no expiry)."""

    execution_id: str
    step_id: str | None
    expires_at: datetime | None = None


def resume_token(
    execution_id: str,
    step_id: str | None = None,
    *,
    secret: str | bytes,
    ttl: timedelta | None = DEFAULT_RESUME_TOKEN_TTL,
    now: datetime | None = None,
) -> str:
    """A token for a handler to hand out (e.g. an approval link), signed with ``secret``:
    the secret the accepting :class:`TriggerService` was given.

    It expires ``ttl`` after ``now`` (default: the current time); ``ttl=None`` never expires.

    Raises:
        InvalidTokenError: ``secret`` is empty.
    """
    if not secret:
        raise InvalidTokenError("resume tokens need a secret: pass the TriggerService's secret=")
    key = secret.encode() if isinstance(secret, str) else secret
    expires_at = (now or datetime.now(UTC)) + ttl if ttl is not None else None
    return sign_resume_token(key, execution_id, step_id, expires_at=expires_at)


def sign_resume_token(
    secret: bytes, execution_id: str, step_id: str | None = None, *, expires_at: datetime | None = None
) -> str:
    """A URL-safe token that lets its holder resume ``execution_id`` at ``step_id`` until
    ``expires_at`` (``None``: for ever)."""
    expires = str(int(expires_at.timestamp())) if expires_at is not None else ""
    payload = _b64(f"{execution_id}\n{step_id or ''}\n{expires}".encode())
    return f"{payload}.{_b64(_mac(secret, payload))}"


def verify_resume_token(secret: bytes, token: str, *, now: datetime | None = None) -> ResumeTarget:
    """The target of a genuine, unexpired token (``now`` defaults to the current time).

    Raises:
        ExpiredTokenError: the token is genuine but expired at or before ``now``.
        InvalidTokenError: the token was not issued with ``secret`` (or was altered).
    """
    payload, _, signature = token.partition(".")
    try:
        given = _unb64(signature)
        target = _parse(_unb64(payload).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError, OSError):
        raise InvalidTokenError("resume token is malformed") from None
    # The signature is checked first, so only a genuine token learns that it expired.
    if not hmac.compare_digest(given, _mac(secret, payload)):
        raise InvalidTokenError("resume token signature does not match")
    if target.expires_at is not None and target.expires_at <= (now or datetime.now(UTC)):
        raise ExpiredTokenError(f"resume token expired at {target.expires_at.isoformat()}; ask for a new one")
    return target


def _parse(text: str) -> ResumeTarget:
    """Fields of a token's signed part: two (before expiries existed) or three."""
    fields = text.split("\n")
    if len(fields) not in (2, 3) or not fields[0]:
        raise ValueError("not a resume token")
    expires = fields[2] if len(fields) == 3 else ""
    return ResumeTarget(
        execution_id=fields[0],
        step_id=fields[1] or None,
        expires_at=datetime.fromtimestamp(int(expires), UTC) if expires else None,
    )


def _mac(secret: bytes, payload: str) -> bytes:
    return hmac.new(secret, payload.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

"""Resume tokens: one wait of one execution, until an expiry, signed with the service's secret.

A waiting step (an approval, a callback) hands a token to the outside world; whoever
holds it may resume that execution at that wait, through ``POST {base}/resume/{token}``,
and nothing else, until the token expires. A token is ``base64url(fields) "."
base64url(HMAC-SHA256(secret, base64url(fields)))`` where the fields, joined by newlines,
are::

    2  execution_id  step_id  visit  expires

``2`` is the format; ``visit`` is :attr:`Execution.visit` of the wait (the revision at
which that visit of the step began; a handler has it as ``params.visit``), so a token
handed out at one visit of a step cannot resume a later visit of the same step (a flow
that loops back); ``expires`` is a Unix time in seconds. Everything is inside the signed
part: a holder can extend, retarget or re-bind nothing. Every token has an expiry and
names its wait.

Tokens of the old forms (``execution_id, step_id`` with no expiry; or with an expiry
that may be empty, and a step that may be empty) are still accepted, as issued, until
the operator's cut-off (``legacy_until``); from then on they are refused as expired.

The signing is written here rather than taken from ``itsdangerous`` (what Starlette's
sessions use): the old tokens must keep verifying byte for byte, and they were made by
this scheme; the expiry is chosen per token by its issuer and signed into it, where
``itsdangerous``'s timed signer checks an age chosen by the verifier; and rotation (sign
with the first secret, verify with any) is one loop. The primitives are the standard
library's ``hmac`` with ``compare_digest``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flowmonkey.errors import ExpiredTokenError, InvalidArgumentError, InvalidTokenError

DEFAULT_RESUME_TOKEN_TTL = timedelta(days=30)
"""How long a resume token works unless ``TriggerService(resume_token_ttl=...)`` says otherwise."""

_FORMAT = "2"
Secrets = str | bytes | Sequence[str | bytes]
"""One secret, or several: the first signs, any verifies (to rotate without a break)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeTarget:
    """What a genuine token names: the execution, the step and visit of its wait, and
    until when. A ``legacy`` token (an old form) names no visit, and may name no step and
    no expiry."""

    execution_id: str
    step_id: str | None
    visit: int | None = None
    expires_at: datetime | None = None
    legacy: bool = False


def resume_token(
    execution_id: str,
    step_id: str,
    *,
    visit: int,
    secret: Secrets,
    ttl: timedelta = DEFAULT_RESUME_TOKEN_TTL,
    now: datetime | None = None,
) -> str:
    """A token for a handler to hand out (e.g. an approval link), signed with ``secret``
    (the accepting :class:`TriggerService`'s; the first, if several): it resumes this
    execution at the wait of ``step_id`` at ``visit`` (``params.visit``), until ``ttl``
    after ``now``.

    Raises:
        InvalidTokenError: ``secret`` is empty.
        InvalidArgumentError: ``ttl`` is not positive, or an id holds a line break.
    """
    keys = secret_keys(secret)
    if not keys:
        raise InvalidTokenError("resume tokens need a secret: pass the TriggerService's secret=")
    expires_at = (now or datetime.now(UTC)) + check_ttl(ttl)
    return sign_resume_token(keys[0], execution_id, step_id, visit=visit, expires_at=expires_at)


def sign_resume_token(
    secret: bytes, execution_id: str, step_id: str, *, visit: int, expires_at: datetime | None = None
) -> str:
    """A URL-safe token that lets its holder resume ``execution_id`` at the wait of
    ``step_id`` at ``visit``, until ``expires_at`` (default: :data:`DEFAULT_RESUME_TOKEN_TTL`
    from now)."""
    if any("\n" in part for part in (execution_id, step_id)) or not execution_id or not step_id:
        raise InvalidArgumentError("a resume token needs an execution id and a step id, without line breaks")
    expires_at = expires_at or datetime.now(UTC) + DEFAULT_RESUME_TOKEN_TTL
    fields = (_FORMAT, execution_id, step_id, str(int(visit)), str(int(expires_at.timestamp())))
    payload = _b64("\n".join(fields).encode())
    return f"{payload}.{_b64(_mac(secret, payload))}"


def verify_resume_token(
    secret: Secrets, token: str, *, now: datetime | None = None, legacy_until: datetime | None = None
) -> ResumeTarget:
    """The target of a genuine, unexpired token (``now`` defaults to the current time).

    Args:
        secret: the secret(s) a token may be signed with.
        token: the token.
        now: the time to check expiries against.
        legacy_until: tokens of the old forms are refused from this moment (None: never).

    Raises:
        ExpiredTokenError: the token is genuine but expired at or before ``now`` (or is of
            an old form, at or after ``legacy_until``).
        InvalidTokenError: the token was not issued with ``secret`` (or was altered).
    """
    payload, _, signature = token.partition(".")
    try:
        given = _unb64(signature)
        target = _parse(_unb64(payload).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError, OSError):
        raise InvalidTokenError("resume token is malformed") from None
    # The signature is checked first, so only a genuine token learns that it expired.
    if not any(hmac.compare_digest(given, _mac(key, payload)) for key in secret_keys(secret)):
        raise InvalidTokenError("resume token signature does not match")
    now = now or datetime.now(UTC)
    if target.legacy and legacy_until is not None and now >= legacy_until:
        raise ExpiredTokenError(
            f"resume tokens of the old form were accepted until {legacy_until.isoformat()}; ask for a new one"
        )
    if target.expires_at is not None and target.expires_at <= now:
        raise ExpiredTokenError(f"resume token expired at {target.expires_at.isoformat()}; ask for a new one")
    return target


def secret_keys(secret: Secrets | None) -> tuple[bytes, ...]:
    """The secret(s) as keys, in order, empty ones left out."""
    if secret is None:
        return ()
    given = [secret] if isinstance(secret, str | bytes) else list(secret)
    return tuple(s.encode() if isinstance(s, str) else bytes(s) for s in given if s)


def token_secrets(secret: str | None, fallbacks: str | None = None) -> tuple[str, ...]:
    """The secrets an edge read (``FLOWMONKEY_SECRET`` signs; the comma-separated
    ``FLOWMONKEY_SECRET_FALLBACKS`` are older ones still accepted), empty ones left out."""
    older = (part.strip() for part in (fallbacks or "").split(","))
    return tuple(s for s in (secret or "", *older) if s)


def token_cutoff(text: str) -> datetime:
    """An operator's cut-off (``2026-07-01`` or ``2026-07-01T12:00:00+02:00``; UTC when no
    zone is given), e.g. for the old tokens.

    Raises:
        InvalidArgumentError: ``text`` is not an ISO 8601 date or time.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidArgumentError(
            f"expected an ISO 8601 date or time such as 2026-07-01, got {text!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def check_ttl(ttl: timedelta | None) -> timedelta:
    """``ttl``, if it is a positive duration; else an :class:`InvalidArgumentError`."""
    if ttl is None or ttl <= timedelta(0):
        raise InvalidArgumentError(
            f"a resume token's ttl must be a positive duration (every token expires), not {ttl}"
        )
    return ttl


def _parse(text: str) -> ResumeTarget:
    """The fields of a token's signed part: the current form, or an old one."""
    fields = text.split("\n")
    if len(fields) == 5 and fields[0] == _FORMAT and fields[1] and fields[2]:
        expires = datetime.fromtimestamp(int(fields[4]), UTC)
        return ResumeTarget(
            execution_id=fields[1], step_id=fields[2], visit=int(fields[3]), expires_at=expires
        )
    if len(fields) not in (2, 3) or not fields[0]:
        raise ValueError("not a resume token")
    expires_at = datetime.fromtimestamp(int(fields[2]), UTC) if len(fields) == 3 and fields[2] else None
    return ResumeTarget(execution_id=fields[0], step_id=fields[1] or None, expires_at=expires_at, legacy=True)


def _mac(secret: bytes, payload: str) -> bytes:
    return hmac.new(secret, payload.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

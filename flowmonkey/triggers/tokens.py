"""Resume tokens: an execution id and step, signed with the service's secret.

A waiting step (an approval, a callback) hands a token to the outside world; whoever
holds it may resume that execution at that step, through ``POST {base}/resume/{token}``,
and nothing else. A token is ``base64url(execution_id "\\n" step_id) "." base64url(HMAC)``
with HMAC-SHA256 over the first part. Every instance that must accept a token needs the
same secret (``TriggerService(secret=...)`` or ``FLOWMONKEY_SECRET``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass

from flowmonkey.errors import ErrorCode, FlowMonkeyError


class InvalidTokenError(FlowMonkeyError):
    """The resume token is malformed or its signature does not match."""

    code = ErrorCode.INVALID_ARGUMENT


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeTarget:
    """What a valid token names: the execution, and the step it may resume (or any)."""

    execution_id: str
    step_id: str | None


def resume_token(execution_id: str, step_id: str | None = None, *, secret: str | bytes | None = None) -> str:
    """A token for a handler to hand out (e.g. an approval link), signed with ``secret`` or
    ``FLOWMONKEY_SECRET``, the secret a :class:`TriggerService` uses by default.

    Raises:
        InvalidTokenError: no secret is given and ``FLOWMONKEY_SECRET`` is not set.
    """
    secret = secret or os.environ.get("FLOWMONKEY_SECRET")
    if not secret:
        raise InvalidTokenError("set FLOWMONKEY_SECRET (or pass secret=) to issue resume tokens")
    return sign_resume_token(secret.encode() if isinstance(secret, str) else secret, execution_id, step_id)


def sign_resume_token(secret: bytes, execution_id: str, step_id: str | None = None) -> str:
    """A URL-safe token that lets its holder resume ``execution_id`` at ``step_id``."""
    payload = _b64(f"{execution_id}\n{step_id or ''}".encode())
    return f"{payload}.{_b64(_mac(secret, payload))}"


def verify_resume_token(secret: bytes, token: str) -> ResumeTarget:
    """The target of a genuine token.

    Raises:
        InvalidTokenError: the token was not issued with ``secret`` (or was altered).
    """
    payload, _, signature = token.partition(".")
    try:
        given = _unb64(signature)
        execution_id, _, step_id = _unb64(payload).decode().partition("\n")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidTokenError("resume token is malformed") from None
    if not execution_id or not hmac.compare_digest(given, _mac(secret, payload)):
        raise InvalidTokenError("resume token signature does not match")
    return ResumeTarget(execution_id=execution_id, step_id=step_id or None)


def _mac(secret: bytes, payload: str) -> bytes:
    return hmac.new(secret, payload.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

"""Resume tokens: what they name, who can forge them, and when they expire."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from flowmonkey.triggers import (
    DEFAULT_RESUME_TOKEN_TTL,
    ExpiredTokenError,
    InvalidTokenError,
    resume_token,
    sign_resume_token,
    verify_resume_token,
)

SECRET = b"secret"
NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def test_a_token_names_its_execution_step_and_expiry() -> None:
    token = sign_resume_token(SECRET, "exec-1", "approve", expires_at=NOW + timedelta(hours=1))
    target = verify_resume_token(SECRET, token, now=NOW)
    assert (target.execution_id, target.step_id, target.expires_at) == (
        "exec-1",
        "approve",
        NOW + timedelta(hours=1),
    )


def test_a_token_expires_at_its_expiry_and_says_so() -> None:
    token = sign_resume_token(SECRET, "exec-1", expires_at=NOW)
    assert verify_resume_token(SECRET, token, now=NOW - timedelta(seconds=1)).execution_id == "exec-1"
    with pytest.raises(ExpiredTokenError, match="expired at 2026-01-01T09:00:00"):
        verify_resume_token(SECRET, token, now=NOW)
    assert issubclass(ExpiredTokenError, InvalidTokenError)  # old `except InvalidTokenError` still holds


def test_the_expiry_cannot_be_extended_by_the_holder() -> None:
    token = sign_resume_token(SECRET, "exec-1", "s0", expires_at=NOW)
    _, _, signature = token.partition(".")
    later = base64.urlsafe_b64encode(f"exec-1\ns0\n{int(NOW.timestamp()) + 86400}".encode())
    forged = f"{later.rstrip(b'=').decode()}.{signature}"
    with pytest.raises(InvalidTokenError, match="signature does not match"):
        verify_resume_token(SECRET, forged, now=NOW)


def test_a_forged_expired_token_is_refused_as_forged_not_as_expired() -> None:
    token = sign_resume_token(b"other", "exec-1", expires_at=NOW - timedelta(days=1))
    with pytest.raises(InvalidTokenError, match="signature does not match") as raised:
        verify_resume_token(SECRET, token, now=NOW)
    assert not isinstance(raised.value, ExpiredTokenError)


def test_resume_token_defaults_to_thirty_days() -> None:
    token = resume_token("exec-1", secret="s", now=NOW)
    target = verify_resume_token(b"s", token, now=NOW)
    assert target.expires_at == NOW + DEFAULT_RESUME_TOKEN_TTL == NOW + timedelta(days=30)
    never = resume_token("exec-1", secret="s", ttl=None, now=NOW)
    assert verify_resume_token(b"s", never, now=NOW + timedelta(days=3650)).expires_at is None


def test_tokens_issued_before_expiries_existed_still_work() -> None:
    payload = base64.urlsafe_b64encode(b"exec-1\ns0").rstrip(b"=").decode()
    mac = hmac.new(SECRET, payload.encode(), hashlib.sha256).digest()
    legacy = f"{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    target = verify_resume_token(SECRET, legacy, now=NOW)
    assert (target.execution_id, target.step_id, target.expires_at) == ("exec-1", "s0", None)


@pytest.mark.parametrize(
    "token", ["", "abc", "!!!.!!!", "ZXhlYw.AAAA", "ZXhlYy0xCnMwCjk5OTk5OTk5OTk5OTk5OTk5.AA"]
)
def test_malformed_tokens_are_invalid(token: str) -> None:
    with pytest.raises(InvalidTokenError):
        verify_resume_token(SECRET, token, now=NOW)

"""Resume tokens: what they name, who can forge them, when they expire, and the old forms."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from flowmonkey import InvalidArgumentError
from flowmonkey.triggers import (
    DEFAULT_RESUME_TOKEN_TTL,
    ExpiredTokenError,
    InvalidTokenError,
    resume_token,
    sign_resume_token,
    token_cutoff,
    token_secrets,
    verify_resume_token,
)

SECRET = b"secret"
NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def legacy(*fields: str, secret: bytes = SECRET) -> str:
    """A token of an old form, as FlowMonkey 0.1 signed it."""
    payload = base64.urlsafe_b64encode("\n".join(fields).encode()).rstrip(b"=").decode()
    mac = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_a_token_names_its_execution_step_visit_and_expiry() -> None:
    token = sign_resume_token(SECRET, "exec-1", "approve", visit=7, expires_at=NOW + timedelta(hours=1))
    target = verify_resume_token(SECRET, token, now=NOW)
    assert (target.execution_id, target.step_id, target.visit, target.expires_at, target.legacy) == (
        "exec-1",
        "approve",
        7,
        NOW + timedelta(hours=1),
        False,
    )


def test_a_token_expires_at_its_expiry_and_says_so() -> None:
    token = sign_resume_token(SECRET, "exec-1", "s0", visit=0, expires_at=NOW)
    assert verify_resume_token(SECRET, token, now=NOW - timedelta(seconds=1)).execution_id == "exec-1"
    with pytest.raises(ExpiredTokenError, match="expired at 2026-01-01T09:00:00"):
        verify_resume_token(SECRET, token, now=NOW)
    assert issubclass(ExpiredTokenError, InvalidTokenError)  # old `except InvalidTokenError` still holds


@pytest.mark.parametrize("field", [1, 2, 3, 4])  # execution, step, visit, expiry
def test_nothing_in_a_token_can_be_changed_by_its_holder(field: int) -> None:
    token = sign_resume_token(SECRET, "exec-1", "s0", visit=3, expires_at=NOW)
    payload, _, signature = token.partition(".")
    fields = base64.urlsafe_b64decode(payload + "==").decode().split("\n")
    fields[field] = {1: "exec-2", 2: "s1", 3: "4", 4: str(int(NOW.timestamp()) + 86400)}[field]
    changed = base64.urlsafe_b64encode("\n".join(fields).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidTokenError, match="signature does not match"):
        verify_resume_token(SECRET, f"{changed}.{signature}", now=NOW - timedelta(hours=1))


def test_a_forged_expired_token_is_refused_as_forged_not_as_expired() -> None:
    token = sign_resume_token(b"other", "exec-1", "s0", visit=0, expires_at=NOW - timedelta(days=1))
    with pytest.raises(InvalidTokenError, match="signature does not match") as raised:
        verify_resume_token(SECRET, token, now=NOW)
    assert not isinstance(raised.value, ExpiredTokenError)


def test_every_new_token_expires_and_names_a_step() -> None:
    token = resume_token("exec-1", "s0", visit=0, secret="s", now=NOW)
    target = verify_resume_token(b"s", token, now=NOW)
    assert target.expires_at == NOW + DEFAULT_RESUME_TOKEN_TTL == NOW + timedelta(days=30)
    unbounded = sign_resume_token(SECRET, "exec-1", "s0", visit=0)  # no expiry given: the default one
    assert verify_resume_token(SECRET, unbounded).expires_at is not None
    for ttl in (None, timedelta(0), timedelta(seconds=-1)):
        with pytest.raises(InvalidArgumentError, match="every token expires"):
            resume_token("exec-1", "s0", visit=0, secret="s", ttl=ttl)  # type: ignore[arg-type]
    for step in ("", "two\nlines"):
        with pytest.raises(InvalidArgumentError, match="step id"):
            sign_resume_token(SECRET, "exec-1", step, visit=0)
    with pytest.raises(InvalidTokenError, match="secret"):
        resume_token("exec-1", "s0", visit=0, secret="")


def test_tokens_of_the_old_forms_work_until_the_cut_off() -> None:
    no_expiry = legacy("exec-1", "s0")
    any_step = legacy("exec-1", "", "")
    for token in (no_expiry, any_step):
        target = verify_resume_token(SECRET, token, now=NOW + timedelta(days=3650))
        assert target.legacy and target.expires_at is None and target.visit is None
    assert verify_resume_token(SECRET, any_step, now=NOW).step_id is None
    cut_off = NOW + timedelta(days=1)
    assert verify_resume_token(SECRET, no_expiry, now=NOW, legacy_until=cut_off).execution_id == "exec-1"
    with pytest.raises(ExpiredTokenError, match="old form were accepted until 2026-01-02T09:00:00"):
        verify_resume_token(SECRET, no_expiry, now=cut_off, legacy_until=cut_off)
    new = sign_resume_token(SECRET, "exec-1", "s0", visit=0, expires_at=NOW + timedelta(days=30))
    assert verify_resume_token(SECRET, new, now=cut_off, legacy_until=cut_off).execution_id == "exec-1"
    expiring = legacy("exec-1", "s0", str(int(NOW.timestamp())))  # an old form with an expiry keeps it
    with pytest.raises(ExpiredTokenError, match="expired at"):
        verify_resume_token(SECRET, expiring, now=NOW)


def test_a_forged_token_of_an_old_form_is_still_forged() -> None:
    with pytest.raises(InvalidTokenError, match="signature does not match"):
        verify_resume_token(SECRET, legacy("exec-1", "s0", secret=b"guess"), now=NOW)


def test_rotation_signs_with_the_first_secret_and_accepts_any() -> None:
    old = resume_token("exec-1", "s0", visit=0, secret="old", now=NOW)
    new = resume_token("exec-1", "s0", visit=0, secret=["new", "old"], now=NOW)
    assert verify_resume_token(["new", "old"], old, now=NOW).execution_id == "exec-1"
    assert verify_resume_token(["new"], new, now=NOW).execution_id == "exec-1"
    with pytest.raises(InvalidTokenError):
        verify_resume_token(["new"], old, now=NOW)  # the old secret dropped: its tokens end


def test_the_edges_read_secrets_and_a_cut_off() -> None:
    assert token_secrets("new", " old , older,") == ("new", "old", "older")
    assert token_secrets(None, None) == () and token_secrets("", "x") == ("x",)
    assert token_cutoff("2026-07-01") == datetime(2026, 7, 1, tzinfo=UTC)
    assert token_cutoff("2026-07-01T12:00:00+02:00") == datetime(2026, 7, 1, 10, tzinfo=UTC)
    with pytest.raises(InvalidArgumentError, match="ISO 8601"):
        token_cutoff("next tuesday")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "!!!.!!!",
        "ZXhlYw.AAAA",
        "ZXhlYy0xCnMwCjk5OTk5OTk5OTk5OTk5OTk5.AA",
        legacy("2", "exec-1", "s0", "x", "1"),  # five fields, a visit that is not a number
        legacy("exec-1", "s0", "9" * 5000),  # an expiry no clock reaches
    ],
)
def test_malformed_tokens_are_invalid(token: str) -> None:
    with pytest.raises(InvalidTokenError):
        verify_resume_token(SECRET, token, now=NOW)

"""Webhook signatures and strict bodies, without a server: the rules, and the README's
shell example computing what the server checks."""

from __future__ import annotations

import hmac
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowmonkey.triggers.bodies import parse_json
from flowmonkey.triggers.refusal import Refusal
from flowmonkey.triggers.signatures import SignaturePolicy, authenticate, sign_body, sign_request

README = Path(__file__).resolve().parents[2] / "README.md"
NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
T = int(NOW.timestamp())
BODY = b'{"order":{"id":"A-1","total":12.5}}'
POLICY = SignaturePolicy(secret="s3cret")


def check(header: str | None, *, body: bytes = BODY, policy: SignaturePolicy = POLICY, **more: str) -> str:
    """The signature accepted (its v1), or the 401's message."""
    headers = {"x-flowmonkey-signature": header} if header is not None else {}
    try:
        caller = authenticate(policy, {**headers, **more}, body, now=NOW, trigger_id="hook")
    except Refusal as refusal:
        assert refusal.status == 401
        return refusal.message
    return caller.signature.value if caller.signature else ("bearer" if caller.bearer else "legacy")


def test_a_fresh_signature_is_accepted_until_the_tolerance_either_way() -> None:
    header = sign_request("s3cret", BODY, timestamp=T)
    assert check(header) == header.rpartition("v1=")[2]
    edge = sign_request("s3cret", BODY, timestamp=T - 300)
    assert check(edge) == edge.rpartition("v1=")[2]
    assert "301 s from the server's time" in check(sign_request("s3cret", BODY, timestamp=T - 301))
    assert "301 s from the server's time" in check(sign_request("s3cret", BODY, timestamp=T + 301))
    wide = SignaturePolicy(secret="s3cret", tolerance=timedelta(hours=1))
    assert "s from" not in check(sign_request("s3cret", BODY, timestamp=T - 3000), policy=wide)


def test_the_window_is_checked_after_the_signature() -> None:
    forged_old = sign_request("guess", BODY, timestamp=T - 3600)
    assert "does not match" in check(forged_old)  # a forger learns nothing about the clock


def test_any_matching_v1_is_enough_and_it_is_the_one_remembered() -> None:
    good = sign_request("s3cret", BODY, timestamp=T).rpartition("v1=")[2]
    other = sign_request("old-secret", BODY, timestamp=T).rpartition("v1=")[2]
    assert check(f"t={T},v1={other},v1={good}") == good
    assert check(f"t={T}, v1={good.upper()}") == good  # spaces and case as senders write them


def test_the_signed_string_is_the_timestamp_a_dot_and_the_body() -> None:
    assert sign_request("k", b"{}", timestamp=1700000000) == (
        "t=1700000000,v1=" + hmac.new(b"k", b"1700000000.{}", "sha256").hexdigest()
    )


@pytest.mark.parametrize(
    "header",
    ["", "t=,v1=ab", "t=1,t=2,v1=ab", f"t={T}", "t=-5,v1=ab", "t=1e9,v1=ab", "t=\u0661,v1=ab", "x" * 2000],
)
def test_malformed_headers_say_the_format(header: str) -> None:
    assert "must be 't=<unix seconds>,v1=" in check(header)


def test_the_old_form_only_where_a_trigger_opts_in() -> None:
    old = sign_body("s3cret", BODY)
    assert "no longer accepted" in check(old)
    legacy = SignaturePolicy(secret="s3cret", legacy=True)
    assert check(old, policy=legacy) == "legacy"
    assert "does not match" in check(sign_body("s3cret", b"{}"), policy=legacy)


def test_a_bearer_of_the_secret_needs_no_signature() -> None:
    assert check(None, authorization="Bearer s3cret") == "bearer"
    assert "needs 'Authorization: Bearer" in check(None, authorization="Bearer s3cre")
    assert "needs 'Authorization: Bearer" in check(None, authorization="Basic czNjcmV0")


@pytest.mark.skipif(shutil.which("openssl") is None or shutil.which("bash") is None, reason="needs openssl")
def test_the_readme_shell_example_signs_what_the_server_checks() -> None:
    text = README.read_text()
    block = re.search(r"and with a shell:\n\n```sh\n(.*?)```", text, re.DOTALL)
    assert block is not None
    signing = [line for line in block.group(1).splitlines() if not line.startswith(("curl", "  -H"))]
    script = "\n".join([*signing, 'printf "%s %s" "$t" "$v1"'])
    out = subprocess.run(
        ["bash", "-c", script],
        env={"SECRET": "s3cret", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    t, v1 = out.stdout.split()
    body = re.search(r"body='(.*)'", block.group(1))
    assert body is not None
    assert sign_request("s3cret", body.group(1).encode(), timestamp=int(t)) == f"t={t},v1={v1}"


def test_an_unterminated_string_full_of_quotes_is_refused_quickly() -> None:
    # A naive string-stripping regex would take one pass per quote: minutes for this body.
    hostile = b'["' + b'\\"' * 200_000 + b"[" * 200
    with pytest.raises(Refusal) as refused:
        parse_json(hostile)
    assert refused.value.status == 400


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    assert parse_json(b'["' + b"[" * 1000 + b'", {"a": "]]]]"}]') == ["[" * 1000, {"a": "]]]]"}]
    escaped = b'["\\\\", ' + b"[" * 128 + b"]" * 128 + b"]"  # an escaped backslash ends no string early
    with pytest.raises(Refusal, match="nested too deeply"):
        parse_json(escaped)

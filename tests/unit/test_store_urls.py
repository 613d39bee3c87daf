"""Store URLs are checked before anything connects: what works is accepted, what cannot
work is one StoreURLError saying why, with the password masked."""

from __future__ import annotations

import pytest

from flowmonkey.errors import StoreError, StoreURLError
from flowmonkey.stores import check_store_url, open_store
from flowmonkey.stores._urls import mask_url


@pytest.mark.parametrize(
    "url",
    [
        "memory://",
        "sqlite:///relative/x.db",
        "sqlite:////abs/x.db?synchronous=full",
        "sqlite:///:memory:",
        "postgresql://u:pw@host/db",
        "postgres://host:5432/db",
        "postgresql:///db?host=/var/run/postgresql",
        "postgresql://u@[::1]:5433/db?sslmode=verify-full&sslrootcert=/ca.pem",
        "postgresql://u:pw@h1:5432,h2:5433/db?target_session_attrs=read-write",
        "postgresql://u:pw@h/db?application_name=worker-1&search_path=app&myapp.tenant=7",
        "postgresql://u:pw@h/db?options=-c%20statement_timeout%3D5s",
    ],
)
def test_urls_that_can_work_are_accepted(url: str) -> None:
    check_store_url(url)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://u:pw@[bad/x", "is malformed: Invalid IPv6 URL"),
        ("sqlite://nohost", "not a SQLite URL"),
        ("sqlite:///", "names no file"),
        ("bogus://x", "unknown store URL"),
        ("", "unknown store URL"),
        ("sqlite:///x.db?bogus=1", "unknown option 'bogus'"),
        ("sqlite:///x.db?synchronus=full", 'did you mean "synchronous"'),
        ("sqlite:///x.db?synchronous=sometimes", "expected one of normal, full"),
        ("postgresql://u:pw@h:99999/db", "port '99999'"),
        ("postgresql://u:pw@h:5432,h2:x/db", "port 'x'"),
        ("postgresql://u:pw@h/db?port=0", "port '0'"),
        ("postgresql://u:pw@h/db?sslmode=bogus", "sslmode='bogus'"),
        ("postgresql://u:pw@h/db?sslmod=require", 'did you mean "sslmode"'),
        ("postgresql://u:pw@h/db?foo=1", "unknown option 'foo'"),
        ("memory://?x=1", "memory:// takes nothing more"),
    ],
)
def test_urls_that_cannot_work_are_refused_saying_why(url: str, says: str) -> None:
    with pytest.raises(StoreURLError) as caught:
        open_store(url)
    assert says in caught.value.message
    assert isinstance(caught.value, StoreError) and not caught.value.transient
    assert ":pw@" not in caught.value.message


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:pw@host/db", "postgresql://u:***@host/db"),
        ("postgresql://u:pw@[bad/x", "postgresql://u:***@[bad/x"),
        ("postgresql://u:p@ss@host/db", "postgresql://u:***@host/db"),
        ("postgresql://u@host/db", "postgresql://u@host/db"),
        (
            "postgresql://host/db?user=u&password=pw&sslmode=require",
            "postgresql://host/db?user=u&password=***&sslmode=require",
        ),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_the_password_is_masked_even_in_urls_that_do_not_parse(url: str, masked: str) -> None:
    assert mask_url(url) == masked

"""Store URLs: each scheme's shape and options, checked before anything connects.

A URL that cannot work fails at once with one :class:`~flowmonkey.errors.StoreURLError`
that says what is wrong, with the password masked, rather than later as a driver's
traceback. What a server decides (is the host there, is the password right) is left to
opening the store.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from flowmonkey.errors import StoreURLError
from flowmonkey.model.schema import did_you_mean

EXPECTED = "expected memory://, sqlite:///path.db or postgresql://user:password@host:port/database"
SCHEMES = {"memory": "memory", "sqlite": "sqlite", "postgres": "postgresql", "postgresql": "postgresql"}

SQLITE_OPTIONS = ("synchronous",)

# What asyncpg reads from a URL's query; any other name it sends to the server as a
# setting, which refuses names it does not know only once connected. So other names
# are checked here: the server settings people pass this way, and any dotted name
# (an extension's or application's own setting).
POSTGRES_OPTIONS = (
    "host",
    "port",
    "user",
    "password",
    "passfile",
    "dbname",
    "database",
    "service",
    "sslmode",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "sslnegotiation",
    "sslcrl",
    "sslpassword",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "target_session_attrs",
    "krbsrvname",
    "gsslib",
)
POSTGRES_SETTINGS = (
    "application_name",
    "options",
    "search_path",
    "statement_timeout",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
    "idle_session_timeout",
    "timezone",
    "datestyle",
    "intervalstyle",
    "work_mem",
    "jit",
)
_CHOICES = {
    "sslmode": ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
    "target_session_attrs": ("any", "primary", "standby", "prefer-standby", "read-write", "read-only"),
}
_POSTGRES_TAKES = (
    "connection options (sslmode, sslrootcert, target_session_attrs, ...) and server settings such as"
    " application_name or search_path (any other as options=-c name=value)"
)
_CUSTOM_SETTING = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_.]*$")
_PASSWORD_OPTION = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def mask_url(url: str) -> str:
    """``url`` with its password (``user:password@``, ``?password=``) replaced by ``***``.

    Works on URLs too malformed to parse: everything between the user name and the last
    ``@`` counts as the password.
    """
    scheme, sep, rest = url.partition("://")
    if sep:
        userinfo, at, after = rest.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        if at and colon:
            rest = f"{user}:***@{after}"
        url = f"{scheme}{sep}{rest}"
    return _PASSWORD_OPTION.sub(r"\1***", url)


def store_kind(url: str) -> str:
    """``memory``, ``sqlite`` or ``postgresql``: which store ``url`` names (and it is well
    formed for it). Raises :class:`StoreURLError` otherwise."""
    scheme, sep, _ = url.partition(":")
    kind = SCHEMES.get(scheme.lower()) if sep else None
    if kind is None:
        raise StoreURLError(f"unknown store URL {mask_url(url)!r}: {EXPECTED}")
    if kind == "memory":
        if url.lower() != "memory://":
            raise StoreURLError(f"the store URL {mask_url(url)!r} is malformed: memory:// takes nothing more")
    elif kind == "sqlite":
        sqlite_url(url)
    else:
        check_postgres_url(url)
    return kind


def sqlite_url(url: str) -> tuple[str, dict[str, str]]:
    """The database path and query options of a ``sqlite:///...`` URL."""
    if not url.lower().startswith("sqlite:///"):
        raise StoreURLError(
            f"not a SQLite URL: {mask_url(url)!r} (expected sqlite:///relative.db or sqlite:////abs.db)"
        )
    path, _, query = url[len("sqlite:///") :].partition("?")
    if not path:
        raise StoreURLError(f"the SQLite URL {mask_url(url)!r} names no file")
    options = dict(_options(url, query))
    for name in options:
        if name not in SQLITE_OPTIONS:
            _unknown_option(url, name, SQLITE_OPTIONS)
    return path, options


def check_postgres_url(url: str) -> None:
    """Raise :class:`StoreURLError` unless ``url`` is a well-formed ``postgresql://`` URL
    whose options asyncpg or the server understand."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise StoreURLError(f"the store URL {mask_url(url)!r} is malformed: {exc}") from None
    if parts.scheme.lower() not in ("postgres", "postgresql") or not url[len(parts.scheme) :].startswith(
        "://"
    ):
        raise StoreURLError(f"the store URL {mask_url(url)!r} is malformed: {EXPECTED}")
    for host in parts.netloc.rpartition("@")[2].split(","):  # asyncpg takes h1:5432,h2:5433
        _check_port(url, host.rpartition("]")[2].partition(":")[2])
    for name, value in _options(url, parts.query):
        _check_postgres_option(url, name, value)


def postgres_settings_named(url: str) -> set[str]:
    """The server settings a ``postgresql://`` URL sets itself: as query names, or as
    ``-c name=value`` (``--name=value``) in its ``options``."""
    named: set[str] = set()
    for name, value in _options(url, urlsplit(url).query):
        if name == "options":
            named.update(m.lower().replace("-", "_") for m in _OPTIONS_SETTING.findall(value))
        elif name not in POSTGRES_OPTIONS:
            named.add(name.lower())
    return named


_OPTIONS_SETTING = re.compile(r"(?:-c\s*|--)([A-Za-z_][A-Za-z0-9_.-]*)=")


def _check_postgres_option(url: str, name: str, value: str) -> None:
    if name == "port":
        for port in value.split(","):
            _check_port(url, port)
    elif name in _CHOICES and value not in _CHOICES[name]:
        choices = ", ".join(_CHOICES[name])
        raise StoreURLError(f"{name}={value!r} in the store URL {mask_url(url)!r}: expected one of {choices}")
    known = name in POSTGRES_OPTIONS or name.lower() in POSTGRES_SETTINGS
    if not known and not _CUSTOM_SETTING.match(name):
        _unknown_option(url, name, (*POSTGRES_OPTIONS, *POSTGRES_SETTINGS), _POSTGRES_TAKES)


def _options(url: str, query: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise StoreURLError(f"the store URL {mask_url(url)!r} has a malformed query") from None


def _check_port(url: str, port: str) -> None:
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise StoreURLError(f"the store URL {mask_url(url)!r} has port {port!r}: expected a number 1-65535")


def _unknown_option(url: str, name: str, known: tuple[str, ...], takes: str | None = None) -> None:
    hint = did_you_mean(name, known)
    takes = takes or ", ".join(known)
    raise StoreURLError(f"unknown option {name!r} in the store URL {mask_url(url)!r}{hint}; it takes {takes}")

"""The SQL of the SQL stores, read from the package's ``.sql`` files.

``sql/<store>/migrations/NNNN_what.sql`` are the numbered migrations (see the package
docstring for their rules) and ``sql/<store>/queries.sql`` the store's fixed queries, each
under a ``-- name: ...`` line. In a query, ``{executions}`` (and ``{step_records}``,
``{triggers}``, ``{trigger_fires}``, ``{jobs}``) stands for that table's column list and
``{executions_params}`` for as many parameters, both taken from the column table
(:mod:`flowmonkey.stores._columns`), where the columns are defined once. A query named
with a leading ``_`` is a fragment: not a query of its own, it stands in the others as
``{name}`` (without the ``_``), so that two queries share one piece of SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable

from flowmonkey.errors import SchemaVersionError
from flowmonkey.stores._columns import TABLES

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
_MIGRATION = re.compile(r"^(\d{4})_\w+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered change of the schema: the same number on every store."""

    version: int
    name: str
    sql: str

    @property
    def empty(self) -> bool:
        """Only comments: the change concerns another store."""
        return not _query(self.sql)


def _folder(store: str) -> Traversable:
    return resources.files("flowmonkey.stores").joinpath("sql", store)


def migrations(store: str) -> tuple[Migration, ...]:
    """The store's migrations in order, numbered 1, 2, 3 ... without a gap."""
    found: list[Migration] = []
    for entry in _folder(store).joinpath("migrations").iterdir():
        match = _MIGRATION.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    numbers = [m.version for m in found]
    if numbers != list(range(1, len(found) + 1)):  # pragma: no cover - a packaging mistake
        raise RuntimeError(f"the {store} migrations are not numbered 1 to {len(found)}: {numbers}")
    return tuple(found)


def queries(store: str, parameter: str) -> dict[str, str]:
    """The store's named queries, column lists filled in.

    Args:
        store: ``sqlite`` or ``postgres``.
        parameter: the store's placeholder: ``?``, or ``$`` for ``$1, $2, ...``.
    """
    text = _folder(store).joinpath("queries.sql").read_text("utf-8")
    lists: dict[str, str] = {}
    for table in TABLES:
        lists[table.name] = table.column_list
        count = len(table.names)
        numbered = (f"${i}" for i in range(1, count + 1))
        lists[f"{table.name}_params"] = ", ".join(["?"] * count if parameter == "?" else numbered)
    parts = _NAME.split(text)
    named = dict(zip(parts[1::2], parts[2::2], strict=True))
    for fragment in [name for name in named if name.startswith("_")]:
        lists[fragment[1:]] = _query(named.pop(fragment)).format_map(lists)
    return {name: _query(body).format_map(lists) for name, body in named.items()}


def _query(body: str) -> str:
    """The statement without its comment lines (they are for the reader of the file; and
    a statement that the store extends must not end in one)."""
    return "\n".join(line for line in body.strip().splitlines() if not line.lstrip().startswith("--"))


def check_version(found: int, understood: int) -> None:
    """Refuse a database whose schema is newer than this code: it would misread its rows."""
    if found > understood:
        raise SchemaVersionError(
            f"the database has schema version {found}, newer than this FlowMonkey understands "
            f"(versions 1 to {understood}): upgrade FlowMonkey"
        )

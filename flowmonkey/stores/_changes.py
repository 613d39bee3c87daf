"""What a step's commit writes: the columns a :class:`~flowmonkey.change.Change` names.

A commit writes the state a step can change. The fields fixed at create (the flow pin,
tenant, parent, idempotency key, creation time) and the lease (claims' business) are left
out: leaving the indexed identity columns out of the UPDATE spares their indexes on every
step (SQLite: about 1.6 times the commits per second). SQLite writes only the columns a
change names (:func:`changed_columns`, :func:`commit_columns`); PostgreSQL writes every
commit column of a batch in one statement (:func:`commit_values`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flowmonkey.change import Change
from flowmonkey.errors import StoreError
from flowmonkey.model import Execution, ExecutionStatus
from flowmonkey.model.fields import Role
from flowmonkey.stores._columns import EXECUTIONS, Encoder, EncodeTime, compile_values

# (column, the Execution field it holds, how that field's value becomes the column's).
COMMIT_ENCODING: tuple[tuple[str, str, Encoder], ...] = tuple(
    (c.name, c.field, c.encode) for c in EXECUTIONS.columns if c.role is Role.STATE
)
COMMIT_COLUMNS = tuple(column for column, _, _ in COMMIT_ENCODING)
_ENDED = "(" + ", ".join(f"'{status.value}'" for status in ExecutionStatus if status.is_terminal) + ")"
_LEASE_COLUMNS = tuple(c.name for c in EXECUTIONS.columns if c.role is Role.LEASE)


def lease_given_back(status: str, row: str = "") -> str:
    """SQL assignments (each after a comma) that clear the lease when a commit ends its
    execution (see Store.commit) and keep it otherwise, which leaves the update heap-only
    on PostgreSQL when no indexed column changes. ``status`` is the commit's new status,
    ``row`` the prefix (``e.``) naming the row's current values."""
    ended = f"{status} IN {_ENDED}"
    return "".join(f", {c} = CASE WHEN {ended} THEN NULL ELSE {row}{c} END" for c in _LEASE_COLUMNS)


COMMIT_INDEXES: dict[str, tuple[int, ...]] = {}
"""Execution field -> the indexes into COMMIT_COLUMNS of its columns."""
for _index, (_column, _field, _) in enumerate(COMMIT_ENCODING):
    COMMIT_INDEXES[_field] = (*COMMIT_INDEXES.get(_field, ()), _index)


def commit_values(change: Change, enc: EncodeTime) -> tuple[Any, ...]:
    """The values of every column in :data:`COMMIT_COLUMNS` once ``change`` applies."""
    return commit_columns(change, _ALL, enc)


def changed_columns(change: Change) -> tuple[int, ...]:
    """Indexes into :data:`COMMIT_COLUMNS` of the columns ``change`` writes, in order."""
    names = tuple(change.fields)
    columns = _SHAPES.get(names)
    if columns is None:
        columns = _SHAPES[names] = tuple(sorted(i for name in names for i in COMMIT_INDEXES[name]))
    return columns


def commit_columns(change: Change, columns: tuple[int, ...], enc: EncodeTime) -> tuple[Any, ...]:
    """The values of the ``columns`` (indexes into :data:`COMMIT_COLUMNS`) once ``change``
    applies. A value JSON cannot hold is a StoreError naming the column and execution."""
    encode = _ENCODERS.get((columns, enc)) or _encoder(columns, enc)
    try:
        return encode(change.fields, change.base)
    except StoreError as exc:
        fields = change.fields
        column = next(c for c, n, _ in COMMIT_ENCODING if n in fields and _fails(c, change, enc))
        raise StoreError(
            f"the {column} of execution {change.base.id} is not JSON-serialisable: {exc.__cause__}"
        ) from exc


def _encoder(
    columns: tuple[int, ...], enc: EncodeTime
) -> Callable[[Mapping[str, Any], Execution], tuple[Any, ...]]:
    """The values of ``columns`` from a change's fields and its base, generated once per
    commit shape (a loop calling each column's encoder cost PostgreSQL a tenth of a step)."""
    encode: Callable[[Mapping[str, Any], Execution], tuple[Any, ...]] = compile_values(
        [_COMMIT_TABLE_COLUMNS[i] for i in columns],
        enc,
        "f, b",
        lambda field: f"(f[{field!r}] if {field!r} in f else b.{field})",
    )
    _ENCODERS[columns, enc] = encode
    return encode


_ALL = tuple(range(len(COMMIT_ENCODING)))
# Commits come in few shapes (which fields change): their columns and plans are cached.
_SHAPES: dict[tuple[str, ...], tuple[int, ...]] = {}
_ENCODERS: dict[
    tuple[tuple[int, ...], EncodeTime], Callable[[Mapping[str, Any], Execution], tuple[Any, ...]]
] = {}
_COMMIT_TABLE_COLUMNS = tuple(c for c in EXECUTIONS.columns if c.role is Role.STATE)


def _fails(column: str, change: Change, enc: EncodeTime) -> bool:
    _, name, encode = COMMIT_ENCODING[COMMIT_COLUMNS.index(column)]
    try:
        encode(change.value(name), enc)
    except StoreError:
        return True
    return False

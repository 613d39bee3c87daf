"""The SQL stores' tables, derived from the model's records.

A record (an :class:`~flowmonkey.model.Execution`, a history entry, a trigger, a fire, a
job) is one row of its table, and its columns are the record's fields in order: the
dataclass is the one place they are written (:mod:`flowmonkey.model.fields`). A nested
record's fields become columns of their own (``timeout`` is ``timeout_execution_s`` and
``timeout_wait_s``: a duration is kept in seconds). A column's SQL types and codec follow
from its field's shape, through :data:`SHAPES`.

The migrations (``sql/<store>/migrations/*.sql``) create the same columns; a test compares
every table here with the database both stores build, so the two cannot drift apart.
Times are converted by a per-store codec passed in as functions (SQLite keeps integer
microseconds; asyncpg reads and writes aware datetimes itself, :func:`as_is`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from flowmonkey import jsonvalues
from flowmonkey.errors import NotJsonError, StoreError
from flowmonkey.model import Execution, Job, StepRecord, TriggerDefinition, TriggerFire, WebhookSignature
from flowmonkey.model.fields import FieldSpec, Role, Shape, enum_decoder, record_fields

R = TypeVar("R")
EncodeTime = Callable[[datetime | None], Any]
DecodeTime = Callable[[Any], datetime | None]
Encoder = Callable[[Any, EncodeTime], Any]
"""A field's value -> its column's value, given the store's time encoder."""


def as_is(value: Any) -> Any:
    """The time codec of a driver that converts datetimes itself."""
    return value


def dumps(value: Any, what: str, *args: Any) -> str:
    """Strict JSON text of ``value`` (:mod:`flowmonkey.jsonvalues`: the same on every
    store); a value that is not becomes a StoreError (not transient) naming ``what``
    (formatted with ``args`` only then: this runs for every step) and the JSON path."""
    if not value and isinstance(value, dict):
        return "{}"
    try:
        return jsonvalues.encode(value)
    except NotJsonError as exc:
        raise StoreError(f"{what.format(*args) if args else what} is not JSON-serialisable: {exc}") from exc


def dumps_optional(value: Any, what: str, *args: Any) -> str | None:
    return None if value is None else dumps(value, what, *args)


# -- shapes -------------------------------------------------------------------------------


def _same(value: Any, enc: EncodeTime) -> Any:
    return value


def _time(value: Any, enc: EncodeTime) -> Any:
    return enc(value)


def _seconds(value: timedelta, enc: EncodeTime) -> float:
    return value.total_seconds()


def _enum_value(value: Any, enc: EncodeTime) -> Any:
    return value._value_  # what ``.value`` returns, without its descriptor (5x slower)


def _json(value: Any, enc: EncodeTime) -> str:
    return dumps(value, "the value")


def _object(value: Any, enc: EncodeTime) -> str:
    return dumps(value.to_dict(), "the value")


def _from_json(cls: Any) -> Callable[[Any], Any]:
    return json.loads


def _from_seconds(cls: Any) -> Callable[[Any], Any]:
    return _delta


def _delta(value: Any) -> timedelta:
    return timedelta(seconds=value)


def _constructor(cls: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return cls


def _from_object(cls: Any) -> Callable[[Any], Any]:
    def decode(value: Any) -> Any:
        return cls.from_dict(json.loads(value))

    return decode


@dataclass(frozen=True, slots=True)
class ShapeCodec:
    """How fields of one shape are kept in a column.

    Attributes:
        sqlite: the column's type on SQLite.
        postgres: the column's type on PostgreSQL.
        encode: a value (not None) -> the column's value.
        decoder: the field's type -> a function from a column's value (not None) to the
            field's; None: the driver's value is the field's.
    """

    sqlite: str
    postgres: str
    encode: Encoder
    decoder: Callable[[Any], Callable[[Any], Any]] | None = None


SHAPES: dict[Shape, ShapeCodec] = {
    Shape.TEXT: ShapeCodec("TEXT", "text", _same),
    Shape.INTEGER: ShapeCodec("INTEGER", "integer", _same),
    Shape.REAL: ShapeCodec("REAL", "double precision", _same),
    Shape.BOOLEAN: ShapeCodec("INTEGER", "boolean", _same, _constructor),
    Shape.TIME: ShapeCodec("INTEGER", "timestamptz", _time),  # decoded by the store's codec
    Shape.DURATION: ShapeCodec("REAL", "double precision", _seconds, _from_seconds),
    Shape.ENUM: ShapeCodec("TEXT", "text", _enum_value, enum_decoder),
    Shape.JSON: ShapeCodec("TEXT", "jsonb", _json, _from_json),
    Shape.OBJECT: ShapeCodec("TEXT", "jsonb", _object, _from_object),
}


# -- columns ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    """One column: the record field it holds (and the part of it, for a nested record)."""

    name: str
    field: str
    part: str | None
    spec: FieldSpec  # the field's, or the part's
    role: Role
    encode: Encoder
    """The field's value -> this column's (None stays None)."""

    @property
    def nullable(self) -> bool:
        return self.spec.nullable

    @property
    def sqlite_type(self) -> str:
        return SHAPES[self.spec.shape].sqlite

    @property
    def postgres_type(self) -> str:
        return SHAPES[self.spec.shape].postgres

    def decoder(self, dec: DecodeTime) -> Callable[[Any], Any] | None:
        """A column's value (not NULL) -> the field's (or the part's); None when they are
        the same."""
        if self.spec.shape is Shape.TIME:
            return None if dec is as_is else dec  # a store's time codec handles None
        make = SHAPES[self.spec.shape].decoder
        return None if make is None else make(self.spec.type)


def _column_encoder(spec: FieldSpec, part: str | None) -> Encoder:
    encode = SHAPES[spec.shape].encode
    if part is not None:

        def encode_part(value: Any, enc: EncodeTime) -> Any:
            inner = getattr(value, part)
            return None if inner is None else encode(inner, enc)

        return encode_part
    if encode in (_time, _same) or not spec.nullable:
        return encode  # these pass None through themselves, or never see it

    def encode_value(value: Any, enc: EncodeTime) -> Any:
        return None if value is None else encode(value, enc)

    return encode_value


def _columns(record: type) -> tuple[Column, ...]:
    columns: list[Column] = []
    for spec in record_fields(record):
        if spec.shape is not Shape.NESTED:
            name = f"{spec.name}_s" if spec.shape is Shape.DURATION else spec.name
            columns.append(Column(name, spec.name, None, spec, spec.role, _column_encoder(spec, None)))
            continue
        for part in record_fields(spec.type):
            suffix = "_s" if part.shape is Shape.DURATION else ""
            name = f"{spec.name}_{part.name}{suffix}"
            encode = _column_encoder(part, part.name)
            columns.append(Column(name, spec.name, part.name, part, spec.role, encode))
    return tuple(columns)


# -- tables -------------------------------------------------------------------------------


class Table(Generic[R]):
    """The table of one record type: its columns, and rows to records and back.

    Args:
        name: the SQL table.
        record: the dataclass of a row.
        describe: names a record in error messages ("execution 01H...").
    """

    def __init__(self, name: str, record: type[R], describe: Callable[[R], str]) -> None:
        self.name = name
        self.record = record
        self.columns = _columns(record)
        self.names = tuple(c.name for c in self.columns)
        self.column_list = ", ".join(self.names)
        self._describe = describe
        self._encoders: dict[EncodeTime, Callable[[R], tuple[Any, ...]]] = {}
        self._decoders: dict[DecodeTime, Callable[[Sequence[Any]], R]] = {}

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def values(self, record: R, enc: EncodeTime) -> tuple[Any, ...]:
        """The row of ``record``, in column order. A value JSON cannot hold is a
        StoreError naming the column and the record."""
        encode = self._encoders.get(enc) or self._encoder_for(enc)
        try:
            return encode(record)
        except StoreError as exc:
            raise self.unserialisable(record, enc, exc) from exc

    def unserialisable(self, record: R, enc: EncodeTime, exc: StoreError) -> StoreError:
        column = next(c for c in self.columns if _fails(c, getattr(record, c.field), enc))
        return StoreError(
            f"the {column.name} of {self._describe(record)} is not JSON-serialisable: {exc.__cause__}"
        )

    def from_row(self, row: Sequence[Any], dec: DecodeTime) -> R:
        """The record of ``row``, whose columns are :attr:`names`, in order."""
        decode = self._decoders.get(dec) or self._decoder_for(dec)
        return decode(row)

    # Both directions are generated once per time codec, as dataclasses generate
    # __init__: decoding runs on every read, and a loop over the columns measured a
    # quarter slower than the code it writes.

    def _decoder_for(self, dec: DecodeTime) -> Callable[[Sequence[Any]], R]:
        decode = _compile_decoder(self.record, self.columns, dec)
        self._decoders[dec] = decode
        return decode

    def _encoder_for(self, enc: EncodeTime) -> Callable[[R], tuple[Any, ...]]:
        encode = _compile_encoder(self.columns, enc)
        self._encoders[enc] = encode
        return encode


def _compile_encoder(columns: Sequence[Column], enc: EncodeTime) -> Callable[[Any], tuple[Any, ...]]:
    values_of: Callable[[Any], tuple[Any, ...]] = compile_values(
        columns, enc, "r", lambda field: f"r.{field}"
    )
    return values_of


def compile_values(
    columns: Sequence[Column], enc: EncodeTime, arguments: str, source: Callable[[str], str]
) -> Any:
    """A function of ``arguments`` returning the ``columns``' values, each encoded from the
    field value the expression ``source(field)`` reads; the encoders written inline."""
    scope: dict[str, Any] = {"enc": enc}
    values: list[str] = []
    for i, column in enumerate(columns):
        encode, value = SHAPES[column.spec.shape].encode, source(column.field)
        if column.part is None and encode is _same:
            values.append(value)
        elif column.part is None and encode is _time:
            values.append(f"enc({value})" if enc is not as_is else value)
        elif column.part is None and column.spec.nullable:  # inline, not a call of a wrapper
            scope[f"s{i}"] = encode
            values.append(f"(None if (v{i} := {value}) is None else s{i}(v{i}, enc))")
        else:
            scope[f"e{i}"] = column.encode
            values.append(f"e{i}({value}, enc)")
    return _compiled("values", arguments, f"({', '.join(values)},)", scope)


def _compiled(name: str, argument: str, body: str, scope: dict[str, Any], unpack: str = "") -> Any:
    source = f"def {name}({argument}):\n{unpack}    return {body}\n"
    exec(source, scope)  # the source is built here from the dataclass's own field names
    return scope[name]


def _compile_decoder(
    record: type[R], columns: Sequence[Column], dec: DecodeTime
) -> Callable[[Sequence[Any]], R]:
    scope: dict[str, Any] = {"record": record}
    fields: dict[str, str] = {}
    parts: dict[str, list[str]] = {}
    for i, column in enumerate(columns):
        expression = f"c{i}"
        decoder = column.decoder(dec)
        if decoder is not None:
            scope[f"d{i}"] = decoder
            expression = f"d{i}(c{i})" if not column.nullable else f"None if c{i} is None else d{i}(c{i})"
        if column.part is None:
            fields[column.field] = expression
        else:
            parts.setdefault(column.field, []).append(f"{column.part}={expression}")
    for name, arguments in parts.items():
        scope[f"t_{name}"] = next(s.type for s in record_fields(record) if s.name == name)
        fields[name] = f"t_{name}({', '.join(arguments)})"
    unpack = f"    {', '.join(f'c{i}' for i in range(len(columns)))}, = row\n"
    body = f"record({', '.join(f'{name}={value}' for name, value in fields.items())})"
    decode: Callable[[Sequence[Any]], R] = _compiled("from_row", "row", body, scope, unpack)
    return decode


def _fails(column: Column, value: Any, enc: EncodeTime) -> bool:
    try:
        column.encode(value, enc)
    except StoreError:
        return True
    return False


EXECUTIONS: Table[Execution] = Table("executions", Execution, lambda e: f"execution {e.id}")
STEP_RECORDS: Table[StepRecord] = Table(
    "step_records", StepRecord, lambda r: f"step {r.step_id!r} of execution {r.execution_id}"
)
TRIGGERS: Table[TriggerDefinition] = Table("triggers", TriggerDefinition, lambda t: f"trigger {t.id!r}")
TRIGGER_FIRES: Table[TriggerFire] = Table("trigger_fires", TriggerFire, lambda f: f"fire {f.id}")
JOBS: Table[Job] = Table("jobs", Job, lambda j: f"job {j.id}")
WEBHOOK_SIGNATURES: Table[WebhookSignature] = Table(
    "webhook_signatures", WebhookSignature, lambda s: f"a signature of trigger {s.trigger_id!r}"
)
TABLES = (EXECUTIONS, STEP_RECORDS, TRIGGERS, TRIGGER_FIRES, JOBS, WEBHOOK_SIGNATURES)

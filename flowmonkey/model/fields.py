"""The shape of each field of the model's records, read from their dataclasses.

A record's fields are written once, in its dataclass. What else needs them derives them
from here: ``to_dict`` / ``from_dict`` (:func:`to_json`, :func:`from_json`) and the SQL
stores' columns (:mod:`flowmonkey.stores._columns`). A field's *shape* follows from its
type annotation (``datetime | None`` is a nullable time, a ``StrEnum`` is stored by value,
a class with ``to_dict``/``from_dict`` is an object, another dataclass is nested); its
*role* is set in the dataclass with ``field(metadata=FIXED)`` or ``LEASE``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum, StrEnum
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


class Shape(StrEnum):
    """How a field's value is kept: what the codecs of JSON and of the stores dispatch on."""

    TEXT = "text"
    INTEGER = "integer"
    REAL = "real"
    BOOLEAN = "boolean"
    TIME = "time"
    DURATION = "duration"
    ENUM = "enum"  # a StrEnum, kept as its value
    JSON = "json"  # JSON-shaped data (a dict, or any JSON value)
    OBJECT = "object"  # a value class with to_dict() / from_dict()
    NESTED = "nested"  # a dataclass whose fields are kept as fields of their own


class Role(StrEnum):
    """Who writes a field of an execution."""

    STATE = "state"  # a step's commit (the default)
    FIXED = "fixed"  # set at create, never changed
    LEASE = "lease"  # claims, renewals and releases only


FIXED: Mapping[str, Any] = types.MappingProxyType({"role": Role.FIXED})
LEASE: Mapping[str, Any] = types.MappingProxyType({"role": Role.LEASE})


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a record: its name, shape, type (the class for ENUM, OBJECT and
    NESTED), whether it may be None, and who writes it."""

    name: str
    shape: Shape
    type: Any
    nullable: bool
    role: Role
    required: bool  # no default


_SHAPES: dict[Any, Shape] = {
    str: Shape.TEXT,
    int: Shape.INTEGER,
    float: Shape.REAL,
    bool: Shape.BOOLEAN,
    datetime: Shape.TIME,
    timedelta: Shape.DURATION,
    dict: Shape.JSON,
    Any: Shape.JSON,
}


def record_fields(cls: Any) -> tuple[FieldSpec, ...]:
    """The fields of the dataclass ``cls``, in order, with their shapes."""
    specs = _FIELDS.get(cls)
    if specs is None:
        hints = typing.get_type_hints(cls)
        specs = _FIELDS[cls] = tuple(_spec(cls, f, hints[f.name]) for f in dataclasses.fields(cls))
    return specs


_FIELDS: dict[Any, tuple[FieldSpec, ...]] = {}


def _spec(cls: type, field: dataclasses.Field[Any], hint: Any) -> FieldSpec:
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) else ()
    nullable = type(None) in args or hint is Any
    kind = next((a for a in args if a is not type(None)), hint) if args else hint
    kind = typing.get_origin(kind) or kind
    return FieldSpec(
        name=field.name,
        shape=_shape(kind, f"{cls.__name__}.{field.name}"),
        type=kind,
        nullable=nullable,
        role=field.metadata.get("role", Role.STATE),
        required=field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING,
    )


def _shape(kind: Any, where: str) -> Shape:
    if kind in _SHAPES:
        return _SHAPES[kind]
    if isinstance(kind, type) and issubclass(kind, Enum):
        return Shape.ENUM
    if hasattr(kind, "from_dict") and hasattr(kind, "to_dict"):
        return Shape.OBJECT
    if dataclasses.is_dataclass(kind):
        return Shape.NESTED
    raise TypeError(f"{where}: no shape for the type {kind!r}")  # a new kind of field: add it


# -- JSON: to_dict / from_dict -----------------------------------------------------------


def _same(value: Any, kind: Any) -> Any:
    return value


def _iso(value: datetime, kind: Any) -> str:
    return value.isoformat()


def _seconds(value: timedelta, kind: Any) -> float:
    return value.total_seconds()


def _to_value(value: Enum, kind: Any) -> Any:
    return value._value_  # what ``.value`` returns, without its descriptor (5x slower)


def _to_dict(value: Any, kind: Any) -> Any:
    return value.to_dict()


def _nested_to_json(value: Any, kind: Any) -> dict[str, Any]:
    return to_json(value)


_TO_JSON: dict[Shape, Callable[[Any, Any], Any]] = {
    Shape.TEXT: _same,
    Shape.INTEGER: _same,
    Shape.REAL: _same,
    Shape.BOOLEAN: _same,
    Shape.TIME: _iso,
    Shape.DURATION: _seconds,
    Shape.ENUM: _to_value,
    Shape.JSON: _same,
    Shape.OBJECT: _to_dict,
    Shape.NESTED: _nested_to_json,
}


def to_json(record: Any) -> dict[str, Any]:
    """A JSON-ready dict of a dataclass record: times as ISO 8601, durations in seconds,
    enums by value, objects through their ``to_dict``."""
    out: dict[str, Any] = {}
    for spec in record_fields(type(record)):
        value = getattr(record, spec.name)
        out[spec.name] = None if value is None else _TO_JSON[spec.shape](value, spec.type)
    return out


def parse_time(value: Any) -> datetime:
    """A datetime from a datetime or an ISO 8601 string; naive ones are taken as UTC."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _time(value: Any, kind: Any) -> datetime:
    return parse_time(value)


def _duration(value: Any, kind: Any) -> timedelta:
    return timedelta(seconds=float(value))


def _cast(value: Any, kind: Any) -> Any:
    return kind(value)


def _member(value: Any, kind: Any) -> Any:
    return enum_decoder(kind)(value)


@cache
def enum_decoder(kind: type[Enum]) -> Callable[[Any], Any]:
    """``kind(value)`` by a dictionary look-up (an enum's call costs about 0.75 us a
    value, and every stored status passes here); a value that is no member still raises
    the enum's own error."""
    members = {member._value_: member for member in kind}

    def decode(value: Any) -> Any:
        member = members.get(value)
        return member if member is not None else kind(value)

    return decode


def _from_dict(value: Any, kind: Any) -> Any:
    return kind.from_dict(value)


def _nested_from_json(value: Any, kind: Any) -> Any:
    return from_json(kind, value)


_FROM_JSON: dict[Shape, Callable[[Any, Any], Any]] = {
    Shape.TEXT: _same,
    Shape.INTEGER: _cast,
    Shape.REAL: _cast,
    Shape.BOOLEAN: _cast,
    Shape.TIME: _time,
    Shape.DURATION: _duration,
    Shape.ENUM: _member,
    Shape.JSON: _same,
    Shape.OBJECT: _from_dict,
    Shape.NESTED: _nested_from_json,
}


def from_json(cls: type[T], data: Mapping[str, Any]) -> T:
    """The record ``cls`` from a dict :func:`to_json` made. A field whose key is missing
    or None (or empty, for an enum or an object) gets its default, else None or ``{}``."""
    values: dict[str, Any] = {}
    for spec in record_fields(cls):
        value = data.get(spec.name)
        if value is not None and (value or spec.shape not in _EMPTY_IS_NONE):
            values[spec.name] = _FROM_JSON[spec.shape](value, spec.type)
        elif spec.required and (spec.nullable or spec.type is dict):
            values[spec.name] = None if spec.nullable else {}
        # else the constructor says which field is missing
    return cls(**values)


_EMPTY_IS_NONE = frozenset({Shape.ENUM, Shape.OBJECT})

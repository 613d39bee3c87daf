"""Strict JSON: the one encoding of everything FlowMonkey stores.

A value is stored only if it is JSON that every store keeps the same way: objects with
string keys, arrays, strings without NUL or lone surrogates (PostgreSQL's ``jsonb``
refuses both), finite numbers, integers Python can print (at most
``sys.get_int_max_str_digits()`` digits), ``true``/``false``/``null``, nested at most
:data:`MAX_DEPTH` deep. Tuples are arrays.

:func:`encode` is the fast path every store uses; :func:`problem` walks a value and names
the first thing that is not JSON by its JSON path (``$.result.items[3]``), for messages
that say what was wrong and where. :func:`loads` parses text from outside (a command
line, a file) by the same rules: no ``NaN`` or ``Infinity``, no number too large to keep.
"""

from __future__ import annotations

import functools
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flowmonkey.errors import NotJsonError

MAX_DEPTH = 256
"""How deeply arrays and objects may nest (a guard against values built to exhaust the stack)."""

_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SCALARS = bool | None


@dataclass(frozen=True, slots=True)
class JsonProblem:
    """What is not JSON (``reason``) and where (``path``, a JSON path from ``$``)."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def refused(found: JsonProblem, what: str = "the value") -> NotJsonError:
    """The error that refuses a value: ``{what} is not JSON: {path}: {reason}``."""
    return NotJsonError(f"{what} is not JSON: {found}", details={"path": found.path, "reason": found.reason})


def encode(value: Any, root: str = "$") -> str:
    """Compact JSON text of ``value``, or :class:`NotJsonError` naming the first problem
    (its path starts at ``root``).

    The fast path for values already checked: keys that are not strings are written as
    JSON writes them (``1`` becomes ``"1"``). Values taken in from outside (a handler's
    output, resume data, a payload) go through :func:`check` first, which refuses them.
    """
    try:
        text = _encoder.encode(value)
    except (TypeError, ValueError, RecursionError):
        text = None
    if text is not None and _clean(text):
        return text
    found = problem(value, root)
    if found is None:  # pragma: no cover - the encoder and the walk disagree
        found = JsonProblem(root, "cannot be encoded as JSON")
    raise refused(found)


def _clean(text: str) -> bool:
    """No NUL escape and no lone surrogate in encoded text (the encoder lets both through)."""
    if "\\u0000" in text and _has_nul_escape(text):
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _has_nul_escape(text: str) -> bool:
    # "\\u0000" may be the text of an escaped backslash followed by "u0000": count the
    # backslashes before each match; an odd number means a real \u0000 escape.
    return any(len(match.group(1)) % 2 for match in re.finditer(r"(\\+)u0000", text))


class _Refused:
    """Stands in, while parsing, for a value JSON text can spell but no store can hold;
    :func:`problem` then reports it at its path."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _constant(name: str) -> _Refused:
    return _Refused(f"is {name}, which strict JSON does not allow")


def _integer(text: str) -> int | _Refused:
    limit = sys.get_int_max_str_digits()
    if limit and len(text.lstrip("-")) > limit:
        return _Refused(f"is an integer of more than {limit} digits, which cannot be kept")
    return int(text)


def _float(text: str) -> float | _Refused:
    value = float(text)
    return value if math.isfinite(value) else _Refused(f"is {text}, too large for a number")


def loads(text: str, root: str = "$", what: str = "the value") -> Any:
    """Parse strict JSON text: what :func:`check` accepts, and nothing else.

    Raises:
        json.JSONDecodeError: the text is not JSON at all (with line and column).
        NotJsonError: it is, but holds what no store keeps (``NaN``, ``Infinity``, an
            integer of too many digits, a NUL, nesting too deep), naming its path.
    """
    try:
        value = json.loads(text, parse_constant=_constant, parse_int=_integer, parse_float=_float)
    except RecursionError:
        raise refused(JsonProblem(f"{root}…", f"is nested deeper than {MAX_DEPTH} levels"), what) from None
    check(value, root, what)
    return value


def check(value: Any, root: str = "$", what: str = "the value") -> None:
    """Raise :class:`NotJsonError` unless ``value`` is strict JSON."""
    found = problem(value, root)
    if found is not None:
        raise refused(found, what)


def problem(value: Any, root: str = "$") -> JsonProblem | None:
    """The first part of ``value`` that is not strict JSON, or None."""
    stack: list[tuple[Any, str, int]] = [(value, root, 0)]
    while stack:
        item, path, depth = stack.pop()
        reason = _scalar_problem(item)
        if reason is not None:
            return JsonProblem(path, reason)
        if isinstance(item, dict | list | tuple):
            if depth >= MAX_DEPTH:
                return JsonProblem(f"{root}…", f"is nested deeper than {MAX_DEPTH} levels")
            found = _children(item, path, depth, stack)
            if found is not None:
                return found
    return None


def _children(item: Any, path: str, depth: int, stack: list[tuple[Any, str, int]]) -> JsonProblem | None:
    children: list[tuple[Any, str, int]] = []
    if isinstance(item, dict):
        for key, child in item.items():
            if not isinstance(key, str):
                return JsonProblem(
                    path, f"has a key that is not a string: {key!r:.40} ({type(key).__name__})"
                )
            reason = _string_problem(key)
            if reason is not None:
                return JsonProblem(path, f"has a key that {reason}")
            children.append((child, join(path, key), depth + 1))
    else:
        children = [(child, f"{path}[{index}]", depth + 1) for index, child in enumerate(item)]
    stack.extend(reversed(children))  # depth first, in document order
    return None


def _scalar_problem(item: Any) -> str | None:
    if isinstance(item, str):
        return _string_problem(item)
    if isinstance(item, _SCALARS | dict | list | tuple):
        return None
    if isinstance(item, int):
        return _integer_problem(item)
    if isinstance(item, float):
        return None if math.isfinite(item) else f"is {item!r}, which JSON cannot hold"
    if isinstance(item, _Refused):
        return item.reason
    return f"is {_kind(item)}, which is not JSON"


def _integer_problem(item: int) -> str | None:
    limit = sys.get_int_max_str_digits()
    if not limit or item.bit_length() < limit * 3.3:  # fewer digits than the limit: cheap to know
        return None
    try:
        str(item)
    except ValueError:
        return f"is an integer of more than {limit} digits, which cannot be written as JSON"
    return None


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"contains a lone surrogate (\\u{ord(text[exc.start]):04x})"
    return None


def _kind(item: Any) -> str:
    name = type(item).__name__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return f"{article} {name}"


def storable_text(text: str | None) -> str | None:
    """``text`` with what no store can hold replaced (a NUL by the two characters ``\\0``,
    a lone surrogate by ``?``). For free text a handler hands over: messages, reasons."""
    if text is None or _string_problem(text) is None:
        return text
    return text.replace("\x00", "\\0").encode("utf-8", "replace").decode("utf-8")


def schema_errors(schema: Mapping[str, Any] | bool | None, value: Any) -> list[dict[str, str]]:
    """Every way ``value`` breaks the JSON Schema ``schema``, as ``{"path": "$.x",
    "message": ...}``, ordered by path. A missing required property is reported at its
    own path (``$.order.id``): that is where the sender has to add it."""
    if schema is None:
        return []
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = [{"path": _where(error), "message": error.message} for error in validator.iter_errors(value)]
    return sorted(errors, key=lambda e: (e["path"], e["message"]))


@functools.lru_cache(maxsize=256)
def _validator(schema_text: str) -> Any:
    import jsonschema  # slow to import: only when a schema is first used

    schema = json.loads(schema_text)
    return jsonschema.validators.validator_for(schema)(schema)


def _where(error: Any) -> str:
    """The error's JSON path; for a missing required property, the property's own path."""
    from jsonschema.exceptions import ValidationError

    if error.validator == "required" and isinstance(error.instance, Mapping):
        missing = [
            name
            for name in error.validator_value
            if name not in error.instance and repr(name) in error.message
        ]
        if missing:
            # An error at the child's path, so jsonschema spells the path (quoting included).
            return str(ValidationError(error.message, path=[*error.absolute_path, missing[0]]).json_path)
    return str(error.json_path)


def join(path: str, key: str) -> str:
    """``path`` followed by object key ``key`` (``$.a`` or ``$['a b']``)."""
    if _IDENTIFIER.match(key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key, ensure_ascii=True)}]"


def path_of(parts: Iterable[str | int], root: str = "$") -> str:
    """The JSON path of a sequence of keys and indexes (``("a", 0, "b")`` -> ``$.a[0].b``)."""
    path = root
    for part in parts:
        path = f"{path}[{part}]" if isinstance(part, int) else join(path, part)
    return path


def dotted(key: str, root: str = "$") -> str:
    """The JSON path of a dot path such as an ``outputKey`` (``order.total`` -> ``$.order.total``)."""
    path = root
    for part in key.split("."):
        path = join(path, part)
    return path

"""Request bodies as strict JSON: read within a size limit, parsed within a nesting limit.

A webhook body comes from anyone who can reach the port, so parsing it must never cost
much more than reading it, and anything a store could not hold is refused here, with the
JSON path of the offending value, before a flow starts:

* nesting deeper than the limit (a body ``[[[[...`` 10,000 deep would exhaust the stack):
  measured on the text before parsing, so the parser never recurses that deep;
* an integer longer than Python converts (``sys.get_int_max_str_digits()``): refused
  before it is converted;
* ``NaN``, ``Infinity`` and ``-Infinity`` (not JSON, though Python's parser takes them),
  and numbers too large for a double (``1e400``);
* strings (values or keys) with a NUL character or a lone surrogate: no store holds them
  the same way (:mod:`flowmonkey.jsonvalues`).

Every refusal is a :class:`~flowmonkey.triggers.refusal.Refusal` with the HTTP status and
``[{"path": ..., "message": ...}]``.
"""

from __future__ import annotations

import itertools
import json
import math
import operator
import re
import sys
from collections.abc import AsyncIterable, Iterator
from typing import Any

from flowmonkey import jsonvalues
from flowmonkey.jsonvalues import JsonProblem
from flowmonkey.triggers.refusal import Refusal

DEFAULT_MAX_DEPTH = 128
"""How deeply arrays and objects may nest in a webhook body unless ``HttpTriggers`` says otherwise."""

MAX_ALLOWED_DEPTH = jsonvalues.MAX_DEPTH // 2
"""The highest nesting limit a webhook may set: the body lands below a ``contextKey`` in
the context, which must still fit the stores' own limit."""

# A JSON string literal, escapes included; possessive, and closed by the end of the text
# if need be, so an unterminated one costs one pass, not one pass per later quote.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*+\\?(?:"|\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_OPENS = str.maketrans({"[": "\x01", "{": "\x01", "]": "\x00", "}": "\x00"})
# Only an escape puts a NUL or a surrogate in a string (raw ones are not valid JSON text).
_ESCAPES = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def require_json_content_type(content_type: str | None) -> None:
    """Refuse (415) a ``Content-Type`` that is not ``application/json`` or ``*/*+json``."""
    media = (content_type or "").split(";")[0].strip().lower()
    if not (media == "application/json" or media.endswith("+json")):
        raise Refusal(415, f"expected Content-Type application/json, got {media or 'none'!r}")


async def read_limited(declared: str | None, chunks: AsyncIterable[bytes], max_bytes: int) -> bytes:
    """The body, refused (413) as soon as it is known to exceed ``max_bytes``: by its
    ``Content-Length``, or while streaming (a lying or absent length is caught there)."""
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise Refusal(413, f"body of {declared} bytes is over the limit of {max_bytes}")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise Refusal(413, f"body is over the limit of {max_bytes} bytes")
        parts.append(chunk)
    return b"".join(parts)


def parse_json(body: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """The value of a strict JSON ``body``, or a :class:`Refusal` (400) saying what and where."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = JsonProblem("$", f"has a byte that is not UTF-8 at {exc.start}")
        raise _refused("body is not UTF-8", problem) from None
    _check_depth(text, max_depth)
    refusals: list[_Refused] = []
    try:
        value = json.loads(
            text,
            parse_constant=lambda name: _refuse(refusals, f"is {name}, which JSON does not allow"),
            parse_int=lambda digits: _integer(digits, refusals),
            parse_float=lambda digits: _float(digits, refusals),
        )
    except json.JSONDecodeError as exc:
        raise _refused("body is not valid JSON", JsonProblem("$", str(exc))) from None
    except RecursionError:  # not expected after the depth check; never a 500 all the same
        raise _refused("body is nested too deeply", JsonProblem("$", "is nested too deeply")) from None
    if refusals or _ESCAPES.search(text):
        found = _locate(value)
        if found is None and refusals:  # a repeated key dropped it, but the text held it
            found = JsonProblem("$", refusals[0].reason)
        if found is not None:
            raise _refused("body is not strict JSON", found)
    return value


def _check_depth(text: str, max_depth: int) -> None:
    """Refuse text whose arrays and objects nest deeper than ``max_depth``, before parsing."""
    if text.count("[") + text.count("{") <= max_depth:
        return  # too few brackets to nest that deep: the usual case costs two counts
    deepest = _deepest(text)
    if deepest > max_depth:
        problem = JsonProblem(
            "$", f"nests arrays and objects {deepest} deep; at most {max_depth} are allowed"
        )
        raise _refused("body is nested too deeply", problem)


def _deepest(text: str) -> int:
    """How deeply brackets nest outside string literals, in time linear in ``len(text)``.

    After the k-th bracket the depth is ``2 * opens - k``; computed with C iterators, as a
    Python loop over a megabyte of brackets would take a good part of a second.
    """
    structure = _NOT_BRACKET.sub("", _STRING.sub("", text))
    opens = itertools.accumulate(structure.translate(_OPENS).encode())
    twice = map(operator.lshift, opens, itertools.repeat(1))
    return max(map(operator.sub, twice, itertools.count(1)), default=0)


class _Refused:
    """Stands in, while parsing, for a value that must not be built (its reason says why)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _refuse(refusals: list[_Refused], reason: str) -> _Refused:
    refused = _Refused(reason)
    refusals.append(refused)
    return refused


def _integer(digits: str, refusals: list[_Refused]) -> int | _Refused:
    limit = sys.get_int_max_str_digits()
    count = len(digits.lstrip("-"))
    if limit and count > limit:  # int() would refuse it too, but only after reading it all
        return _refuse(refusals, f"is an integer of {count} digits; at most {limit} are allowed")
    return int(digits)


def _float(digits: str, refusals: list[_Refused]) -> float | _Refused:
    number = float(digits)
    if math.isfinite(number):
        return number
    return _refuse(refusals, f"is {digits:.40}, a number too large for a double")


def _locate(value: Any) -> JsonProblem | None:
    """The first value (in document order) that is not strict JSON, with its path.

    A walk in Python, so it runs only for a body that needs it (a refused number, or an
    escape that may be a NUL or a lone surrogate); it costs no more than checking the body
    against an ``inputSchema``.
    """
    for path, item in _walk(value):
        if isinstance(item, _Refused):
            return JsonProblem(path, item.reason)
        if isinstance(item, str):
            found = jsonvalues.problem(item, path)
            if found is not None:
                return found
        elif isinstance(item, dict):
            for key in item:
                found = jsonvalues.problem(key, path)
                if found is not None:
                    return JsonProblem(path, f"has a key that {found.reason}")
    return None


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every value in ``value`` with its JSON path, depth first, in document order."""
    stack: list[tuple[str, Any]] = [("$", value)]
    while stack:
        path, item = stack.pop()
        yield path, item
        if isinstance(item, dict):
            stack.extend(reversed([(jsonvalues.join(path, k), v) for k, v in item.items()]))
        elif isinstance(item, list):
            stack.extend(reversed([(f"{path}[{i}]", v) for i, v in enumerate(item)]))


def _refused(message: str, problem: JsonProblem) -> Refusal:
    return Refusal(400, message, [{"path": problem.path, "message": problem.reason}])

"""The one definition of a flow's structure: ``flowmonkey/schema/flow.schema.json``.

:meth:`Flow.from_dict <flowmonkey.model.Flow.from_dict>` and the flow-file loader both
validate against it, and both word its errors the same way, each naming a path::

    steps.a.timeout: expected seconds (a number) or a string like 250ms, 30s, 5m, 2h, 7d, got "soon"

jsonschema is imported on the first validation, not with the model: it is slow to import.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from flowmonkey.errors import FlowError
from flowmonkey.model._json import JsonPath, dotted

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SchemaProblem = tuple[JsonPath, str]
"""(where, what): one thing a document gets wrong."""


@cache
def flow_schema() -> dict[str, Any]:
    """The JSON Schema of the flow format (``flowmonkey/schema/flow.schema.json``)."""
    text = resources.files("flowmonkey").joinpath("schema/flow.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def flow_validator(definition: str | None = None) -> Draft202012Validator:
    """The compiled validator of the whole flow, or of one of its ``$defs`` (e.g. ``"input"``)."""
    return _compiled(definition)


@cache  # keyed by the argument itself: flow_validator() and flow_validator(None) share one
def _compiled(definition: str | None) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    schema = flow_schema()
    if definition is not None:
        schema = {"$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    return Draft202012Validator(schema)


def validate_flow(data: Any, definition: str | None = None) -> None:
    """Check ``data`` against the flow schema (or one of its ``$defs``).

    Raises:
        FlowError: naming the path of every problem, ``path: message`` each.
    """
    problems = schema_problems(flow_validator(definition), data)
    if problems:
        raise flow_error(problems)


def flow_error(problems: Sequence[SchemaProblem]) -> FlowError:
    """One :class:`FlowError` for all problems; ``details`` keeps them as data."""
    lines = [f"{dotted(path)}: {message}" if path else message for path, message in problems]
    details = {
        "path": list(problems[0][0]),
        "problems": [{"path": list(path), "message": message} for path, message in problems],
    }
    return FlowError("; ".join(lines), details=details)


def schema_problems(validator: Draft202012Validator, data: Any) -> list[SchemaProblem]:
    """Every problem ``validator`` finds in ``data``, in document order, in plain words."""
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    return [problem for error in errors for problem in _problems(error)]


def did_you_mean(name: object, options: Iterable[str]) -> str:
    """`` (did you mean "x"?)`` for the closest option, or an empty string."""
    close = difflib.get_close_matches(str(name), list(options), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


_TYPE_NAMES = {
    "string": "a string",
    "object": "an object (a mapping)",
    "array": "a list",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _show(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, Mapping | list) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _expected_type(schema_type: Any) -> str:
    kinds = schema_type if isinstance(schema_type, list) else [schema_type]
    return " or ".join(_TYPE_NAMES.get(str(kind), str(kind)) for kind in kinds)


Render = Callable[["ValidationError", JsonPath, Mapping[str, Any]], Iterator[SchemaProblem]]


def _listed(value: Any) -> list[Any]:
    # a handler's config schema is the handler author's: it may misuse a keyword
    return value if isinstance(value, list) else []


def _required(error: ValidationError, path: JsonPath, schema: Mapping[str, Any]) -> Iterator[SchemaProblem]:
    present = error.instance if isinstance(error.instance, Mapping) else {}
    for name in _listed(error.validator_value):
        if name not in present:
            yield path, f'missing required key "{name}"'


def _unknown_keys(
    error: ValidationError, path: JsonPath, schema: Mapping[str, Any]
) -> Iterator[SchemaProblem]:
    known = list(schema.get("properties", {}))
    for name in error.instance if isinstance(error.instance, Mapping) else ():
        if name not in known:
            yield (*path, str(name)), f'unknown key "{name}"' + did_you_mean(name, known)


def _wrong_type(error: ValidationError, path: JsonPath, schema: Mapping[str, Any]) -> Iterator[SchemaProblem]:
    yield path, f"expected {_expected_type(error.validator_value)}, got {_show(error.instance)}"


def _not_one_of(error: ValidationError, path: JsonPath, schema: Mapping[str, Any]) -> Iterator[SchemaProblem]:
    options = ", ".join(f'"{option}"' for option in _listed(error.validator_value))
    hint = did_you_mean(error.instance, [str(o) for o in _listed(error.validator_value)])
    yield path, f"expected one of {options}, got {_show(error.instance)}{hint}"


def _no_alternative(
    error: ValidationError, path: JsonPath, schema: Mapping[str, Any]
) -> Iterator[SchemaProblem]:
    # the alternatives' own errors would list every way of being wrong: say what is right
    expected = schema.get("description", "a valid value")
    got = "" if isinstance(error.instance, Mapping | list) else f", got {_show(error.instance)}"
    yield path, f"expected {expected}{got}"


def _forbidden(error: ValidationError, path: JsonPath, schema: Mapping[str, Any]) -> Iterator[SchemaProblem]:
    shape = (
        error.validator_value.get("description", "this shape")
        if isinstance(error.validator_value, Mapping)
        else "this shape"
    )
    yield path, f"must not have {shape}"


def _empty(error: ValidationError, path: JsonPath, schema: Mapping[str, Any]) -> Iterator[SchemaProblem]:
    yield path, "must not be empty"


def _too_small(error: ValidationError, path: JsonPath, schema: Mapping[str, Any]) -> Iterator[SchemaProblem]:
    yield path, f"must be at least {error.validator_value}, got {_show(error.instance)}"


# jsonschema's own wording, except for these kinds of error
_RENDER: dict[str, Render] = {
    "required": _required,
    "additionalProperties": _unknown_keys,
    "type": _wrong_type,
    "enum": _not_one_of,
    "anyOf": _no_alternative,
    "oneOf": _no_alternative,
    "not": _forbidden,
    "minLength": _empty,
    "minProperties": _empty,
    "minItems": _empty,
    "minimum": _too_small,
}


def _problems(error: ValidationError) -> Iterator[SchemaProblem]:
    """Plain-language problems for one jsonschema error."""
    path: JsonPath = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    render = _RENDER.get(str(error.validator))
    if render is None:
        yield path, error.message
    else:
        yield from render(error, path, schema)

"""Load and validate flow files (``.yaml``, ``.yml``, ``.json``; one flow per file).

Validation runs in three passes, and every problem names file, line and column::

    flows/order.yaml:14:7: steps.charge.transitions.onSuccess: no step "shipp" (did you mean "ship"?)

1. the document parses (YAML, or JSON) and matches ``schema/flow.schema.json``;
2. :meth:`Flow.from_dict` — the one parser of the format — accepts it;
3. its meaning holds: the initial step and every transition target exist, handler types
   are registered, each step's config matches its handler's ``config_schema``, triggers
   are well formed; unreachable steps are warnings.

Anything wrong raises :class:`FlowFileError` (a :class:`FlowError`) carrying every
:class:`Problem`; nothing else escapes.
"""

from __future__ import annotations

import contextlib
import difflib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from flowmonkey.errors import FlowError, FlowMonkeyError
from flowmonkey.model import Flow
from flowmonkey.registry import HandlerRegistry, unreachable_steps

__all__ = [
    "FLOW_SUFFIXES",
    "FlowFileError",
    "LoadedFlow",
    "Problem",
    "Severity",
    "flow_schema",
    "load_flow_file",
    "parse_flow",
]

FLOW_SUFFIXES = (".yaml", ".yml", ".json")
JsonPath = tuple[str | int, ...]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong with a flow file, with where it is (1-based line and column)."""

    file: str
    line: int
    column: int
    path: JsonPath = ()
    message: str
    severity: Severity = Severity.ERROR

    @property
    def where(self) -> str:
        """The dotted path inside the document, e.g. ``steps.charge.retry``."""
        return ".".join(str(part) for part in self.path)

    def __str__(self) -> str:
        prefix = f"{self.file}:{self.line}:{self.column}: "
        if self.severity is Severity.WARNING:
            prefix += "warning: "
        return f"{prefix}{self.where}: {self.message}" if self.path else prefix + self.message

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": list(self.path),
            "message": self.message,
            "severity": self.severity.value,
        }


class FlowFileError(FlowError):
    """A flow file is invalid; ``problems`` lists every error (and warning) found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity is Severity.ERROR] or self.problems
        super().__init__(
            "\n".join(str(p) for p in errors), details={"problems": [p.to_dict() for p in errors]}
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedFlow:
    """A flow that passed validation, with the warnings found on the way."""

    file: str
    flow: Flow
    warnings: tuple[Problem, ...] = ()


@cache
def flow_schema() -> dict[str, Any]:
    """The JSON Schema of the flow file format (``flowmonkey/schema/flow.schema.json``)."""
    text = resources.files("flowmonkey").joinpath("schema/flow.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _flow_validator() -> Draft202012Validator:
    return Draft202012Validator(flow_schema())


# ---------------------------------------------------------------------------
# Positions: where each path of the document starts


@dataclass(slots=True)
class _Positions:
    """1-based (line, column) of every key and list item, by path."""

    marks: dict[tuple[str, ...], tuple[int, int]] = field(default_factory=dict)
    duplicates: list[tuple[JsonPath, str, int, tuple[int, int]]] = field(default_factory=list)

    def at(self, path: JsonPath) -> tuple[int, int]:
        """The position of ``path``, or of its closest ancestor that has one."""
        key = tuple(str(part) for part in path)
        while key:
            if key in self.marks:
                return self.marks[key]
            key = key[:-1]
        return self.marks.get((), (1, 1))


def _record(node: yaml.Node, path: JsonPath, positions: _Positions, seen: set[int]) -> None:
    if id(node) in seen:  # an alias: already walked (and possibly recursive)
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            name = str(key_node.value)
            mark = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if name in first:
                positions.duplicates.append(((*path, name), name, first[name], mark))
            first.setdefault(name, mark[0])
            child = (*path, name)
            positions.marks.setdefault(tuple(str(p) for p in child), mark)
            _record(value_node, child, positions, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            positions.marks[tuple(str(p) for p in child)] = (
                item.start_mark.line + 1,
                item.start_mark.column + 1,
            )
            _record(item, child, positions, seen)


def _compose(text: str) -> tuple[yaml.Node | None, Any]:
    loader = yaml.CSafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
        return node, data
    finally:
        loader.dispose()


def _positions_of(node: yaml.Node | None) -> _Positions:
    positions = _Positions()
    if node is not None:
        positions.marks[()] = (node.start_mark.line + 1, node.start_mark.column + 1)
        _record(node, (), positions, set())
    return positions


# ---------------------------------------------------------------------------
# Parsing


class _Report:
    """Collects problems for one file, placing each path at its line and column."""

    def __init__(self, file: str, positions: _Positions | None = None) -> None:
        self.file = file
        self.positions = positions or _Positions()
        self.problems: list[Problem] = []

    def add(self, path: JsonPath, message: str, severity: Severity = Severity.ERROR) -> None:
        line, column = self.positions.at(path)
        self.problems.append(
            Problem(file=self.file, line=line, column=column, path=path, message=message, severity=severity)
        )

    def add_at(self, line: int, column: int, message: str) -> None:
        self.problems.append(Problem(file=self.file, line=line, column=column, message=message))

    @property
    def failed(self) -> bool:
        return any(p.severity is Severity.ERROR for p in self.problems)

    def sorted(self) -> list[Problem]:
        """Errors first, then warnings, each in the order of the file."""
        return sorted(self.problems, key=lambda p: (p.severity is not Severity.ERROR, p.line, p.column))


def _parse_yaml(text: str, report: _Report) -> Any:
    try:
        node, data = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        report.add_at(line, column, f"invalid YAML: {what or exc}")
        return None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        report.add_at(1, 1, f"invalid YAML: {exc}")
        return None
    report.positions = _positions_of(node)
    return data


def _parse_json(text: str, report: _Report) -> Any:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        report.add_at(exc.lineno, exc.colno, f"invalid JSON: {exc.msg}")
        return None
    except (ValueError, RecursionError) as exc:
        report.add_at(1, 1, f"invalid JSON: {exc}")
        return None
    # JSON is (nearly) YAML: the YAML composer gives the positions; if it cannot,
    # problems are placed at the top of the file.
    with contextlib.suppress(yaml.YAMLError, ValueError, TypeError, RecursionError):
        report.positions = _positions_of(_compose(text)[0])
    return data


def _check_duplicates(report: _Report) -> None:
    for path, name, first_line, (line, column) in report.positions.duplicates:
        message = f'duplicate key "{name}" (first defined on line {first_line})'
        report.problems.append(
            Problem(file=report.file, line=line, column=column, path=path, message=message)
        )


# ---------------------------------------------------------------------------
# Pass 1: the JSON Schema

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


def did_you_mean(name: object, options: Iterable[str]) -> str:
    """`` (did you mean "x"?)`` for the closest option, or an empty string."""
    close = difflib.get_close_matches(str(name), list(options), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _expected_type(schema_type: Any) -> str:
    kinds = schema_type if isinstance(schema_type, list) else [schema_type]
    return " or ".join(_TYPE_NAMES.get(str(kind), str(kind)) for kind in kinds)


def _schema_problems(error: ValidationError) -> Iterator[tuple[JsonPath, str]]:
    """Plain-language (path, message) pairs for one jsonschema error."""
    path: JsonPath = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    kind = error.validator
    if kind == "required" and isinstance(error.validator_value, list):
        present = error.instance if isinstance(error.instance, Mapping) else {}
        for name in error.validator_value:
            if name not in present:
                yield path, f'missing required key "{name}"'
    elif kind == "additionalProperties" and isinstance(error.instance, Mapping):
        known = list(schema.get("properties", {}))
        for name in error.instance:
            if name not in known:
                yield (*path, str(name)), f'unknown key "{name}"' + did_you_mean(name, known)
    elif kind == "type":
        yield path, f"expected {_expected_type(error.validator_value)}, got {_show(error.instance)}"
    elif kind == "enum" and isinstance(error.validator_value, list):
        options = ", ".join(f'"{option}"' for option in error.validator_value)
        hint = did_you_mean(error.instance, [str(o) for o in error.validator_value])
        yield path, f"expected one of {options}, got {_show(error.instance)}{hint}"
    elif kind in ("anyOf", "oneOf"):
        expected = schema.get("description", "a valid value")
        yield path, f"expected {expected}, got {_show(error.instance)}"
    elif kind in ("minLength", "minProperties", "minItems"):
        yield path, "must not be empty"
    elif kind == "minimum":
        yield path, f"must be at least {error.validator_value}, got {_show(error.instance)}"
    else:
        yield path, error.message


def _check_schema(data: Any, validator: Draft202012Validator, base: JsonPath, report: _Report) -> None:
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors:
        for path, message in _schema_problems(error):
            report.add((*base, *path), message)


# ---------------------------------------------------------------------------
# Pass 3: meaning


def _step_paths(data: Mapping[str, Any]) -> dict[str, JsonPath]:
    """Where each step is in the document (``steps.<id>`` or ``steps.<index>``)."""
    raw = data.get("steps")
    if isinstance(raw, list):
        return {str(s.get("id")): ("steps", i) for i, s in enumerate(raw) if isinstance(s, Mapping)}
    return {str(step_id): ("steps", str(step_id)) for step_id in raw or {}}


def _check_target(flow: Flow, target: str, path: JsonPath, report: _Report) -> None:
    if target not in flow.steps:
        report.add(path, f'no step "{target}"' + did_you_mean(target, flow.steps))


def _control_targets(config: Mapping[str, Any]) -> Iterator[tuple[JsonPath, str]]:
    """Step ids named in switch / conditional config, with their config paths."""
    for key in ("default", "then", "else", "next"):
        if isinstance(config.get(key), str):
            yield (key,), config[key]
    cases = config.get("cases")
    if isinstance(cases, Mapping):
        for case, target in cases.items():
            if isinstance(target, str):
                yield ("cases", str(case)), target
    rules = config.get("rules")
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        if isinstance(rule, Mapping) and isinstance(rule.get("next"), str):
            yield ("rules", index, "next"), rule["next"]


_CONTROL_TYPES = frozenset({"switch", "conditional"})


def _check_steps(
    flow: Flow, data: Mapping[str, Any], handlers: HandlerRegistry | None, report: _Report
) -> None:
    paths = _step_paths(data)
    _check_target(flow, flow.initial_step_id, ("initialStepId",), report)
    for step in flow.steps.values():
        at = paths.get(step.id, ("steps", step.id))
        for name, target in step.transitions.targets():
            _check_target(flow, target, (*at, "transitions", name), report)
        if step.type in _CONTROL_TYPES:
            for sub, target in _control_targets(step.config):
                _check_target(flow, target, (*at, "config", *sub), report)
        if handlers is None:
            continue
        if step.type not in handlers:
            hint = did_you_mean(step.type, handlers.types())
            report.add((*at, "type"), f'no handler registered for type "{step.type}"{hint}')
            continue
        schema = getattr(handlers.get(step.type), "config_schema", None)
        if isinstance(schema, Mapping):
            _check_schema(dict(step.config), Draft202012Validator(schema), (*at, "config"), report)
    for step_id in unreachable_steps(flow):
        report.add(
            paths.get(step_id, ("steps", step_id)),
            f'step "{step_id}" is unreachable: no transition leads to it',
            Severity.WARNING,
        )


def _check_triggers(flow: Flow, report: _Report) -> None:
    for index, trigger in enumerate(flow.triggers):
        before = len(report.problems)
        _check_schedule(trigger, ("triggers", index), report)
        if len(report.problems) == before:
            _check_declaration(flow, index, trigger, report)


def _check_schedule(trigger: Mapping[str, Any], at: JsonPath, report: _Report) -> None:
    from croniter import croniter  # local: only flows with schedules need it

    cron = trigger.get("cron")
    if isinstance(cron, str) and not croniter.is_valid(cron):
        report.add((*at, "cron"), f'invalid cron expression "{cron}"')
    zone = trigger.get("timezone")
    if isinstance(zone, str):
        try:
            ZoneInfo(zone)
        except (ValueError, OSError, ZoneInfoNotFoundError):
            report.add((*at, "timezone"), f'unknown time zone "{zone}"')


def _check_declaration(flow: Flow, index: int, trigger: Mapping[str, Any], report: _Report) -> None:
    """The trigger service's own checks, when it is installed (same layer, so imported late)."""
    try:
        from flowmonkey.triggers.config import parse_declaration
    except ImportError:
        return
    try:
        parse_declaration(flow.id, index, trigger)
    except FlowMonkeyError as exc:
        report.add(("triggers", index), exc.message)
    except Exception as exc:  # e.g. an inputSchema jsonschema cannot even inspect
        report.add(("triggers", index), f"invalid trigger: {type(exc).__name__}: {exc}")


# ---------------------------------------------------------------------------
# Entry points


def _from_dict(data: Mapping[str, Any], report: _Report) -> Flow | None:
    try:
        return Flow.from_dict(data)
    except FlowError as exc:
        details = exc.details if isinstance(exc.details, Mapping) else {}
        path = tuple(details.get("path") or ())
        where = ".".join(str(p) for p in path)
        message = exc.message.removeprefix(f"{where}: ") if where else exc.message
        report.add(path, message)
    except Exception as exc:  # the model rejected something the schema let through
        report.add((), f"invalid flow: {type(exc).__name__}: {exc}")
    return None


def _validate(
    data: Any, handlers: HandlerRegistry | None, taken: Mapping[str, str], report: _Report
) -> Flow | None:
    _check_duplicates(report)
    _check_schema(data, _flow_validator(), (), report)
    if report.failed:
        return None
    flow = _from_dict(data, report)
    if flow is None:
        return None
    if flow.id in taken:
        report.add(("id",), f'flow id "{flow.id}" is already defined in {taken[flow.id]}')
    _check_steps(flow, data, handlers, report)
    _check_triggers(flow, report)
    return None if report.failed else flow


def parse_flow(
    text: str,
    *,
    file: str = "<flow>",
    handlers: HandlerRegistry | None = None,
    json_format: bool | None = None,
    taken: Mapping[str, str] | None = None,
) -> LoadedFlow:
    """Parse and validate one flow document.

    Args:
        text: the YAML or JSON text.
        file: the name problems are reported under.
        handlers: when given, step types must be registered here and their config must
            match the handler's ``config_schema``.
        json_format: parse as JSON (True) or YAML (False); by default from ``file``'s suffix.
        taken: flow ids already defined elsewhere (id -> file); reusing one is an error.

    Raises:
        FlowFileError: every problem found, each with file, line and column.
    """
    report = _Report(file)
    is_json = file.lower().endswith(".json") if json_format is None else json_format
    data = _parse_json(text, report) if is_json else _parse_yaml(text, report)
    flow = None if report.failed else _validate(data, handlers, taken or {}, report)
    if flow is None:
        if not report.failed:
            report.add((), "the flow is invalid")
        raise FlowFileError(report.sorted())
    warnings = tuple(p for p in report.sorted() if p.severity is Severity.WARNING)
    return LoadedFlow(file=file, flow=flow, warnings=warnings)


def load_flow_file(
    path: str | Path,
    *,
    handlers: HandlerRegistry | None = None,
    display: str | None = None,
    taken: Mapping[str, str] | None = None,
) -> LoadedFlow:
    """Read and validate a flow file; ``display`` is the name used in messages.

    ``handlers`` and ``taken`` are as for :func:`parse_flow`.

    Raises:
        FlowFileError: the file cannot be read or is invalid.
    """
    name = display or str(path)
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowFileError(
            [Problem(file=name, line=1, column=1, message=f"cannot read the file: {exc}")]
        ) from None
    return parse_flow(
        text, file=name, handlers=handlers, json_format=name.lower().endswith(".json"), taken=taken
    )

"""Load and validate flow files (``.yaml``, ``.yml``, ``.json``; one flow per file).

Validation runs in three passes, and every problem names file, line and column::

    flows/order.yaml:14:7: steps.charge.transitions.onSuccess: no step "shipp" (did you mean "ship"?)

1. the document parses (YAML, or JSON) and matches ``schema/flow.schema.json``, the one
   definition of a flow's structure (:mod:`flowmonkey.model.schema`);
2. :func:`~flowmonkey.model.build_flow` builds the :class:`Flow` from it (without
   validating a second time);
3. its meaning holds: the initial step and every transition target exist, handler types
   are registered, each step's config matches its handler's ``config_schema`` and the step
   ids it names (the handler's ``step_refs``) exist, and each :class:`FlowSection` given
   (e.g. the triggers package's ``triggers:``) accepts its section; unreachable steps are
   warnings.

Anything wrong raises :class:`FlowFileError` (a :class:`FlowError`) carrying every
:class:`Problem`; nothing else escapes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flowmonkey.errors import FlowError
from flowmonkey.flowfiles._checks import check_schema, check_steps
from flowmonkey.flowfiles._documents import check_duplicates, parse_json, parse_yaml
from flowmonkey.flowfiles._problems import FlowFileError, JsonPath, LoadedFlow, Problem, Report, Severity
from flowmonkey.flowfiles._sections import FlowSection, check_sections
from flowmonkey.model import Flow, build_flow
from flowmonkey.model.schema import flow_schema, flow_validator
from flowmonkey.registry import HandlerRegistry

__all__ = [
    "FLOW_SUFFIXES",
    "FlowFileError",
    "FlowSection",
    "JsonPath",
    "LoadedFlow",
    "Problem",
    "Severity",
    "flow_schema",
    "load_flow_file",
    "parse_flow",
]

FLOW_SUFFIXES = (".yaml", ".yml", ".json")


# ---------------------------------------------------------------------------
# Entry points


def _build(data: Mapping[str, Any], report: Report) -> Flow | None:
    """The flow, from a document that matched the schema (so it is not validated again)."""
    try:
        return build_flow(data)
    except FlowError as exc:  # what a schema cannot say, e.g. a step id differing from its key
        details = exc.details if isinstance(exc.details, Mapping) else {}
        for problem in details.get("problems") or [{"path": [], "message": exc.message}]:
            report.add(tuple(problem["path"]), problem["message"])
    except Exception as exc:  # a bug: still a problem in the file, never a traceback
        report.add((), f"invalid flow: {type(exc).__name__}: {exc}")
    return None


def _validate(
    data: Any,
    handlers: HandlerRegistry | None,
    taken: Mapping[str, str],
    sections: Sequence[FlowSection],
    report: Report,
) -> Flow | None:
    check_duplicates(report)
    check_schema(data, flow_validator(), (), report)
    if report.failed:
        return None
    flow = _build(data, report)
    if flow is None:
        return None
    if flow.id in taken:
        report.add(("id",), f'flow id "{flow.id}" is already defined in {taken[flow.id]}')
    if isinstance(data.get("version"), int | float):
        # YAML reads 1.10 as the number 1.1: the version people meant is lost
        message = (
            f'the version is the number {data["version"]}; quote it ("1.10", not 1.10) to keep it as written'
        )
        report.add(("version",), message, Severity.WARNING)
    check_steps(flow, data, handlers, report)
    check_sections(flow, sections, report)
    return None if report.failed else flow


def parse_flow(
    text: str,
    *,
    file: str = "<flow>",
    handlers: HandlerRegistry | None = None,
    json_format: bool | None = None,
    taken: Mapping[str, str] | None = None,
    sections: Sequence[FlowSection] = (),
) -> LoadedFlow:
    """Parse and validate one flow document.

    Args:
        text: the YAML or JSON text.
        file: the name problems are reported under.
        handlers: when given, step types must be registered here and their config must
            match the handler's ``config_schema``.
        json_format: parse as JSON (True) or YAML (False); by default from ``file``'s suffix.
        taken: flow ids already defined elsewhere (id -> file); reusing one is an error.
        sections: checkers of sections other packages own (``flowmonkey.TRIGGERS_SECTION``).

    Raises:
        FlowFileError: every problem found, each with file, line and column.
    """
    report = Report(file)
    is_json = file.lower().endswith(".json") if json_format is None else json_format
    data = parse_json(text, report) if is_json else parse_yaml(text, report)
    flow = None if report.failed else _validate(data, handlers, taken or {}, sections, report)
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
    sections: Sequence[FlowSection] = (),
) -> LoadedFlow:
    """Read and validate a flow file; ``display`` is the name used in messages.

    ``handlers``, ``taken`` and ``sections`` are as for :func:`parse_flow`.

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
        text,
        file=name,
        handlers=handlers,
        json_format=name.lower().endswith(".json"),
        taken=taken,
        sections=sections,
    )

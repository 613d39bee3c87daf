"""What the console shows about each flow file: its flow and the result of its last load."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from flowmonkey import EventType, Flow

if TYPE_CHECKING:  # at run time they come with the flow directory, loaded on first use
    from flowmonkey import FileState, Problem

FLOW_FILE_EVENTS = (
    EventType.FLOW_REGISTERED,
    EventType.FLOW_RELOADED,
    EventType.FLOW_INVALID,
    EventType.FLOW_RETIRED,
)
FLOW_SUFFIXES = (".yaml", ".yml", ".json")  # the files a FlowDirectory loads as flows


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowFileState:
    """One flow file. After a bad save ``ok`` is False while ``flow_id``/``version`` still
    name the last good version, which stays live."""

    file: str
    flow_id: str | None
    version: str | None
    ok: bool
    problem: str = ""  # ``order.yaml:14:7: steps.charge: ...`` (the first error)
    where: str = ""  # ``order.yaml:14:7``
    loaded_at: datetime | None = None

    @property
    def name(self) -> str:
        return Path(self.file).name


def from_directory(files: Iterable[FileState]) -> list[FlowFileState]:
    """Adapt ``FlowDirectory.files()`` (flow files only) to what the console shows."""
    return [
        _state(str(state.path), state.flow_id, state.version, state.errors, state.loaded_at)
        for state in files
        if state.kind == "flow"  # not a handlers module
    ]


def read_without_code(directory: Path) -> tuple[list[Flow], list[FlowFileState]]:
    """Parse the flow files of ``directory`` once, importing none of its handler modules.

    For a read-only console: handler modules are code, and running code is not reading.
    Step types are therefore not checked (their handlers may live in those modules).
    """
    from flowmonkey import FlowFileError, load_flow_file

    flows: dict[str, Flow] = {}
    states = []
    for path in sorted(p for p in directory.iterdir() if _is_flow_file(p)):
        display = str(directory / path.name)
        taken = {flow_id: flow_id for flow_id in flows}
        try:
            flow = load_flow_file(path, display=display, taken=taken).flow
        except FlowFileError as exc:
            errors = [problem for problem in exc.problems if problem.severity == "error"]
            states.append(_state(display, None, None, errors, datetime.now(UTC)))
            continue
        flows[flow.id] = flow
        states.append(_state(display, flow.id, flow.version, (), datetime.now(UTC)))
    return list(flows.values()), states


def _is_flow_file(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix in FLOW_SUFFIXES


def _state(
    file: str, flow_id: str | None, version: str | None, errors: Sequence[Problem], at: datetime | None
) -> FlowFileState:
    first = next(iter(errors), None)
    return FlowFileState(
        file=file,
        flow_id=flow_id,
        version=version,
        ok=first is None,
        problem=_problem_text(first) if first is not None else "",
        where=_where(first) if first is not None else "",
        loaded_at=at,
    )


def _where(problem: Problem) -> str:
    # Relative to the directory: the same text on every machine (and in snapshots).
    return f"{Path(problem.file).name}:{problem.line}:{problem.column}"


def _problem_text(problem: Problem) -> str:
    path = ".".join(str(part) for part in problem.path)
    return f"{_where(problem)}: {path + ': ' if path else ''}{problem.message}"

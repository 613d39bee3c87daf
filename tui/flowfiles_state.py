"""What the console shows about each flow file: its flow and the result of its last load."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flowmonkey import EventType

if TYPE_CHECKING:  # at run time they come with the flow directory, loaded on first use
    from flowmonkey import FileState, Problem

FLOW_FILE_EVENTS = (
    EventType.FLOW_REGISTERED,
    EventType.FLOW_RELOADED,
    EventType.FLOW_INVALID,
    EventType.FLOW_RETIRED,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowFileState:
    """One flow file. After a bad save ``ok`` is False while ``flow_id``/``version`` still
    name the last good version, which stays live."""

    file: str
    flow_id: str | None
    version: str | None
    ok: bool
    problem: str = ""  # ``order.yaml:14:7: steps.charge: ...`` (the first error)
    where: str = ""  # ``order.yaml:14``

    @property
    def name(self) -> str:
        return Path(self.file).name


def from_directory(files: Iterable[FileState]) -> list[FlowFileState]:
    """Adapt ``FlowDirectory.files()`` (flow files only) to what the console shows."""
    states = []
    for state in files:
        if state.kind != "flow":  # a handlers module
            continue
        errors = list(state.errors)
        first = errors[0] if errors else None
        states.append(
            FlowFileState(
                file=str(state.path),
                flow_id=state.flow_id,
                version=state.version,
                ok=state.ok,
                problem=_problem_text(first) if first is not None else "",
                where=f"{Path(first.file).name}:{first.line}" if first is not None else "",
            )
        )
    return states


def _problem_text(problem: Problem) -> str:
    # Relative to the directory: the same text on every machine (and in snapshots).
    where = f"{Path(problem.file).name}:{problem.line}:{problem.column}"
    path = ".".join(str(part) for part in problem.path)
    return f"{where}: {path + ': ' if path else ''}{problem.message}"

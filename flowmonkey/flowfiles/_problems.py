"""Problems found in flow files, and where they are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from flowmonkey.errors import FlowError
from flowmonkey.model import Flow

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


@dataclass(slots=True)
class Positions:
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


class Report:
    """Collects problems for one file, placing each path at its line and column."""

    def __init__(self, file: str, positions: Positions | None = None) -> None:
        self.file = file
        self.positions = positions or Positions()
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

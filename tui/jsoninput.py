"""Validate JSON typed by an operator before anything is sent."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class JsonProblem:
    """Why the text is not acceptable, and where (1-based line and column)."""

    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


def parse_json(text: str, *, require_object: bool = False) -> Any:
    """The parsed value. Raises :class:`JsonInputError` with line and column."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonInputError(JsonProblem(line=exc.lineno, column=exc.colno, message=exc.msg)) from None
    if require_object and not isinstance(value, dict):
        found = type(value).__name__ if value is not None else "null"
        raise JsonInputError(
            JsonProblem(line=1, column=1, message=f"expected a JSON object {{...}}, got {found}")
        )
    return value


class JsonInputError(ValueError):
    """The operator's JSON is invalid; ``problem`` says where."""

    def __init__(self, problem: JsonProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem

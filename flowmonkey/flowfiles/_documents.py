"""Parsing YAML and JSON text, recording the line and column of every path."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import yaml

from flowmonkey.flowfiles._problems import JsonPath, Positions, Problem, Report


def _record(node: yaml.Node, path: JsonPath, positions: Positions, seen: set[int]) -> None:
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


def compose(text: str) -> tuple[yaml.Node | None, Any]:
    loader = yaml.CSafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
        return node, data
    finally:
        loader.dispose()


def positions_of(node: yaml.Node | None) -> Positions:
    positions = Positions()
    if node is not None:
        positions.marks[()] = (node.start_mark.line + 1, node.start_mark.column + 1)
        _record(node, (), positions, set())
    return positions


def parse_yaml(text: str, report: Report) -> Any:
    try:
        node, data = compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        report.add_at(line, column, f"invalid YAML: {what or exc}")
        return None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        report.add_at(1, 1, f"invalid YAML: {exc}")
        return None
    report.positions = positions_of(node)
    return data


def parse_json(text: str, report: Report) -> Any:
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
        report.positions = positions_of(compose(text)[0])
    return data


def check_duplicates(report: Report) -> None:
    for path, name, first_line, (line, column) in report.positions.duplicates:
        message = f'duplicate key "{name}" (first defined on line {first_line})'
        report.problems.append(
            Problem(file=report.file, line=line, column=column, path=path, message=message)
        )

"""``flowmonkey validate``: check every flow file and handler module of a directory."""

from __future__ import annotations

import argparse
from typing import Any

from rich.markup import escape

from flowmonkey.cli.common import FAILED, OK, UsageError, is_dir, sections
from flowmonkey.cli.output import err, out, print_json
from flowmonkey.defaults import Engine
from flowmonkey.flowdirectory import FileState, FlowDirectory
from flowmonkey.stores import MemoryStore


async def cmd_validate(args: argparse.Namespace) -> int:
    directory = args.directory or args.flows
    if not is_dir(directory):
        raise UsageError(f"no flows directory {directory}")
    flows = FlowDirectory(directory, Engine(MemoryStore()), sections=sections())
    states = await flows.load()
    errors = [p for s in states for p in s.errors]
    if args.json:
        print_json({"ok": not errors, "files": [_file_json(s) for s in states]})
        return FAILED if errors else OK
    for problem in flows.problems:
        (err if problem.severity == "error" else out).print(escape(str(problem)))
    good = sum(1 for s in states if s.ok)
    summary = f"{good} of {len(states)} files ok, {len(errors)} error(s) in {directory}"
    out.print(("[red]✘[/red] " if errors else "[green]✔[/green] ") + escape(summary))
    return FAILED if errors else OK


def _file_json(state: FileState) -> dict[str, Any]:
    return {
        "path": str(state.path),
        "kind": state.kind.value,
        "ok": state.ok,
        "flow_id": state.flow_id,
        "version": state.version,
        "handler_types": list(state.handler_types),
        "problems": [p.to_dict() for p in state.problems],
    }

"""``flowmonkey validate``: check every flow file and handler module of a directory.

Handler modules (``*.py``) are imported, as the worker and the console import them, so
that each step's config is checked against its handler's schema: validating runs their
code. ``--no-code`` imports nothing: flow files are checked against the built-in handlers,
and a step of any other type is taken on trust (its config unchecked, and said so).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.markup import escape

from flowmonkey.cli.common import FAILED, OK, UsageError, is_dir, sections
from flowmonkey.cli.output import err, out, print_json
from flowmonkey.defaults import Engine, default_handlers
from flowmonkey.flowdirectory import FileState, FlowDirectory
from flowmonkey.params import HandlerParams
from flowmonkey.registry import Handler, HandlerRegistry, handler
from flowmonkey.result import Result, StepResult
from flowmonkey.stores import MemoryStore, check_store_url


class TrustingRegistry(HandlerRegistry):
    """The built-in handlers, and any other type taken on trust (``--no-code``): the modules
    that would define them are not imported, so their configs cannot be checked."""

    def __init__(self) -> None:
        super().__init__(default_handlers())
        self.trusted: set[str] = set()

    def __contains__(self, handler_type: object) -> bool:
        if not isinstance(handler_type, str):
            return False
        if not super().__contains__(handler_type):
            self.trusted.add(handler_type)
        return True

    def get(self, handler_type: str) -> Handler:
        if handler_type in self.trusted:
            return _unchecked(handler_type)
        return super().get(handler_type)


def _unchecked(handler_type: str) -> Handler:
    @handler(handler_type)
    async def not_imported(params: HandlerParams) -> StepResult:
        return Result.failure("HANDLER_NOT_FOUND", f"{handler_type} was not imported (--no-code)")

    return not_imported


async def cmd_validate(args: argparse.Namespace) -> int:
    directory = args.directory or args.flows
    check_store_url(args.store)  # unused here, but a malformed one is still bad usage
    if not is_dir(directory):
        raise UsageError(f"no flows directory {directory}")
    registry = TrustingRegistry() if args.no_code else None
    engine = Engine(MemoryStore(), registry)
    flows = FlowDirectory(directory, engine, sections=sections(), modules=not args.no_code)
    states = await flows.load()
    errors = [p for s in states for p in s.errors]
    skipped = _modules_in(directory) if args.no_code else []
    trusted = sorted(registry.trusted) if registry is not None else []
    if args.json:
        files = [_file_json(s) for s in states]
        print_json({"ok": not errors, "files": files, "skipped_modules": skipped, "unchecked_types": trusted})
        return FAILED if errors else OK
    for problem in flows.problems:
        (err if problem.severity == "error" else out).print(escape(str(problem)))
    if args.no_code:
        out.print(escape(_no_code_note(skipped, trusted)))
    good = sum(1 for s in states if s.ok)
    summary = f"{good} of {len(states)} files ok, {len(errors)} error(s) in {directory}"
    out.print(("[red]✘[/red] " if errors else "[green]✔[/green] ") + escape(summary))
    return FAILED if errors else OK


def _modules_in(directory: str) -> list[str]:
    return sorted(path.name for path in Path(directory).glob("*.py"))


def _no_code_note(skipped: list[str], trusted: list[str]) -> str:
    modules = ", ".join(skipped) or "none"
    types = ", ".join(trusted) or "none"
    return (
        f"note: --no-code: handler modules not imported ({modules}); steps of types that are not"
        f" built in were not checked, neither the type nor its config ({types})"
    )


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

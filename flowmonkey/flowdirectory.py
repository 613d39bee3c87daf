"""``FlowDirectory``: load a directory of flow files and hot-reload them as they are saved.

Flow files (``.yaml``, ``.yml``, ``.json``) are validated by :mod:`flowmonkey.flowfiles`
and registered in ``engine.flows``; ``*.py`` files are handler modules: each is imported
(its code runs, as any import's does) and its ``@handler`` functions (and classes with
``type`` and ``execute``) are registered in ``engine.handlers``; ``modules=False`` reads
the flow files only and runs nothing. A bad save never takes down what runs: the last good version stays
live, the error is kept per file (:meth:`FlowDirectory.files`) and published as a
``flow.invalid`` event. Executions already running keep the definition they started on
(the engine pins them by hash).

    async with FlowDirectory("flows", engine) as directory:
        ...  # edits to flows/*.yaml are live within a few hundred milliseconds
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import sys
import traceback
import types
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from watchfiles import Change, DefaultFilter, awatch

from flowmonkey.events import Event, EventType
from flowmonkey.flowfiles import FLOW_SUFFIXES, FlowFileError, FlowSection, Problem, Severity, load_flow_file
from flowmonkey.model import Flow, utcnow
from flowmonkey.registry import FunctionHandler, Handler

if TYPE_CHECKING:
    from flowmonkey.engine import Engine

__all__ = ["FileKind", "FileState", "FlowDirectory", "module_handlers"]

log = logging.getLogger("flowmonkey.flowdirectory")


class FileKind(StrEnum):
    FLOW = "flow"
    HANDLERS = "handlers"


@dataclass(frozen=True, slots=True, kw_only=True)
class FileState:
    """The last load of one file: what it defines and whether it was good.

    After a bad save ``ok`` is False and ``problems`` says why, while ``flow_id`` and
    ``version`` still name the last good version, which stays live.
    """

    path: Path
    kind: FileKind
    ok: bool
    flow_id: str | None = None
    version: str | None = None
    flow_hash: str | None = None
    handler_types: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    loaded_at: datetime = field(default_factory=utcnow)
    """When the file was last read (good or bad): the console shows it."""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]


def _is_watched(path: Path) -> bool:
    return not path.name.startswith(".") and (path.suffix in FLOW_SUFFIXES or path.suffix == ".py")


class _Filter(DefaultFilter):
    def __call__(self, change: Change, path: str) -> bool:
        return super().__call__(change, path) and _is_watched(Path(path))


def module_handlers(module: types.ModuleType) -> Iterator[Handler]:
    """The handlers a module defines at top level (not the ones it imports)."""
    for value in list(vars(module).values()):
        if isinstance(value, FunctionHandler):
            if getattr(value.fn, "__module__", None) == module.__name__:
                yield value
        elif (
            isinstance(value, type)
            and value.__module__ == module.__name__
            and isinstance(getattr(value, "type", None), str)
            and callable(getattr(value, "execute", None))
        ):
            yield value()


def _import_problem(path: Path, display: str, exc: BaseException) -> Problem:
    """Where in the module the import failed: the syntax error, or the deepest frame of it."""
    line, column = 1, 1
    if isinstance(exc, SyntaxError) and exc.filename == str(path):
        line, column = exc.lineno or 1, exc.offset or 1
    else:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        if frames and frames[-1].lineno:
            line = frames[-1].lineno
    message = f"cannot load handler module: {type(exc).__name__}: {exc}"
    return Problem(file=display, line=line, column=column, message=message)


class FlowDirectory:
    """Loads a directory of flows and handler modules into an engine and watches it.

    Args:
        directory: the directory (its top level is loaded; names starting with a dot are
            ignored).
        engine: flows go to ``engine.flows``, handlers to ``engine.handlers``, events to
            ``engine.events``.
        step_ms: how long the watcher waits for more changes once one arrived.
        debounce_ms: the longest it groups changes before reloading.
        force_polling: poll the file system instead of using OS notifications.
        sections: checkers of flow-file sections other packages own (e.g.
            ``flowmonkey.TRIGGERS_SECTION``); a section without one is not checked here.
        modules: import the directory's ``*.py`` handler modules, which runs their code
            (the default); False reads the flow files only and executes nothing.
    """

    def __init__(
        self,
        directory: str | Path,
        engine: Engine,
        *,
        step_ms: int = 30,
        debounce_ms: int = 250,
        force_polling: bool | None = None,
        sections: Sequence[FlowSection] = (),
        modules: bool = True,
    ) -> None:
        self.directory = Path(directory)
        self.modules = modules
        self.engine = engine
        self._sections = tuple(sections)
        self._step_ms = step_ms
        self._debounce_ms = debounce_ms
        self._force_polling = force_polling
        self._states: dict[Path, FileState] = {}
        self._live: dict[Path, Flow] = {}  # the last good flow of each file
        self._owners: dict[str, Path] = {}  # flow id -> the file that defines it
        self._module_types: dict[Path, tuple[str, ...]] = {}
        self._shadowed: dict[str, Handler] = {}  # handlers a module replaced, by type
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loaded = False
        self._freed = False

    # -- public -----------------------------------------------------------------------

    def files(self) -> list[FileState]:
        """The state of every file, by name."""
        return [self._states[path] for path in sorted(self._states)]

    @property
    def problems(self) -> list[Problem]:
        """Every error and warning of every file."""
        return [problem for state in self.files() for problem in state.problems]

    @property
    def ok(self) -> bool:
        return all(state.ok for state in self._states.values())

    async def load(self) -> list[FileState]:
        """Load every file of the directory: handler modules first, then flows."""
        if not self.directory.is_dir():
            raise FileNotFoundError(f"flows directory {self.directory} does not exist")
        paths = [p for p in self.directory.iterdir() if p.is_file() and self._wanted(p)]
        self._apply(paths)
        self._loaded = True
        return self.files()

    async def reload(self, paths: Iterable[str | Path]) -> None:
        """Re-read these files (a missing file counts as deleted), as the watcher does."""
        self._apply([Path(p) for p in paths])

    async def start(self) -> None:
        """Load (if not yet loaded) and start watching for changes."""
        if self._task is not None:
            return
        if not self._loaded:
            await self.load()
        self._stop.clear()
        self._task = asyncio.create_task(self._watch(), name=f"flowdirectory:{self.directory}")
        # The watcher registers its OS watch synchronously in its first slice; let it run
        # so that changes made right after start() returns are seen.
        for _ in range(3):
            await asyncio.sleep(0)

    async def stop(self) -> None:
        """Stop watching; what is loaded stays registered."""
        if self._task is None:
            return
        self._stop.set()
        task, self._task = self._task, None
        try:
            await asyncio.wait_for(task, timeout=5)
        except TimeoutError:
            log.warning("flow directory watcher did not stop in time")

    async def __aenter__(self) -> FlowDirectory:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- watching ---------------------------------------------------------------------

    async def _watch(self) -> None:
        try:
            async for changes in awatch(
                self.directory,
                watch_filter=_Filter(),
                debounce=self._debounce_ms,
                step=self._step_ms,
                stop_event=self._stop,
                recursive=False,
                force_polling=self._force_polling,
            ):
                try:
                    self._apply([Path(path) for _, path in changes])
                except Exception:  # a reload bug must not stop the watcher
                    log.exception("reloading %s failed", self.directory)
        except Exception:  # e.g. the directory was removed: keep what is loaded, say why
            log.exception("watching %s stopped", self.directory)

    # -- applying changes -------------------------------------------------------------

    def _wanted(self, path: Path) -> bool:
        return _is_watched(path) and (self.modules or path.suffix != ".py")

    def _display(self, path: Path) -> str:
        return str(self.directory / path.name)

    def _apply(self, changed: list[Path]) -> None:
        # One key per file however it was named: the watcher reports absolute paths,
        # the directory may have been given relative to the working directory.
        paths = {self.directory / p.name for p in changed if self._wanted(p)}
        modules = sorted(p for p in paths if p.suffix == ".py")
        flows = {p for p in paths if p.suffix in FLOW_SUFFIXES}
        for path in modules:
            if path.is_file():
                self._load_module(path)
            else:
                self._drop_module(path)
        dropped = False
        for path in sorted(flows):
            if not path.is_file():
                dropped |= self._drop_flow(path)
        if modules or dropped:
            # new handler types or a freed flow id may fix (or break) other files
            flows |= {p for p, s in self._states.items() if s.kind is FileKind.FLOW}
        self._freed = False
        for path in sorted(p for p in flows if p.is_file()):
            self._load_flow(path)
        if self._freed:  # a renamed flow freed its old id: files that clashed may load now
            for path in sorted(p for p, s in self._states.items() if s.kind is FileKind.FLOW and not s.ok):
                self._load_flow(path)

    def _load_flow(self, path: Path) -> None:
        display = self._display(path)
        taken = {fid: self._display(p) for fid, p in self._owners.items() if p != path}
        try:
            loaded = load_flow_file(
                path, handlers=self.engine.handlers, display=display, taken=taken, sections=self._sections
            )
        except FlowFileError as exc:
            self._flow_failed(path, exc.problems)
            return
        flow = loaded.flow
        previous = self._live.get(path)
        try:
            self.engine.flows.register(flow)
        except Exception as exc:  # the registry refused: report it like a file error
            problem = Problem(file=display, line=1, column=1, message=str(exc))
            self._flow_failed(path, [problem])
            return
        self._live[path] = flow
        self._owners[flow.id] = path
        if previous is not None and previous.id != flow.id:
            self._retire(path, previous)
        elif previous is not None and previous.version != flow.version:
            # The file is the source of truth: its version is live, even a lower one.
            self.engine.flows.remove(previous.id, previous.version)
        self._states[path] = FileState(
            path=path,
            kind=FileKind.FLOW,
            ok=True,
            flow_id=flow.id,
            version=flow.version,
            flow_hash=flow.hash,
            problems=loaded.warnings,
        )
        if previous is None or previous.id != flow.id:
            self._emit_flow(EventType.FLOW_REGISTERED, path, flow)
        elif previous.hash != flow.hash:
            self._emit_flow(EventType.FLOW_RELOADED, path, flow)

    def _flow_failed(self, path: Path, problems: list[Problem]) -> None:
        live = self._live.get(path)
        self._states[path] = FileState(
            path=path,
            kind=FileKind.FLOW,
            ok=False,
            flow_id=live.id if live else None,
            version=live.version if live else None,
            flow_hash=live.hash if live else None,
            problems=tuple(problems),
        )
        self._emit_invalid(path, problems, live.id if live else None)

    def _drop_flow(self, path: Path) -> bool:
        """Forget a deleted file; retire its flow. True if a flow id was freed."""
        self._states.pop(path, None)
        live = self._live.pop(path, None)
        if live is None:
            return False
        return self._retire(path, live)

    def _retire(self, path: Path, flow: Flow) -> bool:
        if self._owners.get(flow.id) != path:
            return False
        del self._owners[flow.id]
        self._freed = True
        self.engine.flows.retire(flow.id)
        self._emit_flow(EventType.FLOW_RETIRED, path, flow)
        return True

    # -- handler modules --------------------------------------------------------------

    def _module_name(self, path: Path) -> str:
        digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
        stem = re.sub(r"\W", "_", path.stem)
        return f"_flowmonkey_handlers_{stem}_{digest}"

    def _load_module(self, path: Path) -> None:
        name = self._module_name(path)
        module = types.ModuleType(name)
        module.__file__ = str(path)
        previous = sys.modules.get(name)
        sys.modules[name] = module  # dataclasses and pickling look modules up here
        try:
            # compile the source ourselves: a cached .pyc could be stale after quick saves
            code = compile(path.read_bytes(), str(path), "exec")
            exec(code, module.__dict__)
            found = list(module_handlers(module))
        except Exception as exc:
            if previous is not None:
                sys.modules[name] = previous
            else:
                sys.modules.pop(name, None)
            self._module_failed(path, _import_problem(path, self._display(path), exc))
            return
        self._register_module(path, found)

    def _register_module(self, path: Path, found: list[Handler]) -> None:
        new_types = tuple(sorted(h.type for h in found))
        for stale in set(self._module_types.get(path, ())) - set(new_types):
            self._unregister(stale)
        owned = {t for types_ in self._module_types.values() for t in types_}
        for item in found:
            if item.type in self.engine.handlers and item.type not in owned:
                # a module may override a built-in; keep it to restore when the module goes
                self._shadowed[item.type] = self.engine.handlers.get(item.type)
            self.engine.handlers.register(item)
        self._module_types[path] = new_types
        self._states[path] = FileState(path=path, kind=FileKind.HANDLERS, ok=True, handler_types=new_types)

    def _module_failed(self, path: Path, problem: Problem) -> None:
        self._states[path] = FileState(
            path=path,
            kind=FileKind.HANDLERS,
            ok=False,
            handler_types=self._module_types.get(path, ()),
            problems=(problem,),
        )
        self._emit_invalid(path, [problem], None)

    def _drop_module(self, path: Path) -> None:
        self._states.pop(path, None)
        for stale in self._module_types.pop(path, ()):
            self._unregister(stale)
        sys.modules.pop(self._module_name(path), None)

    def _unregister(self, handler_type: str) -> None:
        shadowed = self._shadowed.pop(handler_type, None)
        if shadowed is not None:
            self.engine.handlers.register(shadowed)
        else:
            self.engine.handlers.unregister(handler_type)

    # -- events -----------------------------------------------------------------------

    def _emit_flow(self, kind: EventType, path: Path, flow: Flow) -> None:
        data: dict[str, Any] = {
            "flow_id": flow.id,
            "version": flow.version,
            "hash": flow.hash,
            "path": self._display(path),
        }
        self.engine.events.emit(Event(type=kind, flow_id=flow.id, data=data))

    def _emit_invalid(self, path: Path, problems: list[Problem], flow_id: str | None) -> None:
        errors = [str(p) for p in problems if p.severity is Severity.ERROR]
        data: dict[str, Any] = {"path": self._display(path), "errors": errors}
        self.engine.events.emit(Event(type=EventType.FLOW_INVALID, flow_id=flow_id, data=data))

"""``flowmonkey-console``: the FlowMonkey operator console.

Run ``flowmonkey-console --help``. The app opens the store, embeds the engine (and, with
a worker, the runtime, the flow directory watcher and the triggers) in its own event loop,
and shows the main screen.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from rich.text import Text
from textual.actions import ActionParseResult, parse
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.dom import DOMNode
from textual.widgets import Static

from flowmonkey import FlowMonkeyError, Handler, JsonFormatter, llm_handler, missing_store

from .actions import OPEN_AFFECTED_KEY, AffectedExecution
from .availability import Gated
from .backend import Backend
from .commands import ConsoleCommands
from .options import ConsoleOptions, parse_options
from .screens.execution_detail import ExecutionDetailScreen
from .screens.main import MainScreen


class ConsoleApp(App[None], inherit_bindings=False):
    """The console. Tests pass a ready ``backend``; the command line passes ``options``.

    Args:
        options: where the flows and the store are, readonly, worker on or off.
        backend: an engine already set up (tests); its services start and stop with the app,
            its store stays open.
        handlers: extra handlers for the engine built from ``options``.
        clock: the engine's clock (a frozen one makes snapshots deterministic).
        poll_interval: seconds between reloads that catch other processes' writes (None: off).
        live_clock: tick the header clock every second.
        keymap: binding id -> keys (e.g. ``{"execution.resume": "f5"}``); see ``?`` for ids.
    """

    CSS_PATH = "console.tcss"
    TITLE = "FlowMonkey"
    COMMANDS = App.COMMANDS | {ConsoleCommands}

    # q quits; ctrl+c only explains that (and never quits); nothing else on ctrl keys.
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("ctrl+c", "help_quit", "Explain how to quit", show=False, system=True, id="app.ctrl_c"),
        Binding(
            OPEN_AFFECTED_KEY, "open_affected", "Open the last acted on", show=False, id="app.open_affected"
        ),
    ]

    def __init__(
        self,
        options: ConsoleOptions | None = None,
        *,
        backend: Backend | None = None,
        handlers: Iterable[Handler] = (),
        clock: Callable[[], datetime] | None = None,
        poll_interval: float | None = 2.0,
        live_clock: bool = True,
        keymap: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.options = options or (backend.options if backend is not None else ConsoleOptions())
        self.backend: Backend | None = backend
        self._handlers = list(handlers)
        self._clock = clock
        self._poll_interval = poll_interval
        self._live_clock = live_clock
        self.affected: str | None = None
        """The execution the last action changed or made (``o`` opens it)."""
        if clock is not None:
            self.animation_level = "none"
        if keymap:
            self.set_keymap(keymap)

    def compose(self) -> ComposeResult:
        yield Static(Text("opening the store …"), id="opening")  # its URL may hold a password

    async def on_mount(self) -> None:
        try:
            if self.backend is None:
                self.backend = await Backend.from_options(
                    self.options, handlers=self._handlers, clock=self._clock
                )
        except (FlowMonkeyError, OSError) as exc:
            self.exit(return_code=1, message=f"flowmonkey-console: cannot open the store: {exc}")
            return
        # Show the executions first; the watcher, runtime and triggers start behind them.
        screen = MainScreen(self.backend, poll_interval=self._poll_interval, live_clock=self._live_clock)
        await self.push_screen(screen)
        self.run_worker(self._start_services(screen), group="start")

    async def _start_services(self, screen: MainScreen) -> None:
        assert self.backend is not None
        try:
            await self.backend.start()
        except (FlowMonkeyError, OSError) as exc:
            self.exit(return_code=1, message=f"flowmonkey-console: cannot start: {exc}")
            return
        screen.services_started()
        _freeze_heap()

    async def run_action(
        self,
        action: str | ActionParseResult,
        default_namespace: DOMNode | None = None,
        namespaces: Mapping[str, DOMNode] | None = None,
    ) -> bool:
        """Every key and click comes through here: an action that cannot be used now says
        why (and is not run), whatever check its own code does or forgets."""
        refusal = _refusal(default_namespace, action) if isinstance(action, str) else None
        if refusal is not None:
            if refusal:
                self.bell()
                self.notify(refusal, severity="warning", markup=False)
            return True
        return await super().run_action(action, default_namespace, namespaces)

    def on_affected_execution(self, message: AffectedExecution) -> None:
        self.affected = message.execution_id

    def action_open_affected(self) -> None:
        if self.affected is None or self.backend is None:
            self.notify("no action yet: o opens the execution the last action changed", markup=False)
            return
        self.push_screen(ExecutionDetailScreen(self.backend, self.affected))

    async def on_unmount(self) -> None:
        # Stops what start() started; the store is closed only if the backend opened it.
        if self.backend is not None:
            await self.backend.stop()


def _refusal(node: object, action: str) -> str | None:
    """Why ``node`` cannot run ``action`` now (``""``: nothing to say), or None when it can."""
    if not isinstance(node, Gated):
        return None
    return node.availability(parse(action)[1]).reason


def _freeze_heap() -> None:
    """Keep what start-up built (modules, styles, widgets, engine) out of the collector's way.

    A full collection walks every object the process holds; with the runtime at 1,000
    steps/s one came every few seconds and took 30-40 ms, a view switch's whole budget.
    After ``gc.freeze`` it walks only what was made since. Collected first, so no garbage
    is kept; once per process (several apps may run in one, as in the tests).
    """
    global _heap_frozen
    if not _heap_frozen:
        _heap_frozen = True
        gc.collect()
        gc.freeze()


_heap_frozen = False


KEYMAP_ENV = "FLOWMONKEY_CONSOLE_KEYMAP"


def load_keymap(path: str | None) -> dict[str, str]:
    """Read a TOML file of ``"binding.id" = "keys"`` lines (ids are listed by ``?``)."""
    if not path:
        return {}
    try:
        data = tomllib.loads(Path(path).read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read the keymap {path} ({KEYMAP_ENV}): {exc}") from None
    bad = [key for key, value in data.items() if not isinstance(value, str)]
    if bad:
        raise ValueError(f'keymap {path}: {", ".join(bad)} must map to a key string like "f5"')
    return {key: str(value) for key, value in data.items()}


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``flowmonkey-console``."""
    options = parse_options(argv)
    if not options.flows_dir.is_dir() and options.flows_dir != Path("flows"):
        print(f"flowmonkey-console: no flows directory {options.flows_dir}", file=sys.stderr)
        sys.exit(2)
    refused = None if options.create and not options.readonly else missing_store(options.store_url)
    if refused is not None:  # before the screen is taken: one line a person can read
        print(f"flowmonkey-console: {refused}", file=sys.stderr)
        sys.exit(2)
    try:
        keymap = load_keymap(os.environ.get(KEYMAP_ENV))
    except ValueError as exc:
        print(f"flowmonkey-console: {exc}", file=sys.stderr)
        sys.exit(2)
    log_file = send_logs_to_file(Path(os.environ.get(LOG_ENV, DEFAULT_LOG)))
    llm = llm_handler(base_url=os.environ.get("OPENAI_BASE_URL"), api_key=os.environ.get("OPENAI_API_KEY"))
    if options.web is not None:
        from .web import serve_web

        sys.exit(serve_web(options, handlers=[llm]))
    app = ConsoleApp(options, keymap=keymap, handlers=[llm])
    app.run()
    if app.return_code:
        print(f"flowmonkey-console: the log is in {log_file}", file=sys.stderr)
    sys.exit(app.return_code or 0)


LOG_ENV = "FLOWMONKEY_CONSOLE_LOG"
DEFAULT_LOG = ".flowmonkey/console.log"


def send_logs_to_file(path: Path) -> Path:
    """Handlers and the engine log while the console owns the terminal: into a file, one
    JSON object per line with the fields of `flowmonkey worker --log-format json`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter(worker=f"console:{os.getpid()}"))  # the worker's JSON lines
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # watchfiles logs "1 change detected" at INFO for every save: noise, not news.
    logging.getLogger("watchfiles").setLevel(logging.WARNING)
    return path


if __name__ == "__main__":
    main()

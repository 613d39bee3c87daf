"""``--web``'s options and the command each browser tab's console runs (no browser here)."""

from __future__ import annotations

import shlex
import sys

import pytest

from flowmonkey_console.options import ConsoleOptions, parse_options
from flowmonkey_console.web import INSTALL_HINT, serve_web, session_command

SECRET_URL = "postgresql://ops:s3cret@db.internal/flowmonkey"


def test_web_options_parse_and_the_tabs_attach_read_only_by_default() -> None:
    options = parse_options(["--web", "127.0.0.1:8000", "--store", SECRET_URL, "--flows", "flows"])
    assert options.web == ("127.0.0.1", 8000) and not options.web_allow_actions and options.worker
    argv = shlex.split(session_command(options))
    assert argv[:3] == [sys.executable, "-m", "flowmonkey_console"]
    assert "--attach" in argv and "--readonly" in argv
    assert "s3cret" not in session_command(options)  # the URL goes by the environment
    allowed = parse_options(["--web", "127.0.0.1:8000", "--web-allow-actions"])
    assert "--readonly" not in shlex.split(session_command(allowed))
    still_readonly = parse_options(["--web", "127.0.0.1:8000", "--web-allow-actions", "--readonly"])
    assert "--readonly" in shlex.split(session_command(still_readonly))


def test_attach_runs_no_worker() -> None:
    options = parse_options(["--attach"])
    assert options.attach and not options.worker and not options.readonly


def test_the_store_url_comes_from_the_environment_when_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWMONKEY_CONSOLE_STORE", "sqlite:///elsewhere.db")
    assert parse_options([]).store_url == "sqlite:///elsewhere.db"
    assert parse_options(["--store", "memory://"]).store_url == "memory://"


def test_without_the_web_extra_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)  # an import of it fails
    assert serve_web(ConsoleOptions(web=("127.0.0.1", 8000))) == 2
    assert capsys.readouterr().err == f"flowmonkey-console: {INSTALL_HINT}\n"

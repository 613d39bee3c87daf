"""The ``flowmonkey`` command, run for real in a subprocess against a SQLite file."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flowmonkey import cli
from flowmonkey.cli import parser

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("flowmonkey.stores.sqlite") is None,
    reason="flowmonkey.stores.sqlite is not there yet: the CLI tests need the real SQLite store",
)

EXAMPLES = Path(__file__).resolve().parents[2] / "flows"

FAILING = """\
id: unreachable-api
initialStepId: call
steps:
  call:
    type: http
    config: {url: "http://127.0.0.1:1/nothing", timeout: 1s}
"""


class Cli:
    """Runs ``python -m flowmonkey`` in a project directory with its own database."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {
            **os.environ,
            "FLOWMONKEY_STORE": f"sqlite:///{root / 'fm.db'}",
            "FLOWMONKEY_FLOWS": str(root / "flows"),
            "COLUMNS": "200",
        }

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "flowmonkey", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def json(self, *args: str, code: int = 0) -> Any:
        done = self(*args, "--json")
        assert done.returncode == code, done.stderr + done.stdout
        return json.loads(done.stdout)


@pytest.fixture
def fm(tmp_path: Path) -> Cli:
    shutil.copytree(EXAMPLES, tmp_path / "flows", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "flows" / "unreachable.yaml").write_text(FAILING)
    return Cli(tmp_path)


def test_validate_reports_every_error_with_file_line_and_column(fm: Cli) -> None:
    good = fm("validate")
    assert good.returncode == 0, good.stderr
    assert "10 of 10 files ok, 0 error(s)" in good.stdout

    (fm.root / "flows" / "greeting.yaml").write_text(
        (EXAMPLES / "greeting.yaml").read_text().replace("onSuccess: log", "onSuccess: lgo")
    )
    bad = fm("validate")
    assert bad.returncode == 1
    assert 'flows/greeting.yaml:13:19: steps.greet.transitions.onSuccess: no step "lgo"' in bad.stderr
    assert "9 of 10 files ok, 1 error(s)" in bad.stdout

    report = fm.json("validate", str(fm.root / "flows"), code=1)
    [broken] = [f for f in report["files"] if not f["ok"]]
    assert broken["problems"][0]["line"] == 13
    assert fm("validate", "no-such-dir").returncode == 2


def test_run_list_and_show_an_execution(fm: Cli) -> None:
    done = fm.json("run", "greeting", "--input", '{"user": {"name": "CLI"}}', "--wait")
    assert done["status"] == "completed"
    assert done["context"]["greeting"] == {"message": "Hello, CLI!"}

    pending = fm.json("run", "greeting")  # without --wait a worker picks it up
    assert pending["status"] == "pending"

    listed = fm.json("list", "--status", "completed", "--flow", "greeting")
    assert [e["id"] for e in listed] == [done["id"]]
    assert len(fm.json("list", "--limit", "1")) == 1

    shown = fm.json("show", done["id"])
    assert [r["step_id"] for r in shown["history"]] == ["greet", "log"]
    human = fm("show", done["id"])
    assert "✔ completed" in human.stdout
    assert "greet" in human.stdout


def test_a_waiting_execution_is_resumed_with_data_from_a_file(fm: Cli) -> None:
    waiting = fm.json(
        "run", "expense-approval", "--input", '{"expense": {"amount": 9, "reason": "ink"}}', "--wait"
    )
    assert waiting["status"] == "waiting"
    (fm.root / "decision.json").write_text('{"approved": true, "by": "ops"}')

    done = fm.json("resume", waiting["id"], "--data", "@decision.json", "--wait")

    assert done["status"] == "completed"
    assert done["context"]["decision"] == {"approved": True, "by": "ops"}
    again = fm("resume", waiting["id"], "--data", "{}")
    assert again.returncode == 1
    assert "NOT_WAITING" in again.stderr


def test_cancel_a_waiting_execution_but_not_a_finished_one(fm: Cli) -> None:
    waiting = fm.json(
        "run", "expense-approval", "--input", '{"expense": {"amount": 1, "reason": "x"}}', "--wait"
    )

    cancelled = fm.json("cancel", waiting["id"], "--reason", "duplicate")
    assert cancelled == {
        "cancelled": True,
        "id": waiting["id"],
        "previous_status": "waiting",
        "children_cancelled": 0,
    }
    assert fm.json("show", waiting["id"])["execution"]["cancellation"]["reason"] == "duplicate"
    assert fm("cancel", waiting["id"]).returncode == 1


def test_a_failed_execution_exits_1_with_its_error(fm: Cli) -> None:
    failed = fm("run", "unreachable-api", "--wait")

    assert failed.returncode == 1
    assert "✘ failed" in failed.stdout
    assert "HTTP_ERROR" in failed.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["run", "greeting", "--input", "{not json"],
        ["run", "greeting", "--input", "[1, 2]"],
        ["run", "greeting", "--input", "@missing.json"],
        ["list", "--limit", "0"],
        ["list", "--status", "sleeping"],
        ["launch"],
    ],
)
def test_bad_usage_exits_2(fm: Cli, args: list[str]) -> None:
    done = fm(*args)

    assert done.returncode == 2, done.stderr
    assert done.stderr


def test_unknown_ids_and_flows_are_reported_failures(fm: Cli) -> None:
    assert fm.json("run", "no-such-flow", code=1) == {  # run makes the store
        "error": {
            "code": "FLOW_NOT_FOUND",
            "message": "flow 'no-such-flow' is not registered",
            "details": {},
        }
    }
    missing = fm("show", "01NOPE")
    assert missing.returncode == 1
    assert "no execution '01NOPE'" in missing.stderr


def test_a_subcommand_that_cannot_load_is_a_usage_error_naming_the_missing_module(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(parser.DELEGATED, "teleport", ("flowmonkey.teleport", "not installed here"))

    assert cli.main(["teleport", "--now"]) == 2
    err = capsys.readouterr().err
    assert "flowmonkey teleport: cannot load it, a dependency is missing" in err
    assert "flowmonkey.teleport" in err


def test_a_mistyped_sqlite_path_is_refused_not_created(fm: Cli) -> None:
    typo = fm.root / "var" / "lib" / "flowmonky" / "fm.db"
    for command in (["list"], ["show", "01NOSUCHID"], ["cancel", "01NOSUCHID"], ["resume", "01NOSUCHID"]):
        done = fm(*command, "--store", f"sqlite:///{typo}")
        assert done.returncode == 2, done.stderr + done.stdout
        assert done.stderr.strip().splitlines() == [
            f"flowmonkey {command[0]}: no SQLite database at {typo} (check the path; --create makes a "
            "new, empty store)"
        ]
        assert done.stdout == ""
    assert not (fm.root / "var").exists(), "nothing may be created"
    assert fm("list", "--store", f"sqlite:///{typo}", "--create").returncode == 0
    assert typo.exists()


def test_the_default_location_and_the_creating_commands_make_the_store(fm: Cli) -> None:
    fresh = fm.root / "elsewhere" / "fm.db"
    done = fm("run", "greeting", "--store", f"sqlite:///{fresh}", "--input", '{"user": {"name": "A"}}')
    assert done.returncode == 0, done.stderr
    assert fresh.exists()
    del fm.env["FLOWMONKEY_STORE"]  # the default: .flowmonkey/flowmonkey.db in the working directory
    assert fm("list").returncode == 0
    assert (fm.root / ".flowmonkey" / "flowmonkey.db").exists()

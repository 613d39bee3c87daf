"""Bad input on the command line, run for real in subprocesses: a malformed store URL on
every command, JSON a store cannot keep, and ``validate --no-code``. Each is one line on
stderr and exit code 2, without a traceback and without the password."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

PASSWORD = "s3cret"
BAD_URLS = [
    f"postgresql://app:{PASSWORD}@[bad/x",  # an unclosed IPv6 bracket: a ValueError in urllib
    "sqlite://nohost",
    f"bogus://app:{PASSWORD}@x",
    "sqlite:///x.db?bogus=1",
    f"postgresql://app:{PASSWORD}@db.example:99999/x",
    f"postgresql://app:{PASSWORD}@db.example/x?sslmod=require",
    f"postgresql://app:{PASSWORD}@db.example/x?sslmode=sometimes",
    "memory://?x=1",
]
COMMANDS = [
    ["list"],
    ["show", "01ABC"],
    ["run", "greeting"],
    ["resume", "01ABC"],
    ["cancel", "01ABC"],
    ["worker", "--no-watch"],
    ["bench", "--executions", "1"],
    ["emit", "order.paid"],
    ["validate"],
]


def flowmonkey(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    (root / "flows").mkdir(exist_ok=True)
    (root / "fm.db").touch()  # an existing store: commands refuse a missing SQLite file
    return subprocess.run(
        [sys.executable, "-m", "flowmonkey", *args],
        cwd=root,
        env={**os.environ, "FLOWMONKEY_STORE": f"sqlite:///{root / 'fm.db'}", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line_usage_error(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    lines = done.stderr.splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout and PASSWORD not in done.stderr + done.stdout
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def run_all(root: Path, calls: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(max_workers=4) as pool:  # each call is a Python start-up: overlap them
        return list(pool.map(lambda call: flowmonkey(root, *call), calls))


def test_every_command_refuses_a_malformed_url_in_one_line(tmp_path: Path) -> None:
    url = BAD_URLS[0]
    for command, done in zip(
        COMMANDS, run_all(tmp_path, [[*c, "--store", url] for c in COMMANDS]), strict=True
    ):
        line = assert_one_line_usage_error(done, "app:***@[bad/x", "malformed")
        assert command[0] in line or line.startswith("error:")


@pytest.mark.parametrize("command", [["list"], ["worker", "--no-watch"]], ids=lambda c: c[0])
def test_every_kind_of_malformed_url_is_one_line_with_the_password_masked(
    tmp_path: Path, command: list[str]
) -> None:
    for url, done in zip(
        BAD_URLS, run_all(tmp_path, [[*command, "--store", url] for url in BAD_URLS]), strict=True
    ):
        line = assert_one_line_usage_error(done)
        if PASSWORD in url:
            assert "app:***@" in line, line


def test_a_malformed_url_from_the_environment_is_refused_too(tmp_path: Path) -> None:
    done = flowmonkey(tmp_path, "list", env={"FLOWMONKEY_STORE": "sqlite:///x.db?synchronus=full"})
    assert_one_line_usage_error(done, "unknown option 'synchronus'", 'did you mean "synchronous"')


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (
            ["resume", "01ABC", "--data", "NaN"],
            "--data is not JSON: $: is NaN, which strict JSON does not allow",
        ),
        (["run", "greeting", "--input", '{"a": {"b": NaN}}'], "$.a.b: is NaN"),
        (["run", "greeting", "--input", '{"a": [1, Infinity]}'], "$.a[1]: is Infinity"),
        (["run", "greeting", "--input", '{"a": -Infinity}'], "$.a: is -Infinity"),
        (["run", "greeting", "--input", '{"n": 1' + "0" * 5000 + "}"], "$.n: is an integer of more than"),
        (["run", "greeting", "--input", '{"t": "a\\u0000b"}'], "$.t: contains a NUL"),
        (["emit", "order.paid", "--data", '{"total": NaN}'], "$.total: is NaN"),
    ],
    ids=[
        "resume-nan",
        "run-nan",
        "run-infinity",
        "run-minus-infinity",
        "run-5000-digits",
        "run-nul",
        "emit-nan",
    ],
)
def test_json_a_store_cannot_keep_is_refused_before_anything_is_stored(
    tmp_path: Path, args: list[str], where: str
) -> None:
    assert_one_line_usage_error(flowmonkey(tmp_path, *args), where)
    listed = flowmonkey(tmp_path, "list", "--json")
    assert listed.returncode == 0 and listed.stdout.strip() == "[]", listed.stderr


GREETING = """\
id: greeting
initialStepId: greet
steps:
  greet:
    type: greet
    config: {}
    transitions: {onSuccess: log}
  log:
    type: log
    config: {message: "hi ${greet}"}
  ignored:
    type: log
    config: {mesage: "typo in a built-in's config"}
"""

MODULE = """\
from pathlib import Path
Path(__file__).with_name("module-ran").write_text("yes")

from flowmonkey import Result, handler

@handler("greet")
async def greet(params):
    return Result.success({"message": "hello"})
"""


def test_validate_no_code_checks_flow_files_without_running_their_modules(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "greeting.yaml").write_text(GREETING)
    (flows / "handlers.py").write_text(MODULE)

    checked = flowmonkey(tmp_path, "validate", "--no-code")
    assert not (flows / "module-ran").exists()
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert 'steps.ignored.config.mesage: unknown key "mesage"' in checked.stderr  # built-ins still checked
    assert "handler modules not imported (handlers.py)" in checked.stdout
    assert "(greet)" in checked.stdout  # the type taken on trust is named

    (flows / "greeting.yaml").write_text(GREETING.replace("mesage", "message"))
    clean = flowmonkey(tmp_path, "validate", "--no-code", "--json")
    assert clean.returncode == 0, clean.stderr
    assert '"unchecked_types": [\n    "greet"\n  ]' in clean.stdout
    assert not (flows / "module-ran").exists()

    imported = flowmonkey(tmp_path, "validate")  # the default imports them, as a worker does
    assert imported.returncode == 0, imported.stderr
    assert (flows / "module-ran").read_text() == "yes"

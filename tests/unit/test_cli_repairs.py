"""Fix and continue on the command line, run for real in a subprocess against a SQLite
file: retry, skip, fail, fork, migrate, bulk by filter, flows, and the one --json shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.test_cli import Cli

# Each test runs the command line a dozen times, a process each (~1s; more on a busy machine).
pytestmark = pytest.mark.timeout(300)

SHIPPING = """\
id: shipping
version: 1.0.0
initialStepId: charge
steps:
  charge:
    type: charge
    outputKey: payment
    transitions: {onSuccess: ship}
  ship:
    type: ship
    outputKey: shipment
    errorKey: problem
    onExhausted: hold
    outputSchema: {type: object, required: [tracking], properties: {tracking: {type: string}}}
    transitions: {onSuccess: thank, onFailure: refund}
  thank:
    type: charge
    outputKey: thanks
  refund:
    type: charge
    outputKey: refunded
"""

HANDLERS = """\
from pathlib import Path

from flowmonkey import HandlerParams, Result, StepResult, handler

HERE = Path(__file__).parent


@handler("charge")
async def charge(params: HandlerParams) -> StepResult:
    with (HERE / "charges.log").open("a") as log:
        log.write(params.step.id + "\\n")
    return Result.success({"ok": True})


@handler("ship")
async def ship(params: HandlerParams) -> StepResult:
    if (HERE / "api_down").exists():
        return Result.failure("HTTP_ERROR", "the shipping API answered 503")
    return Result.success({"tracking": "TRACK-1"})
"""


@pytest.fixture
def fm(tmp_path: Path) -> Cli:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "shipping.yaml").write_text(SHIPPING)
    (flows / "shipping.py").write_text(HANDLERS)
    (flows / "api_down").write_text("")
    return Cli(tmp_path)


def charges(fm: Cli) -> list[str]:
    return (fm.root / "flows" / "charges.log").read_text().split()


def held(fm: Cli) -> str:
    execution = fm.json("run", "shipping", "--create", "--wait", code=1)  # a failure an operator sees to
    assert execution["status"] == "held" and execution["error"]["code"] == "HTTP_ERROR"
    return str(execution["id"])


def test_a_held_execution_is_retried_after_the_fix_and_continues_from_its_step(fm: Cli) -> None:
    execution_id = held(fm)
    again = fm.json("retry", execution_id, "--wait", code=1)  # too early: the API is still down
    assert again["status"] == "held"

    (fm.root / "flows" / "api_down").unlink()
    later = fm("retry", execution_id)
    assert later.returncode == 0, later.stderr
    assert "continues when a worker or the console runs it" in later.stdout
    finished = fm.json("retry", execution_id, "--wait", code=1)  # it is running, not held
    assert finished["error"]["code"] == "NOT_REPAIRABLE"
    shown = fm.json("show", execution_id)
    outcomes = [(r["step_id"], r["outcome"]) for r in shown["history"]]
    assert outcomes[:4] == [("charge", "completed"), ("ship", "held"), ("ship", "retried"), ("ship", "held")]
    assert outcomes[-1] == ("ship", "retried") and shown["execution"]["status"] == "running"
    assert "retried by" in shown["history"][-1]["note"]
    assert charges(fm) == ["charge"]  # the card was charged once


def test_skip_checks_the_output_schema_and_fail_follows_on_failure(fm: Cli) -> None:
    first, second = held(fm), held(fm)
    refused = fm.json("skip", first, "--output", '{"tracking": 7}', code=1)
    assert refused["error"]["code"] == "INVALID_ARGUMENT" and "outputSchema" in refused["error"]["message"]
    assert refused["error"]["details"]["errors"][0]["path"] == "$.tracking"
    (fm.root / "out.json").write_text('{"tracking": "BY-HAND"}')
    skipped = fm.json("skip", first, "--output", "@out.json", "--wait")
    assert skipped["status"] == "completed" and skipped["context"]["shipment"] == {"tracking": "BY-HAND"}

    failed = fm.json("fail", second, "--wait")
    assert failed["status"] == "completed" and failed["context"]["problem"]["code"] == "HTTP_ERROR"
    assert charges(fm) == ["charge", "charge", "thank", "refund"]


def test_fork_starts_at_a_step_with_the_context_before_it_or_one_given(fm: Cli) -> None:
    origin = held(fm)
    (fm.root / "flows" / "api_down").unlink()
    (fm.root / "ctx.json").write_text('{"payment": {"ok": "edited"}}')
    fork = fm.json("fork", origin, "--from", "ship", "--context", "@ctx.json", "--wait")
    assert fork["status"] == "completed" and fork["id"] != origin
    assert fork["context"]["payment"] == {"ok": "edited"}
    assert fork["metadata"]["forked_from"]["execution_id"] == origin
    assert fm.json("show", origin)["execution"]["metadata"]["forks"] == [fork["id"]]
    plain = fm.json("fork", origin, "--from", "ship", "--definition", "live")
    assert plain["status"] == "pending" and plain["context"] == {"payment": {"ok": True}}
    missing = fm.json("fork", origin, "--from", "nowhere", code=1)
    assert missing["error"]["code"] == "NOT_REPAIRABLE"


def test_migrate_resolves_the_target_lists_what_moves_and_records_both_hashes(fm: Cli) -> None:
    execution_id = held(fm)
    old_hash = fm.json("show", execution_id)["execution"]["flow_hash"]
    flow_file = fm.root / "flows" / "shipping.yaml"
    flow_file.write_text(SHIPPING.replace("version: 1.0.0", "version: 1.0.1"))

    preview = fm("migrate", "--flow", "shipping", "--to", "live", "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert "1.0.1" in preview.stdout and f"moves   {execution_id}" in preview.stdout
    assert fm.json("show", execution_id)["execution"]["flow_hash"] == old_hash

    moved = fm.json("migrate", "--flow", "shipping", "--to", "1.0.1", "--yes")
    assert moved["moved"] == [execution_id] and moved["target"]["version"] == "1.0.1"
    shown = fm.json("show", execution_id)
    assert shown["execution"]["flow_hash"] == moved["target"]["hash"] != old_hash
    assert shown["history"][-1]["outcome"] == "migrated" and old_hash[:12] in shown["history"][-1]["note"]
    again = fm.json("migrate", "--flow", "shipping", "--to", "live", "--yes")
    assert again["moved"] == [] and again["unchanged"] == 1

    flow_file.write_text(
        SHIPPING.replace("version: 1.0.0", "version: 2.0.0").replace(
            "ship:\n    type: ship", "ship:\n    type: charge"
        )
    )
    refused = fm.json("migrate", "--flow", "shipping", "--to", "live", "--dry-run")
    assert refused["refused"][0]["id"] == execution_id
    assert "'ship' is a 'ship' step in its definition, a 'charge' step" in refused["refused"][0]["reason"]


def test_bulk_retry_by_filter_previews_then_works_the_set_once(fm: Cli) -> None:
    ids = {held(fm) for _ in range(4)}
    dry = fm.json("retry", "--filter", "status:held flow:ship", "--dry-run")
    assert dry["count"] == 4 and set(dry["first_ids"]) == ids and dry["result"]["done"] == 0
    assert {e["status"] for e in fm.json("list", "--flow", "shipping")} == {"held"}

    unconfirmed = fm.json("retry", "--filter", "status:held", code=2)  # no tty, no --yes
    assert unconfirmed["error"]["code"] == "USAGE" and "--yes" in unconfirmed["error"]["message"]

    done = fm.json("retry", "--filter", "status:held", "--yes")
    assert done["result"]["done"] == 4 and done["result"]["refused"] == 0
    assert {e["status"] for e in fm.json("list", "--flow", "shipping")} == {"running"}
    assert fm.json("retry", "--filter", "status:held", "--yes")["count"] == 0  # re-run: nothing twice

    cancelled = fm.json("cancel", "--filter", "flow:shipping", "--yes", "--reason", "bulk")
    assert cancelled["result"]["done"] == 4
    assert {e["cancellation"]["reason"] for e in fm.json("list", "--flow", "shipping")} == {"bulk"}


def test_flows_lists_the_directory_and_the_store_with_executions_by_status(fm: Cli) -> None:
    held(fm)
    (fm.root / "flows" / "shipping.yaml").rename(fm.root / "flows" / "gone.txt")
    listed = fm.json("flows")
    [row] = listed["flows"]
    assert row["id"] == "shipping" and row["file"] is None and row["executions"]["held"] == 1
    (fm.root / "flows" / "gone.txt").rename(fm.root / "flows" / "shipping.yaml")
    [row] = fm.json("flows")["flows"]
    assert row["version"] == "1.0.0" and row["file"].endswith("shipping.yaml")
    assert "shipping" in fm("flows").stdout


def test_one_json_shape_for_errors_usage_included(fm: Cli) -> None:
    held(fm)
    missing = fm.json("show", "01NOPE", code=1)
    assert missing == {
        "error": {"code": "EXECUTION_NOT_FOUND", "message": "no execution '01NOPE'", "details": {}}
    }
    usage = fm.json("retry", "--filter", "status:sleeping", code=2)
    assert usage["error"]["code"] == "USAGE" and "unknown status 'sleeping'" in usage["error"]["message"]
    both = fm.json("cancel", code=2)
    assert both["error"]["code"] == "USAGE"
    bad_option = fm("list", "--limit", "0", "--json")
    assert bad_option.returncode == 2 and json.loads(bad_option.stdout)["error"]["code"] == "USAGE"
    assert fm("--version").stdout.startswith("flowmonkey ")


def test_run_reports_only_the_problems_of_its_flow(fm: Cli) -> None:
    (fm.root / "flows" / "other.yaml").write_text("id: other\ninitialStepId: nowhere\nsteps: {}\n")
    (fm.root / "flows" / "api_down").unlink()
    done = fm("run", "shipping", "--create", "--wait")
    assert done.returncode == 0 and "other.yaml" not in done.stderr
    missing = fm("run", "no-such-flow")
    assert "other.yaml" not in missing.stderr and "1 other file(s)" in missing.stderr
    assert "FLOW_NOT_FOUND" in missing.stderr

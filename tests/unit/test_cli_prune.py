"""``flowmonkey prune``, run for real in a subprocess against a SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.unit.test_cli import Cli, fm

__all__ = ["fm"]  # the fixture, shared with test_cli


def test_a_dry_run_says_what_would_go_and_a_prune_deletes_only_that(fm: Cli) -> None:
    done = [fm.json("run", "greeting", "--input", '{"user": {"name": "A"}}', "--wait") for _ in range(2)]
    waiting = fm.json(
        "run", "expense-approval", "--input", '{"expense": {"amount": 9, "reason": "ink"}}', "--wait"
    )
    assert waiting["status"] == "waiting"

    assert fm.json("prune")["executions"]["total"] == 0  # nothing finished 30 days ago
    dry = fm.json("prune", "--older-than", "0s", "--dry-run")
    assert dry["dryRun"] is True
    assert dry["executions"] == {
        "total": 2,
        "byFlow": [{"flow": "greeting", "status": "completed", "count": 2}],
    }
    assert len(fm.json("list")) == 3

    human = fm("prune", "--older-than", "0s", "--status", "completed", "--vacuum")
    assert human.returncode == 0, human.stderr
    assert "deleted 2 execution(s)" in human.stdout
    assert "given back (VACUUM)" in human.stdout
    assert [e["id"] for e in fm.json("list")] == [waiting["id"]]
    for execution in done:
        assert fm("show", execution["id"]).returncode == 1
    with sqlite3.connect(fm.root / "fm.db") as conn:
        assert conn.execute("SELECT count(*) FROM step_records").fetchone()[0] == len(
            fm.json("show", waiting["id"])["history"]
        )


def test_bad_usage_is_refused_with_one_line(fm: Cli, tmp_path: Path) -> None:
    active = fm("prune", "--status", "completed,held")
    assert active.returncode == 2
    assert "expected finished statuses (completed, failed, cancelled), got 'completed,held'" in active.stderr
    missing = fm("prune", "--store", f"sqlite:///{tmp_path / 'typo.db'}")
    assert missing.returncode == 2
    assert "no SQLite database at" in missing.stderr
    assert not (tmp_path / "typo.db").exists()

"""switch, conditional, transform, log and subflow, run through the engine."""

from __future__ import annotations

from typing import Any

import pytest

from flowmonkey import ExecutionStatus, HandlerParams, Result, StepResult, handler
from flowmonkey.testing import TestHarness
from tests.unit.helpers import BASIC


def mark(value: str) -> dict[str, Any]:
    return {"type": "echo", "input": {"type": "static", "value": value}, "outputKey": "went"}


SWITCH = {
    "id": "sw",
    "initialStepId": "route",
    "steps": {
        "route": {
            "type": "switch",
            "config": {"path": "order.kind", "cases": {"book": "books", "true": "flag"}, "default": "other"},
        },
        "books": mark("books"),
        "flag": mark("flag"),
        "other": mark("other"),
    },
}


@pytest.mark.parametrize(
    ("kind", "went"), [("book", "books"), (True, "flag"), ("car", "other"), (None, "other")]
)
async def test_switch_routes_on_the_value_at_a_path(kind: Any, went: str) -> None:
    harness = TestHarness(handlers=BASIC, flows=[SWITCH])
    done = await harness.run("sw", {"order": {"kind": kind}})
    harness.assert_context(done, {"went": went})


async def test_switch_without_a_match_or_default_fails_with_no_match() -> None:
    flow = {
        "id": "sw",
        "initialStepId": "r",
        "steps": {"r": {"type": "switch", "config": {"path": "k", "cases": {"a": "r"}}}},
    }
    harness = TestHarness(flows=[flow])
    done = await harness.run("sw", {"k": "zzz"})
    harness.assert_failed(done, "NO_MATCH")
    assert done.error is not None and "'zzz'" in done.error.message


def conditional_flow(rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "cond",
        "initialStepId": "check",
        "steps": {
            "check": {"type": "conditional", "config": {"rules": rules, "default": "no"}},
            "yes": mark("yes"),
            "no": mark("no"),
        },
    }


CTX = {"amount": 120, "email": "ada@example.com", "tags": ["vip", "eu"], "country": "DE", "zero": 0}


@pytest.mark.parametrize(
    ("op", "path", "value", "expected"),
    [
        ("eq", "country", "DE", "yes"),
        ("eq", "country", "FR", "no"),
        ("neq", "country", "FR", "yes"),
        ("gt", "amount", 100, "yes"),
        ("gt", "amount", 120, "no"),
        ("gte", "amount", 120, "yes"),
        ("lt", "amount", 100, "no"),
        ("lte", "amount", 120, "yes"),
        ("gt", "email", 3, "no"),  # incomparable types never match
        ("in", "country", ["DE", "AT"], "yes"),
        ("nin", "country", ["DE", "AT"], "no"),
        ("contains", "tags", "vip", "yes"),
        ("contains", "email", "@example", "yes"),
        ("startsWith", "email", "ada", "yes"),
        ("endsWith", "email", ".org", "no"),
        ("exists", "zero", None, "yes"),
        ("exists", "missing", None, "no"),
        ("notExists", "missing", None, "yes"),
        ("matches", "email", r"^[a-z]+@", "yes"),
        ("matches", "email", r"^\d", "no"),
    ],
)
async def test_conditional_operators(op: str, path: str, value: Any, expected: str) -> None:
    harness = TestHarness(
        handlers=BASIC, flows=[conditional_flow([{"path": path, "op": op, "value": value, "next": "yes"}])]
    )
    done = await harness.run("cond", dict(CTX))
    harness.assert_context(done, {"went": expected})


async def test_conditional_takes_the_first_matching_rule() -> None:
    rules = [
        {"path": "amount", "op": "gt", "value": 1000, "next": "no"},
        {"path": "amount", "op": "gt", "value": 100, "next": "yes"},
        {"path": "amount", "op": "gt", "value": 10, "next": "no"},
    ]
    harness = TestHarness(handlers=BASIC, flows=[conditional_flow(rules)])
    done = await harness.run("cond", dict(CTX))
    harness.assert_context(done, {"went": "yes"})


async def test_transform_picks_omits_renames_and_merges() -> None:
    flow = {
        "id": "t",
        "initialStepId": "shape",
        "steps": {
            "shape": {
                "type": "transform",
                "input": {"type": "key", "key": "user"},
                "config": {
                    "pick": ["name", "email", "password"],
                    "omit": ["password"],
                    "rename": {"name": "fullName"},
                    "merge": {"source": "signup", "country": "${geo.country}"},
                },
                "outputKey": "profile",
            }
        },
    }
    harness = TestHarness(flows=[flow])
    done = await harness.run(
        "t",
        {
            "user": {"name": "Ada", "email": "a@x.io", "password": "s3cret", "age": 36},
            "geo": {"country": "UK"},
        },
    )
    assert done.context["profile"] == {
        "fullName": "Ada",
        "email": "a@x.io",
        "source": "signup",
        "country": "UK",
    }


async def test_log_renders_its_message(caplog: pytest.LogCaptureFixture) -> None:
    flow = {
        "id": "l",
        "initialStepId": "say",
        "steps": {"say": {"type": "log", "config": {"message": "order ${order.id} ok"}, "outputKey": "said"}},
    }
    harness = TestHarness(flows=[flow])
    with caplog.at_level("INFO", logger="flowmonkey.flows"):
        done = await harness.run("l", {"order": {"id": 42}})
    assert done.context["said"] == {"message": "order 42 ok"}
    assert "order 42 ok" in caplog.text


PARENT = {
    "id": "parent",
    "initialStepId": "child",
    "steps": {
        "child": {
            "type": "subflow",
            "config": {"flowId": "child"},
            "input": {"type": "template", "template": {"n": "${n}"}},
            "outputKey": "childResult",
            "transitions": {"onSuccess": "after", "onFailure": "recover"},
            "errorKey": "childError",
        },
        "after": mark("after"),
        "recover": mark("recover"),
    },
}


@handler("double")
async def double(params: HandlerParams) -> StepResult:
    if params.input < 0:
        return Result.failure("NEGATIVE", "n must not be negative")
    return Result.success(params.input * 2)


CHILD = {
    "id": "child",
    "initialStepId": "a",
    "steps": {"a": {"type": "double", "input": {"type": "key", "key": "n"}, "outputKey": "doubled"}},
}


async def test_subflow_runs_the_child_and_continues_with_its_context() -> None:
    harness = TestHarness(handlers=[*BASIC, double], flows=[PARENT, CHILD])
    done = await harness.run("parent", {"n": 21})
    harness.assert_completed(done)
    harness.assert_context(done, {"childResult": {"n": 21, "doubled": 42}, "went": "after"})
    children = (await harness.store.list_executions()).items
    child = next(e for e in children if e.flow_id == "child")
    assert child.parent_execution_id == done.id
    assert child.status is ExecutionStatus.COMPLETED


async def test_a_failed_child_fails_the_step_with_child_failed() -> None:
    harness = TestHarness(handlers=[*BASIC, double], flows=[PARENT, CHILD])
    done = await harness.run("parent", {"n": -1})
    harness.assert_context(done, {"went": "recover", "childError": {"code": "CHILD_FAILED"}})
    assert "n must not be negative" in done.context["childError"]["message"]


async def test_a_parent_rerun_never_starts_a_second_child() -> None:
    harness = TestHarness(
        handlers=[*BASIC, double], flows=[PARENT, {**CHILD, "steps": {"a": {"type": "wait"}}}]
    )
    waiting = await harness.run("parent", {"n": 1})
    harness.assert_waiting(waiting)
    for _ in range(3):
        await harness.engine.wake(waiting.id)
        await harness.engine.run(waiting.id)
    assert (await harness.store.count_executions())[ExecutionStatus.WAITING] == 2


async def test_harness_assertions_explain_mismatches() -> None:
    harness = TestHarness(handlers=BASIC, flows=[SWITCH])
    done = await harness.run("sw", {"order": {"kind": "book"}})
    with pytest.raises(AssertionError, match=r"context\.went: expected 'x', got 'books'"):
        harness.assert_context(done, {"went": "x"})
    with pytest.raises(AssertionError, match="is completed, expected failed"):
        harness.assert_failed(done)

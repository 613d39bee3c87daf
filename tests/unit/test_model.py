"""Flow parsing in the seed's JSON shape (validated by the flow schema), durations, and round trips."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from flowmonkey import Flow, FlowError, InputSelector, RetryPolicy
from flowmonkey.durations import format_duration, parse_duration
from flowmonkey.model import build_flow

SEED_FLOW: dict[str, Any] = {
    "id": "process-order",
    "version": "1.2.0",
    "name": "Process order",
    "initialStepId": "validate",
    "timeout": "1h",
    "steps": {
        "validate": {
            "id": "validate",
            "type": "validate-order",
            "config": {},
            "input": {"type": "key", "key": "order"},
            "outputKey": "validated",
            "errorKey": "lastError",
            "transitions": {"onSuccess": "charge", "onFailure": "notify"},
        },
        "charge": {
            "type": "charge",
            "retry": {
                "maxAttempts": 3,
                "backoff": "1s",
                "multiplier": 2,
                "maxBackoff": "1m",
                "retryOn": ["HTTP_ERROR"],
            },
            "timeout": "30s",
            "transitions": {"onSuccess": None},
        },
        "notify": {"type": "log", "config": {"message": "invalid"}},
    },
}


def test_from_dict_reads_the_seed_shape() -> None:
    flow = Flow.from_dict(SEED_FLOW)
    assert (flow.id, flow.version, flow.initial_step_id) == ("process-order", "1.2.0", "validate")
    assert flow.timeout == timedelta(hours=1)
    validate = flow.steps["validate"]
    assert validate.input.key == "order" and validate.output_key == "validated"
    assert validate.transitions.on_failure == "notify"
    charge = flow.steps["charge"]
    assert charge.retry is not None
    assert charge.retry.max_attempts == 3 and charge.retry.max_backoff == timedelta(minutes=1)
    assert charge.retry.retry_on == ("HTTP_ERROR",)
    assert charge.timeout == timedelta(seconds=30)
    assert charge.transitions.on_success is None


def test_to_dict_round_trips_and_the_hash_is_stable() -> None:
    flow = Flow.from_dict(SEED_FLOW)
    again = Flow.from_dict(flow.to_dict())
    assert again == flow
    assert again.hash == flow.hash
    changed = Flow.from_dict({**SEED_FLOW, "name": "other"})
    assert changed.hash != flow.hash


def test_a_list_of_steps_is_accepted() -> None:
    flow = Flow.from_dict({"id": "l", "initialStepId": "a", "steps": [{"id": "a", "type": "x"}]})
    assert list(flow.steps) == ["a"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"initialStepId": "a", "steps": {"a": {"type": "x"}}}, 'missing required key "id"'),
        ({"id": "", "initialStepId": "a", "steps": {"a": {"type": "x"}}}, "id: must not be empty"),
        ({"id": "f", "steps": {"a": {"type": "x"}}}, 'missing required key "initialStepId"'),
        (
            {"id": "f", "initialStepId": "a", "steps": {"a": {"id": "b", "type": "x"}}},
            "steps.a.id: step id 'b' differs from its key 'a'",
        ),
        (
            {"id": "f", "initialStepId": "a", "steps": [{"id": "a", "type": "x"}, {"id": "a", "type": "y"}]},
            "steps.1.id: step id 'a' is already used at steps.0",
        ),
        (
            {"id": "f", "initialStepId": "a", "steps": {"a": {"type": "x", "timeout": "soon"}}},
            "steps.a.timeout: expected seconds (a number) or a string like 250ms",
        ),
        (
            {"id": "f", "initialStepId": "a", "steps": {"a": {"type": "x", "timeout": float("nan")}}},
            "steps.a.timeout: expected a duration of at most 999999999 days, got nan",
        ),
        (
            {"id": "f", "initialStepId": "a", "steps": {"a": {"type": "x", "input": {"type": "magic"}}}},
            'steps.a.input.type: expected one of "key", "keys", "path", "template", "full", "static",'
            ' got "magic"',
        ),
        (
            {"id": "f", "initialStepId": "a", "steps": {"a": {"type": "x", "input": {"key": "order"}}}},
            'steps.a.input: missing required key "type"',
        ),
        (
            {"id": "f", "initialStepId": "a", "steps": {"a": {"type": "x", "retry": {"maxAttempts": 0}}}},
            "steps.a.retry.maxAttempts: must be at least 1",
        ),
        (
            {"id": "f", "initialStepId": "a", "steps": {"a": {"type": "x", "retry": {"maxAttempts": True}}}},
            "steps.a.retry.maxAttempts: expected an integer, got true",
        ),
        ({"id": "f", "initialStepId": "a", "steps": {"a": {}}}, 'steps.a: missing required key "type"'),
        ({"id": "f", "initialStepId": "a", "steps": {}}, "steps: must not be empty"),
        (
            {"id": "f", "initialStepId": "a", "steps": "nope"},
            'steps: expected an object (a mapping) or a list, got "nope"',
        ),
        (
            {"id": "f", "initialStepId": "a", "steps": {"a": {"type": "x", "outputkey": "y"}}},
            'steps.a.outputkey: unknown key "outputkey" (did you mean "outputKey"?)',
        ),
        (["a", "list"], "expected an object (a mapping), got list"),
    ],
)
def test_bad_documents_name_the_path(document: Any, message: str) -> None:
    with pytest.raises(FlowError) as raised:
        Flow.from_dict(document)
    assert message in str(raised.value)
    assert raised.value.code == "INVALID_FLOW"


def test_every_problem_is_named_with_its_path() -> None:
    document = {"id": 7, "initialStepId": "a", "steps": {"a": {"type": "x", "retry": {"backoff": "soon"}}}}

    with pytest.raises(FlowError) as raised:
        Flow.from_dict(document)

    assert str(raised.value) == (
        "id: expected a string, got 7; steps.a.retry.backoff: expected seconds (a number) or a string"
        ' like 250ms, 30s, 5m, 2h, 7d, got "soon"'
    )
    assert raised.value.details == {
        "path": ["id"],
        "problems": [
            {"path": ["id"], "message": "expected a string, got 7"},
            {
                "path": ["steps", "a", "retry", "backoff"],
                "message": 'expected seconds (a number) or a string like 250ms, 30s, 5m, 2h, 7d, got "soon"',
            },
        ],
    }


def test_what_the_format_allows_besides_the_seed_shape() -> None:
    flow = Flow.from_dict(
        {
            "$schema": "https://flowmonkey.dev/schema/flow.schema.json",
            "id": "f",
            "version": 2,
            "initialStepId": "a",
            "timeout": 90,
            "steps": [
                {
                    "id": "a",
                    "type": "x",
                    "input": {"type": "keys", "keys": ["k", "l"]},
                    "retry": {"maxAttempts": 3.0, "backoff": 0, "maxBackoff": 0.25},
                }
            ],
        }
    )

    assert (flow.version, flow.timeout) == ("2", timedelta(seconds=90))
    step = flow.steps["a"]
    assert step.input.keys == ("k", "l")
    assert step.retry == RetryPolicy(
        max_attempts=3, backoff=timedelta(0), max_backoff=timedelta(milliseconds=250)
    )
    assert type(step.retry.max_attempts) is int


def test_a_selector_keeps_only_the_fields_of_its_type() -> None:
    selector = InputSelector.from_dict({"type": "full"})
    assert selector == InputSelector()
    assert InputSelector.from_dict({"type": "static", "value": [1]}).to_dict() == {
        "type": "static",
        "value": [1],
    }
    with pytest.raises(FlowError, match=r"^path: must not be empty$"):
        InputSelector.from_dict({"type": "path", "path": ""})


def test_build_flow_trusts_its_input_and_checks_only_what_the_schema_cannot() -> None:
    # the flow-file loader validates with line and column first, then builds without validating again
    unchecked = {"id": "f", "initialStepId": "a", "steps": {"a": {"type": "x", "outputKey": ""}}}
    assert build_flow(unchecked).steps["a"].output_key == ""
    with pytest.raises(FlowError, match=r"steps\.a\.id: step id 'b' differs from its key 'a'"):
        build_flow({"id": "f", "initialStepId": "a", "steps": {"a": {"id": "b", "type": "x"}}})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (5, 5),
        (0.25, 0.25),
        ("250ms", 0.25),
        ("30s", 30),
        ("5m", 300),
        ("2h", 7200),
        ("7d", 604800),
        ("1.5h", 5400),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["", "5 weeks", "-1s", -3, True, None, "m5"])
def test_bad_durations_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match=r"expected|negative"):
        parse_duration(bad)


def test_format_duration_uses_the_largest_exact_unit() -> None:
    assert [format_duration(timedelta(seconds=s)) for s in (0.25, 30, 90, 3600, 86400 * 7)] == [
        "250ms",
        "30s",
        "90s",
        "1h",
        "7d",
    ]

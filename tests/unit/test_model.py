"""Flow parsing in the seed's JSON shape, durations, and round trips."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from flowmonkey import Flow, FlowError
from flowmonkey.durations import format_duration, parse_duration

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
        ({"initialStepId": "a", "steps": {}}, "id: expected a flow id"),
        ({"id": "f", "steps": {}}, "initialStepId: expected the id of the first step"),
        (
            {"id": "f", "initialStepId": "a", "steps": {"a": {"id": "b", "type": "x"}}},
            "steps.a.id: step id 'b' differs from its key 'a'",
        ),
        (
            {"id": "f", "initialStepId": "a", "steps": {"a": {"type": "x", "timeout": "soon"}}},
            "steps.a.timeout: expected seconds",
        ),
        (
            {"id": "f", "initialStepId": "a", "steps": {"a": {"type": "x", "input": {"type": "magic"}}}},
            "steps.a.input.type: unknown selector 'magic'",
        ),
        (
            {"id": "f", "initialStepId": "a", "steps": {"a": {"type": "x", "retry": {"maxAttempts": 0}}}},
            "steps.a.retry.maxAttempts: must be at least 1",
        ),
        ({"id": "f", "initialStepId": "a", "steps": {"a": {}}}, "steps.a.type: expected a handler type"),
        ({"id": "f", "initialStepId": "a", "steps": "nope"}, "steps: expected a mapping"),
    ],
)
def test_bad_documents_name_the_path(document: dict[str, Any], message: str) -> None:
    with pytest.raises(FlowError) as raised:
        Flow.from_dict(document)
    assert message in str(raised.value)
    assert raised.value.code == "INVALID_FLOW"


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

"""Property: whatever the document, the loader returns a flow or raises FlowFileError."""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowmonkey import HandlerRegistry
from flowmonkey.flowfiles import FlowFileError, LoadedFlow, parse_flow
from flowmonkey.handlers import builtin_handlers

HANDLERS = HandlerRegistry(builtin_handlers())

VALID: dict[str, Any] = {
    "id": "order",
    "version": "1.0.0",
    "initialStepId": "a",
    "timeout": "1h",
    "steps": {
        "a": {
            "type": "switch",
            "config": {"path": "x", "cases": {"1": "b"}, "default": "c"},
            "input": {"type": "key", "key": "x"},
            "retry": {"maxAttempts": 2, "backoff": "1s", "retryOn": ["HTTP_ERROR"]},
            "transitions": {"onSuccess": "b", "onFailure": "c"},
        },
        "b": {"type": "log", "config": {"message": "${x}"}, "outputKey": "out", "timeout": 5},
        "c": {"type": "delay", "config": {"duration": "5m"}},
    },
    "triggers": [{"id": "t", "type": "schedule", "cron": "0 8 * * *", "timezone": "Europe/Berlin"}],
}

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


@st.composite
def mutated_flows(draw: st.DrawFn) -> Any:
    doc = json.loads(json.dumps(VALID))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths(doc)))
        if not path:
            continue
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(json_values)
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(json_values)
    return doc


def serialize(doc: Any, as_json: bool) -> str:
    return json.dumps(doc) if as_json else yaml.safe_dump(doc, sort_keys=False)


def check(text: str, as_json: bool) -> None:
    try:
        result = parse_flow(text, file="f.json" if as_json else "f.yaml", handlers=HANDLERS)
    except FlowFileError as exc:
        assert exc.problems
        assert all(p.line >= 1 and p.column >= 1 for p in exc.problems)
        assert all(str(p).startswith("f.") for p in exc.problems)
    else:
        assert isinstance(result, LoadedFlow)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=mutated_flows(), as_json=st.booleans())
def test_mutated_flows_never_raise_anything_but_flow_file_error(doc: Any, as_json: bool) -> None:
    check(serialize(doc, as_json), as_json)


@settings(max_examples=150, deadline=None)
@given(doc=json_values, as_json=st.booleans())
def test_random_documents_never_raise_anything_but_flow_file_error(doc: Any, as_json: bool) -> None:
    check(serialize(doc, as_json), as_json)


@settings(max_examples=150, deadline=None)
@given(
    as_json=st.booleans(),
    cut=st.integers(0, 2000),
    insert=st.text(alphabet="{}[]:,-'\"&*!|>#%@`\t\n ab1", max_size=5),
)
def test_damaged_text_never_raises_anything_but_flow_file_error(as_json: bool, cut: int, insert: str) -> None:
    text = serialize(VALID, as_json)
    cut %= len(text) + 1
    check(text[:cut] + insert + text[cut + len(insert) :], as_json)


@given(text=st.text(max_size=200), as_json=st.booleans())
@settings(max_examples=150, deadline=None)
def test_arbitrary_text_never_raises_anything_but_flow_file_error(text: str, as_json: bool) -> None:
    check(text, as_json)


def test_the_valid_document_loads() -> None:
    assert parse_flow(serialize(VALID, False), file="f.yaml", handlers=HANDLERS).flow.id == "order"

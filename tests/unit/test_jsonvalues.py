"""Strict JSON: what may be stored, and the JSON path of what may not."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flowmonkey import jsonvalues
from flowmonkey.errors import NotJsonError

POISON: list[tuple[Any, str, str]] = [
    (object(), "$", "is an object, which is not JSON"),
    ({1, 2}, "$", "is a set"),
    (b"x", "$", "is a bytes"),
    (10**5000, "$", "more than 4300 digits"),
    (float("nan"), "$", "is nan"),
    (float("inf"), "$", "is inf"),
    ("a\x00b", "$", "NUL"),
    ("\ud800", "$", "lone surrogate (\\ud800)"),
    ({"result": {"items": [1, 2, 3, {4}]}}, "$.result.items[3]", "is a set"),
    ({"a b": [None, float("-inf")]}, '$["a b"][1]', "is -inf"),
    ({1: "x"}, "$", "key that is not a string: 1 (int)"),
    ({"k\x00": 1}, "$", "key that contains a NUL"),
]


IDS = [f"{type(v).__name__}-{i}" for i, (v, _, _) in enumerate(POISON)]


@pytest.mark.parametrize(("value", "path", "reason"), POISON, ids=IDS)
def test_poison_is_refused_naming_where(value: Any, path: str, reason: str) -> None:
    found = jsonvalues.problem(value)
    assert found is not None and found.path == path and reason in found.reason
    with pytest.raises(NotJsonError) as caught:
        jsonvalues.check(value)
    assert str(caught.value) == f"the value is not JSON: {path}: {found.reason}"


ENCODED = [(p, i) for p, i in zip(POISON, IDS, strict=True) if "not a string" not in p[2]]


@pytest.mark.parametrize(("value", "path", "reason"), [p for p, _ in ENCODED], ids=[i for _, i in ENCODED])
def test_the_fast_encoder_refuses_the_same_values(value: Any, path: str, reason: str) -> None:
    with pytest.raises(NotJsonError) as caught:
        jsonvalues.encode(value)
    assert caught.value.details["path"] == path and reason in caught.value.details["reason"]


@pytest.mark.parametrize(
    "value", [{"ok": "é😀", "n": 10**20, "f": 1.5, "l": [True, None, "\\u0000"]}, [], {}, "", 0, (1, 2)]
)
def test_json_encodes_compactly_and_reads_back_equal(value: Any) -> None:
    assert jsonvalues.problem(value) is None
    text = jsonvalues.encode(value)
    assert ", " not in text and ": " not in text
    assert json.loads(text) == (list(value) if isinstance(value, tuple) else value)


def test_nesting_has_a_limit_and_a_short_path() -> None:
    deep: list[Any] = []
    for _ in range(10_000):
        deep = [deep]
    found = jsonvalues.problem(deep)
    assert found is not None and "deeper than 256" in found.reason and len(found.path) < 10
    with pytest.raises(NotJsonError):
        jsonvalues.encode(deep)


def test_paths_follow_output_keys() -> None:
    assert jsonvalues.dotted("order.total") == "$.order.total"
    assert jsonvalues.dotted("my key") == '$["my key"]'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("NaN", "$: is NaN, which strict JSON does not allow"),
        ('{"a": [1, Infinity]}', "$.a[1]: is Infinity, which strict JSON does not allow"),
        ('{"a": -Infinity}', "$.a: is -Infinity, which strict JSON does not allow"),
        ('{"big": 1e999}', "$.big: is 1e999, too large for a number"),
        ('{"n": 1' + "0" * 5000 + "}", "$.n: is an integer of more than 4300 digits, which cannot be kept"),
        ('{"t": "a\\u0000b"}', "$.t: contains a NUL character (\\u0000)"),
        ("[" * 100_000, "$…: is nested deeper than 256 levels"),
    ],
)
def test_loads_refuses_what_no_store_keeps_naming_where(text: str, problem: str) -> None:
    with pytest.raises(NotJsonError) as caught:
        jsonvalues.loads(text, what="--data")
    assert caught.value.message == f"--data is not JSON: {problem}"


def test_loads_reads_strict_json_and_leaves_syntax_errors_to_json() -> None:
    assert jsonvalues.loads('{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}
    with pytest.raises(json.JSONDecodeError):
        jsonvalues.loads("{nope")

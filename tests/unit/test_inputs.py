"""The six input selectors and the template rules (DESIGN.md §2)."""

from __future__ import annotations

from typing import Any

import pytest

from flowmonkey import InputError, InputSelector
from flowmonkey.inputs import render, resolve_input, with_value

CONTEXT: dict[str, Any] = {
    "order": {"id": 7, "items": [{"name": "apple", "qty": 2}, {"name": "pear", "qty": 1}]},
    "user": {"name": "Ada", "vip": True},
    "total": 12.5,
}


def select(raw: dict[str, Any]) -> Any:
    return resolve_input(InputSelector.from_dict(raw), CONTEXT)


def test_key_selects_one_top_level_value() -> None:
    assert select({"type": "key", "key": "user"}) == {"name": "Ada", "vip": True}


def test_key_missing_is_an_input_error_naming_the_key() -> None:
    with pytest.raises(InputError, match="'nope'"):
        select({"type": "key", "key": "nope"})


def test_keys_selects_several_and_skips_missing() -> None:
    assert select({"type": "keys", "keys": ["total", "user", "missing"]}) == {
        "total": 12.5,
        "user": {"name": "Ada", "vip": True},
    }


def test_path_follows_dots_and_list_indexes() -> None:
    assert select({"type": "path", "path": "order.items.1.name"}) == "pear"
    assert select({"type": "path", "path": "order.items.-1.qty"}) == 1


def test_path_missing_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"order\.items\.5"):
        select({"type": "path", "path": "order.items.5"})


def test_template_renders_through_dicts_and_lists() -> None:
    template = {"greeting": "Hi ${user.name}!", "lines": ["#${order.id}", "${order.items.0.name}"]}
    assert select({"type": "template", "template": template}) == {
        "greeting": "Hi Ada!",
        "lines": ["#7", "apple"],
    }


def test_a_template_that_is_exactly_one_placeholder_keeps_the_type() -> None:
    assert select({"type": "template", "template": {"n": "${order.id}", "vip": "${user.vip}"}}) == {
        "n": 7,
        "vip": True,
    }
    assert render("${order.items}", CONTEXT) == CONTEXT["order"]["items"]


def test_a_missing_template_value_renders_as_empty_text() -> None:
    assert render("[${nothing.here}]", CONTEXT) == "[]"
    assert render("${nothing}", CONTEXT) is None


def test_full_is_a_copy_of_the_context() -> None:
    value = select({"type": "full"})
    assert value == CONTEXT
    value["user"]["name"] = "changed"
    assert CONTEXT["user"]["name"] == "Ada"


def test_static_is_the_configured_value() -> None:
    assert select({"type": "static", "value": [1, 2]}) == [1, 2]


def test_default_selector_is_full() -> None:
    assert InputSelector.from_dict(None).type == "full"


def test_with_value_creates_nested_objects_and_keeps_the_original() -> None:
    data: dict[str, Any] = {"a": 1, "b": {"x": 0}}
    fresh = with_value(data, "b.c.d", 2)
    assert fresh == {"a": 1, "b": {"x": 0, "c": {"d": 2}}}
    assert data == {"a": 1, "b": {"x": 0}}
    assert with_value({"b": 5}, "b.c", 1) == {"b": {"c": 1}}

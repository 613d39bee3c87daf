"""Flow files: every kind of error names file:line:column and what was expected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flowmonkey import Engine, EventType, HandlerRegistry, MemoryStore
from flowmonkey.flowdirectory import FlowDirectory
from flowmonkey.flowfiles import FlowFileError, Severity, flow_schema, load_flow_file, parse_flow
from flowmonkey.handlers import builtin_handlers
from flowmonkey.model.schema import flow_validator
from flowmonkey.triggers import TRIGGERS_SECTION

from .helpers import BASIC

HANDLERS = HandlerRegistry([*builtin_handlers(), *BASIC])

GOOD = """\
id: order
version: 1.0.0
initialStepId: validate
steps:
  validate:
    type: echo
    transitions:
      onSuccess: ship
  ship:
    type: log
    config: {message: "shipped"}
"""

# (case, file name, text, the exact first problem)
BROKEN = [
    (
        "malformed YAML",
        "order.yaml",
        "id: order\nsteps: [a,\n  b: c\n",
        "flows/order.yaml:4:1: invalid YAML: while parsing a flow sequence did not find expected ',' or ']'",
    ),
    (
        "malformed JSON",
        "order.json",
        '{"id": "order",\n  "steps": {,}\n}',
        "flows/order.json:2:13: invalid JSON: Expecting property name enclosed in double quotes",
    ),
    (
        "wrong type",
        "order.yaml",
        GOOD.replace("steps:\n", "timeout: 1h\nretries: 3\nsteps:\n").replace("id: order", "id: [order]"),
        "flows/order.yaml:1:1: id: expected a string, got list",
    ),
    (
        "unknown handler type",
        "order.yaml",
        GOOD.replace("type: log", "type: lgo"),
        'flows/order.yaml:10:5: steps.ship.type: no handler registered for type "lgo" (did you mean "log"?)',
    ),
    (
        "unknown transition target",
        "order.yaml",
        GOOD.replace("onSuccess: ship", "onSuccess: shipp"),
        'flows/order.yaml:8:7: steps.validate.transitions.onSuccess: no step "shipp" (did you mean "ship"?)',
    ),
    (
        "missing initialStepId",
        "order.yaml",
        GOOD.replace("initialStepId: validate\n", ""),
        'flows/order.yaml:1:1: missing required key "initialStepId"',
    ),
    (
        "initial step that does not exist",
        "order.yaml",
        GOOD.replace("initialStepId: validate", "initialStepId: valdate"),
        'flows/order.yaml:3:1: initialStepId: no step "valdate" (did you mean "validate"?)',
    ),
    (
        "step id differing from key",
        "order.yaml",
        GOOD.replace("  ship:\n", "  ship:\n    id: shipping\n"),
        "flows/order.yaml:10:5: steps.ship.id: step id 'shipping' differs from its key 'ship'",
    ),
    (
        "bad duration",
        "order.yaml",
        GOOD.replace("    type: log\n", "    type: log\n    timeout: 5 minutes\n"),
        "flows/order.yaml:11:5: steps.ship.timeout: expected seconds (a number) or a string like"
        ' 250ms, 30s, 5m, 2h, 7d, got "5 minutes"',
    ),
    (
        "bad selector",
        "order.yaml",
        GOOD.replace("    type: echo\n", "    type: echo\n    input: {type: kee, key: order}\n"),
        'flows/order.yaml:7:13: steps.validate.input.type: expected one of "key", "keys", "path",'
        ' "template", "full", "static", got "kee" (did you mean "key"?)',
    ),
    (
        "selector missing its key",
        "order.yaml",
        GOOD.replace("    type: echo\n", "    type: echo\n    input: {type: path}\n"),
        'flows/order.yaml:7:5: steps.validate.input: missing required key "path"',
    ),
    (
        "bad handler config",
        "order.yaml",
        GOOD.replace('{message: "shipped"}', '{message: "shipped", level: loud}'),
        'flows/order.yaml:11:34: steps.ship.config.level: expected one of "debug", "error", "info",'
        ' "warning", got "loud"',
    ),
    (
        "unknown key",
        "order.yaml",
        GOOD.replace("    type: echo\n", "    type: echo\n    outputkey: x\n"),
        'flows/order.yaml:7:5: steps.validate.outputkey: unknown key "outputkey" (did you mean "outputKey"?)',
    ),
    (
        "duplicate key",
        "order.yaml",
        GOOD.replace("  ship:\n", "  validate:\n    type: echo\n  ship:\n"),
        'flows/order.yaml:9:3: steps.validate: duplicate key "validate" (first defined on line 5)',
    ),
    (
        "switch case to no step",
        "order.yaml",
        GOOD + "  route:\n    type: switch\n    config: {cases: {a: shp}}\n",
        'flows/order.yaml:14:22: steps.route.config.cases.a: no step "shp" (did you mean "ship"?)',
    ),
    (
        "onError route to no step",
        "order.yaml",
        GOOD.replace("onSuccess: ship", "onSuccess: ship\n      onError: {HTTP_ERROR: shp}"),
        'flows/order.yaml:9:17: steps.validate.transitions.onError.HTTP_ERROR: no step "shp" (did you mean "ship"?)',
    ),
    (
        "map step without a flow",
        "order.yaml",
        GOOD.replace("    type: echo\n", "    type: map\n"),
        'flows/order.yaml:5:3: steps.validate: missing required key "flow"',
    ),
    (
        "a map key on a handler step",
        "order.yaml",
        GOOD.replace("    type: echo\n", "    type: echo\n    maxConcurrency: 3\n"),
        "flows/order.yaml:7:5: steps.validate.maxConcurrency: must not have this key (only a map step has it)",
    ),
    (
        "a tolerance that is no count or percentage",
        "order.yaml",
        GOOD.replace("    type: echo\n", "    type: map\n    flow: x\n    toleratedFailures: lots\n"),
        "flows/order.yaml:8:5: steps.validate.toleratedFailures: expected a count of children that may fail"
        ' (2) or a percentage of them ("10%"), got "lots"',
    ),
    (
        "conditional rule to no step",
        "order.yaml",
        GOOD
        + "  route:\n    type: conditional\n    config:\n      default: ship\n"
        + "      rules: [{path: x, op: eq, value: 1, next: shp}]\n",
        'flows/order.yaml:16:43: steps.route.config.rules.0.next: no step "shp" (did you mean "ship"?)',
    ),
    (
        "bad cron",
        "order.yaml",
        GOOD + "triggers:\n  - {id: t, type: schedule, cron: '0 25 * *'}\n",
        'flows/order.yaml:13:29: triggers.0.cron: invalid cron expression "0 25 * *"',
    ),
    (
        "bad trigger declaration",
        "order.yaml",
        GOOD + "triggers:\n  - {type: http, id: a/b}\n",
        "flows/order.yaml:13:5: triggers.0: flow 'order' triggers[0].id: 'a/b' must not contain '/'",
    ),
    (
        "not a mapping",
        "order.yaml",
        "- just\n- a list\n",
        "flows/order.yaml:1:1: expected an object (a mapping), got list",
    ),
    (
        "JSON with a wrong type",
        "order.json",
        json.dumps(
            {
                "id": "o",
                "initialStepId": "a",
                "steps": {"a": {"type": "echo", "retry": {"maxAttempts": "3"}}},
            },
            indent=2,
        ),
        'flows/order.json:8:9: steps.a.retry.maxAttempts: expected an integer, got "3"',
    ),
]


@pytest.mark.parametrize(("case", "name", "text", "expected"), BROKEN, ids=[case[0] for case in BROKEN])
def test_each_error_names_file_line_column_and_what_was_expected(
    case: str, name: str, text: str, expected: str
) -> None:
    with pytest.raises(FlowFileError) as raised:
        parse_flow(text, file=f"flows/{name}", handlers=HANDLERS, sections=[TRIGGERS_SECTION])

    first = str(raised.value.problems[0])
    assert first.startswith(expected), f"{case}: {first}"
    assert str(raised.value).startswith(expected)


def test_a_good_file_loads_with_its_unreachable_steps_as_warnings(tmp_path: Path) -> None:
    path = tmp_path / "order.yaml"
    path.write_text(GOOD + "  orphan:\n    type: echo\n")

    loaded = load_flow_file(path, handlers=HANDLERS, display="flows/order.yaml")

    assert loaded.flow.id == "order"
    assert [str(w) for w in loaded.warnings] == [
        'flows/order.yaml:12:3: warning: steps.orphan: step "orphan" is unreachable: no transition leads to it'
    ]
    assert loaded.warnings[0].severity is Severity.WARNING


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("{type: delay, config: {}}", "steps.w.config: expected either a duration or an until time"),
        ("{type: delay, config: {duration: 5 min}}", "steps.w.config.duration: expected seconds"),
        (
            "{type: http, config: {url: x, json: {}, body: y}}",
            "steps.w.config: must not have both json and body",
        ),
        # no url is allowed (the request is then the step's input), but not an unknown key
        (
            "{type: http, config: {methd: GET}}",
            'steps.w.config.methd: unknown key "methd" (did you mean "method"?)',
        ),
        (
            "{type: llm, config: {model: m}}",
            "steps.w.config: expected a model and either messages or a prompt",
        ),
        ("{type: approval, config: {deadline: soon}}", "steps.w.config.deadline: expected seconds"),
        ("{type: webhook, config: {url: x, secret: 1}}", "steps.w.config.secret: expected a string, got 1"),
    ],
)
def test_built_in_handler_configs_are_checked_against_their_schemas(step: str, expected: str) -> None:
    text = f"id: x\ninitialStepId: w\nsteps:\n  w: {step}\n"

    with pytest.raises(FlowFileError) as raised:
        parse_flow(text, file="x.yaml", handlers=HANDLERS)

    assert str(raised.value.problems[0]).split(": ", 1)[1].startswith(expected)


def test_steps_named_by_a_handler_config_are_reachable_and_must_exist() -> None:
    text = (
        "id: x\ninitialStepId: route\nsteps:\n"
        "  route: {type: switch, config: {path: k, cases: {a: one}, default: two}}\n"
        "  one: {type: echo}\n  two: {type: echo}\n  three: {type: echo}\n"
    )

    loaded = parse_flow(text, file="x.yaml", handlers=HANDLERS)

    assert [str(w) for w in loaded.warnings] == [
        'x.yaml:7:3: warning: steps.three: step "three" is unreachable: no transition leads to it'
    ]
    with pytest.raises(FlowFileError) as raised:
        parse_flow(text.replace("default: two", "default: tow"), file="x.yaml", handlers=HANDLERS)
    assert str(raised.value).startswith(
        'x.yaml:4:60: steps.route.config.default: no step "tow" (did you mean "two"?)'
    )


def test_a_file_is_validated_against_the_flow_schema_once(monkeypatch: pytest.MonkeyPatch) -> None:
    validator = flow_validator()
    validated: list[object] = []
    iter_errors = type(validator).iter_errors

    def counting(self: Any, instance: Any, *args: Any) -> Any:
        if self is validator:
            validated.append(instance)
        return iter_errors(self, instance, *args)

    monkeypatch.setattr(type(validator), "iter_errors", counting)

    parse_flow(GOOD, file="order.yaml", handlers=HANDLERS)

    assert len(validated) == 1


def test_a_numeric_version_is_a_warning() -> None:
    loaded = parse_flow(GOOD.replace("version: 1.0.0", "version: 1.10"), file="o.yaml")

    assert loaded.flow.version == "1.1"
    assert [str(w) for w in loaded.warnings] == [
        'o.yaml:2:1: warning: version: the version is the number 1.1; quote it ("1.10", not 1.10) to keep it as written'
    ]


def test_json_and_yaml_give_the_same_flow() -> None:
    from_yaml = parse_flow(GOOD, file="a.yaml").flow
    from_json = parse_flow(json.dumps(from_yaml.to_dict()), file="a.json").flow

    assert from_json.hash == from_yaml.hash


def test_a_list_of_steps_is_accepted_and_errors_point_into_it() -> None:
    text = "id: x\ninitialStepId: a\nsteps:\n  - id: a\n    type: echo\n    transitions: {onSuccess: c}\n  - id: b\n    type: echo\n"

    with pytest.raises(FlowFileError) as raised:
        parse_flow(text, file="x.yaml", handlers=HANDLERS)

    assert str(raised.value.problems[0]) == 'x.yaml:6:19: steps.0.transitions.onSuccess: no step "c"'


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = GOOD.replace("onSuccess: ship", "onSuccess: shipp").replace("type: log", "type: lgo")

    with pytest.raises(FlowFileError) as raised:
        parse_flow(text, file="o.yaml", handlers=HANDLERS)

    problems = raised.value.problems
    assert [(p.line, p.severity) for p in problems] == [(8, "error"), (10, "error"), (9, "warning")]


def test_an_unreadable_file_is_a_flow_file_error(tmp_path: Path) -> None:
    with pytest.raises(FlowFileError, match=r"missing\.yaml:1:1: cannot read the file"):
        load_flow_file(tmp_path / "missing.yaml")


def test_the_schema_is_draft_2020_12_with_descriptions() -> None:
    schema = flow_schema()

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["initialStepId"]["description"]
    assert schema["$defs"]["step"]["properties"]["outputKey"]["description"]


async def test_duplicate_flow_ids_across_files_name_the_other_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text("# the same id again\n" + GOOD)
    engine = Engine(MemoryStore(), HANDLERS)
    invalid: list[dict[str, object]] = []
    engine.events.subscribe(lambda event: invalid.append(event.data), [EventType.FLOW_INVALID])

    states = await FlowDirectory(tmp_path, engine).load()

    assert [s.ok for s in states] == [True, False]
    expected = f'{tmp_path}/b.yaml:2:1: id: flow id "order" is already defined in {tmp_path}/a.yaml'
    assert [str(p) for p in states[1].problems] == [expected]
    assert invalid == [{"path": f"{tmp_path}/b.yaml", "errors": [expected]}]


def test_an_on_error_code_no_failure_of_the_step_carries_is_a_warning_where_that_is_known(
    tmp_path: Path,
) -> None:
    text = """\
id: order
version: 1.0.0
initialStepId: call
steps:
  call:
    type: http
    config: {url: "http://127.0.0.1:9/x"}
    transitions:
      onSuccess: ship
      onError: {HTTP_ERROR: ship, STEP_TIMEOUT: ship, HTTP_EROR: ship, "*": ship}
  ship:
    type: echo
    transitions:
      onError: {ANYTHING: call}
"""
    path = tmp_path / "order.yaml"
    path.write_text(text)

    loaded = load_flow_file(path, handlers=HANDLERS, display="flows/order.yaml")

    # http declares its codes; echo (a user handler) does not, so its codes are not judged.
    (warning,) = loaded.warnings
    assert str(warning).startswith(
        'flows/order.yaml:10:55: warning: steps.call.transitions.onError.HTTP_EROR: no failure of a "http" '
        "step carries HTTP_EROR (it may fail with CONTEXT_LIMIT, HANDLER_ERROR, HTTP_ERROR, INPUT_ERROR,"
    ), str(warning)

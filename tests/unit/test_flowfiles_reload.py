"""FlowDirectory: saving a file makes it live; bad saves and deletes are handled."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from flowmonkey import Engine, ErrorCode, Event, EventType, ExecutionStatus, FlowError, MemoryStore
from flowmonkey.flowdirectory import FileKind, FlowDirectory

from .helpers import BASIC

DEADLINE = 10.0  # generous for a loaded CI machine; the reload itself takes well under 300 ms


def flow_text(marker: str, version: str = "1.0.0") -> str:
    return textwrap.dedent(
        f"""\
        id: review
        version: {version}
        initialStepId: ask
        steps:
          ask:
            type: wait
            outputKey: answer
            transitions: {{onSuccess: finish}}
          finish:
            type: transform
            input: {{type: keys, keys: [answer]}}
            config: {{merge: {{definition: {marker}}}}}
            outputKey: result
        """
    )


class Events:
    """Waits for the next event of a type, published by the directory."""

    def __init__(self, engine: Engine) -> None:
        self.seen: list[Event] = []
        self._waiters: list[tuple[EventType, asyncio.Future[Event]]] = []
        engine.events.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        self.seen.append(event)
        for kind, future in list(self._waiters):
            if kind == event.type and not future.done():
                future.set_result(event)

    def expect(self, kind: EventType) -> asyncio.Future[Event]:
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._waiters.append((kind, future))
        return future


async def until(condition: Callable[[], bool]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        assert loop.time() < deadline, "condition not met before the deadline"
        await asyncio.sleep(0.01)


@pytest.fixture
def engine() -> Engine:
    return Engine(MemoryStore(), BASIC)


@pytest.fixture
async def watched(tmp_path: Path, engine: Engine) -> AsyncIterator[FlowDirectory]:
    (tmp_path / "review.yaml").write_text(flow_text("old"))
    async with FlowDirectory(tmp_path, engine) as directory:
        yield directory


async def test_a_save_goes_live_while_running_executions_keep_their_definition(
    tmp_path: Path, engine: Engine, watched: FlowDirectory
) -> None:
    events = Events(engine)
    started, _ = await engine.create("review")
    await engine.run(started.id)

    reloaded = events.expect(EventType.FLOW_RELOADED)
    (tmp_path / "review.yaml").write_text(flow_text("new", version="1.1.0"))
    event = await asyncio.wait_for(reloaded, DEADLINE)

    assert event.data["flow_id"] == "review"
    assert event.data["version"] == "1.1.0"
    assert engine.flows.get("review").version == "1.1.0"
    old = await engine.resume(started.id, "yes")
    old = await engine.run(old.id)
    fresh, _ = await engine.create("review")
    await engine.run(fresh.id)
    await engine.resume(fresh.id, "yes")
    fresh = await engine.run(fresh.id)
    assert old.context["result"] == {"answer": "yes", "definition": "old"}
    assert fresh.context["result"] == {"answer": "yes", "definition": "new"}


async def test_a_save_of_the_same_version_replaces_it_and_says_reloaded(
    tmp_path: Path, engine: Engine, watched: FlowDirectory
) -> None:
    events = Events(engine)
    reloaded = events.expect(EventType.FLOW_RELOADED)

    (tmp_path / "review.yaml").write_text(flow_text("edited"))
    event = await asyncio.wait_for(reloaded, DEADLINE)

    assert event.data["hash"] == engine.flows.get("review").hash
    assert event.data["path"] == str(tmp_path / "review.yaml")
    assert engine.flows.get("review").steps["finish"].config["merge"] == {"definition": "edited"}


async def test_a_lower_version_saved_over_a_higher_one_goes_live(
    tmp_path: Path, engine: Engine, watched: FlowDirectory
) -> None:
    events = Events(engine)
    path = tmp_path / "review.yaml"
    reloaded = events.expect(EventType.FLOW_RELOADED)
    path.write_text(flow_text("ahead", version="2.0.0"))
    await asyncio.wait_for(reloaded, DEADLINE)
    assert engine.flows.get("review").version == "2.0.0"

    rolled_back = events.expect(EventType.FLOW_RELOADED)
    path.write_text(flow_text("rollback", version="1.5.0"))
    await asyncio.wait_for(rolled_back, DEADLINE)

    assert engine.flows.get("review").version == "1.5.0"
    # a file offers one version: the one it says now (running executions keep theirs by hash)
    assert [f.version for f in engine.flows.versions("review")] == ["1.5.0"]


async def test_a_broken_save_keeps_the_last_good_version_live(
    tmp_path: Path, engine: Engine, watched: FlowDirectory
) -> None:
    events = Events(engine)
    live = engine.flows.get("review")
    invalid = events.expect(EventType.FLOW_INVALID)

    (tmp_path / "review.yaml").write_text(flow_text("new").replace("onSuccess: finish", "onSuccess: finnish"))
    event = await asyncio.wait_for(invalid, DEADLINE)

    where = f"{tmp_path}/review.yaml:8:19: steps.ask.transitions.onSuccess"
    assert event.data["errors"] == [f'{where}: no step "finnish" (did you mean "finish"?)']
    assert engine.flows.get("review") is live
    [state] = watched.files()
    assert (state.ok, state.flow_id, state.version) == (False, "review", "1.0.0")
    assert str(state.errors[0]).startswith(where)


async def test_a_deleted_file_retires_its_flow_for_new_executions_only(
    tmp_path: Path, engine: Engine, watched: FlowDirectory
) -> None:
    events = Events(engine)
    running, _ = await engine.create("review")
    await engine.run(running.id)
    retired = events.expect(EventType.FLOW_RETIRED)

    (tmp_path / "review.yaml").unlink()
    event = await asyncio.wait_for(retired, DEADLINE)

    assert event.data["flow_id"] == "review"
    assert watched.files() == []
    with pytest.raises(FlowError) as raised:
        await engine.create("review")
    assert raised.value.code is ErrorCode.FLOW_NOT_FOUND
    await engine.resume(running.id, "still here")
    finished = await engine.run(running.id)
    assert finished.status is ExecutionStatus.COMPLETED


MODULE = """\
from flowmonkey import Result, handler


@handler("shout")
async def shout(params):
    return Result.success({greeting!r})
"""


async def test_a_handler_module_hot_reloads_and_import_errors_are_reported(
    tmp_path: Path, engine: Engine
) -> None:
    (tmp_path / "handlers.py").write_text(MODULE.format(greeting="HI"))
    (tmp_path / "shout.yaml").write_text(
        "id: shout\ninitialStepId: s\nsteps:\n  s: {type: shout, outputKey: said}\n"
    )
    events = Events(engine)
    async with FlowDirectory(tmp_path, engine) as directory:
        first = await engine.create("shout")
        assert (await engine.run(first.execution.id)).context == {"said": "HI"}
        before = engine.handlers.get("shout")

        (tmp_path / "handlers.py").write_text(MODULE.format(greeting="HELLO"))
        await until(lambda: engine.handlers.get("shout") is not before)
        second = await engine.create("shout")
        assert (await engine.run(second.execution.id)).context == {"said": "HELLO"}

        invalid = events.expect(EventType.FLOW_INVALID)
        (tmp_path / "handlers.py").write_text(
            "from flowmonkey import handler\n\nraise RuntimeError('nope')\n"
        )
        event = await asyncio.wait_for(invalid, DEADLINE)
        assert event.data["errors"] == [
            f"{tmp_path}/handlers.py:3:1: cannot load handler module: RuntimeError: nope"
        ]
        assert "shout" in engine.handlers  # the last good module stays registered
        states = {s.path.name: s for s in directory.files()}
        assert states["handlers.py"].kind is FileKind.HANDLERS
        assert states["handlers.py"].handler_types == ("shout",)
        assert not states["handlers.py"].ok


async def test_a_flow_waiting_for_its_handler_module_loads_when_the_module_arrives(
    tmp_path: Path, engine: Engine
) -> None:
    (tmp_path / "shout.yaml").write_text(
        "id: shout\ninitialStepId: s\nsteps:\n  s: {type: shout, outputKey: said}\n"
    )
    events = Events(engine)
    async with FlowDirectory(tmp_path, engine) as directory:
        [state] = directory.files()
        assert str(state.errors[0]).endswith('steps.s.type: no handler registered for type "shout"')
        registered = events.expect(EventType.FLOW_REGISTERED)

        (tmp_path / "handlers.py").write_text(MODULE.format(greeting="HI"))
        await asyncio.wait_for(registered, DEADLINE)

        assert directory.ok
        assert "shout" in engine.flows


async def test_renaming_a_flow_id_frees_it_for_a_file_that_clashed(tmp_path: Path, engine: Engine) -> None:
    (tmp_path / "a.yaml").write_text(flow_text("a"))
    (tmp_path / "b.yaml").write_text(flow_text("b"))
    directory = FlowDirectory(tmp_path, engine)
    states = await directory.load()
    assert [s.ok for s in states] == [True, False]

    (tmp_path / "a.yaml").write_text(flow_text("a").replace("id: review", "id: review-a"))
    await directory.reload([tmp_path / "a.yaml"])

    assert directory.ok
    assert engine.flows.get("review").steps["finish"].config["merge"] == {"definition": "b"}
    assert engine.flows.get("review-a").id == "review-a"


CLASS_MODULE = """\
from flowmonkey import Result, handler
from flowmonkey.handlers import switch  # imported handlers are not re-registered


class Stamp:
    type = "stamp"

    async def execute(self, params):
        return Result.success("stamped")


@handler("log")
async def quiet_log(params):
    return Result.success("overridden")
"""


async def test_module_classes_and_overrides_register_and_deleting_the_module_restores_builtins(
    tmp_path: Path, engine: Engine
) -> None:
    builtin_log = engine.handlers.get("log")
    builtin_switch = engine.handlers.get("switch")
    (tmp_path / "extra.py").write_text(CLASS_MODULE)
    directory = FlowDirectory(tmp_path, engine)

    [state] = await directory.load()

    assert state.handler_types == ("log", "stamp")
    assert engine.handlers.get("switch") is builtin_switch
    assert engine.handlers.get("log") is not builtin_log
    (tmp_path / "extra.py").unlink()
    await directory.reload([tmp_path / "extra.py"])
    assert "stamp" not in engine.handlers
    assert engine.handlers.get("log") is builtin_log
    assert directory.files() == []


async def test_a_syntax_error_in_a_module_names_its_line_and_column(tmp_path: Path, engine: Engine) -> None:
    (tmp_path / "broken.py").write_text("x = 1\ndef oops(:\n    pass\n")

    [state] = await FlowDirectory(tmp_path, engine).load()

    assert not state.ok
    assert str(state.errors[0]).startswith(
        f"{tmp_path}/broken.py:2:10: cannot load handler module: SyntaxError"
    )


async def test_a_relative_directory_reloads_the_same_file_it_loaded(
    tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("flows").mkdir()
    Path("flows/review.yaml").write_text(flow_text("old"))
    events = Events(engine)
    async with FlowDirectory("flows", engine) as directory:
        reloaded = events.expect(EventType.FLOW_RELOADED)
        Path("flows/review.yaml").write_text(flow_text("new"))
        event = await asyncio.wait_for(reloaded, DEADLINE)

        assert event.data["path"] == "flows/review.yaml"
        [state] = directory.files()
        assert state.ok
        assert state.path == Path("flows/review.yaml")

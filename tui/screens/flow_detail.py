"""A flow's steps as a tree with where each goes: its transitions, and for a step whose
handler routes (a switch, a conditional) the targets its config names. Each step says how
it did in the last hour (p50/p95 duration, failures), once the store has answered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static, Tree

from flowmonkey import Flow, Step, StepHealth

from ..widgets.health import step_text
from ..widgets.key_bar import KeyBar

Routes = Mapping[str, Sequence[tuple[str, str]]]
"""Step id -> ``(where in its config, target step)`` for the steps whose handler routes."""
HealthLoader = Callable[[], Awaitable[Mapping[str, StepHealth]]]
"""Reads the steps' health (the console's backend, bound to the flow)."""


class FlowDetailScreen(Screen[None]):
    """``escape`` goes back; arrows and enter fold the tree."""

    DEFAULT_CSS = """
    FlowDetailScreen #flow-summary { height: auto; padding: 0 1; background: $boost; }
    """

    BINDINGS = [Binding("escape,q", "back", "Back", id="flow.back")]

    def __init__(self, flow: Flow, routes: Routes | None = None, health: HealthLoader | None = None) -> None:
        super().__init__()
        self.flow = flow
        self.routes = routes or {}
        self._load_health = health
        self._labels: dict[str, Text] = {}

    def compose(self) -> ComposeResult:
        flow = self.flow
        yield Static(
            f"Flow {flow.id} {flow.version}  {flow.name or ''}\n"
            f"{len(flow.steps)} steps  hash {flow.hash[:12]}  starts at {flow.initial_step_id}",
            id="flow-summary",
        )
        tree: Tree[str] = Tree(Text(f"{flow.id} {flow.version}"), id="flow-tree")
        tree.root.expand()
        for step in ordered_steps(flow, self.routes):
            marker = "▸ " if step.id == flow.initial_step_id else ""
            self._labels[step.id] = Text(f"{marker}{step.id}  ({step.type})")
            node = tree.root.add(self._labels[step.id], data=step.id, expand=True)
            for line in step_lines(step, self.routes.get(step.id, ())):
                node.add_leaf(Text(line))
        yield tree
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(Tree).focus()
        if self._load_health is not None:
            self.run_worker(self._show_health(self._load_health), group="health")

    async def _show_health(self, load: HealthLoader) -> None:
        health = await load()
        tree: Tree[str] = self.query_one(Tree)
        for node in tree.root.children:
            if node.data in self._labels:
                node.set_label(self._labels[node.data] + step_text(health.get(node.data)))
        summary = self.query_one("#flow-summary", Static)
        summary.update(f"{summary.content}\nsteps over the last hour: p50/p95 duration, failed runs")

    def action_back(self) -> None:
        self.dismiss(None)


def ordered_steps(flow: Flow, routes: Routes | None = None) -> list[Step]:
    """Steps in the order a run meets them (breadth first from the start), then the rest."""
    routes = routes or {}
    seen: list[str] = []
    todo = [flow.initial_step_id]
    while todo:
        step_id = todo.pop(0)
        if step_id in seen or step_id not in flow.steps:
            continue
        seen.append(step_id)
        todo.extend(target for _, target in routes.get(step_id, ()))
        todo.extend(target for _, target in flow.steps[step_id].transitions.targets())
    seen.extend(step_id for step_id in flow.steps if step_id not in seen)
    return [flow.steps[step_id] for step_id in seen]


def step_lines(step: Step, routes: Sequence[tuple[str, str]] = ()) -> list[str]:
    """``cases.express → ship-express``, ``onSuccess → charge``, retry and timeout, one per line.

    A routing step names its next step itself, so it completes the execution only when
    it has no routes (and no ``onSuccess``).
    """
    lines = [f"{where} → {target}" for where, target in routes]
    lines += [f"{name} → {target}" for name, target in step.transitions.targets()]
    if step.transitions.on_success is None and not routes:
        lines.append("onSuccess → (complete)")
    lines += fan_lines(step)
    if step.retry is not None:
        lines.append(f"retry: up to {step.retry.max_attempts} attempts")
    if step.timeout is not None:
        lines.append(f"timeout: {step.timeout}")
    return lines


def fan_lines(step: Step) -> list[str]:
    """A parallel step's branches (``├ credit ⇉ credit-check``) or a map's child flow."""
    fan = step.fan
    if fan is None:
        return []
    if fan.is_map:
        return [f"map ⇉ {fan.branches['item'].flow} (each element, {fan.max_concurrency} at once)"]
    names = list(fan.branches)
    marks = ["└" if i == len(names) - 1 else "├" for i in range(len(names))]
    lines = [f"parallel ({fan.mode.value}):"]
    return lines + [
        f"  {mark} {name} ⇉ {fan.branches[name].flow}" for mark, name in zip(marks, names, strict=True)
    ]

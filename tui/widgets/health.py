"""Flow health as the console draws it: a success rate, a duration, starts per minute."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from flowmonkey import FlowHealth, StepHealth

from ..format import DASH, duration_ms

BARS = "▁▂▃▄▅▆▇█"


def rate_text(health: FlowHealth | None) -> Text:
    """``100%`` green, ``97%`` yellow, lower red; ``—`` when nothing finished."""
    rate = None if health is None else health.success_rate
    if rate is None:
        return Text(DASH, style="dim")
    style = "green" if rate >= 0.99 else "yellow" if rate >= 0.9 else "bold red"
    return Text(f"{rate:.0%}" if rate < 1 else "100%", style=style)


def p95_text(health: FlowHealth | None) -> Text:
    if health is None or health.p95_ms is None:
        return Text(DASH, style="dim")
    return Text(duration_ms(health.p95_ms))


def spark_text(values: Sequence[int], width: int) -> Text:
    """``values`` (oldest first) as ``width`` bars; neighbouring values are summed."""
    if not values or width < 1:
        return Text("")
    per_bar = -(-len(values) // width)  # ceiling: every value lands in a bar
    sums = [sum(values[i : i + per_bar]) for i in range(0, len(values), per_bar)]
    top = max(sums) or 1
    text = Text()
    for n in sums:  # the lowest bar only for none; the busiest minute fills its cell
        text.append(BARS[-(-n * (len(BARS) - 1) // top)], style="cyan" if n else "dim")
    return text


def starts_summary(health: FlowHealth) -> str:
    """``95% ok, p95 1.4s, 42 started/h, max 9/min``: the flow's last hour in one line."""
    per_minute = health.started_per_minute
    done = (
        "none finished" if health.success_rate is None else f"{rate_text(health)} ok, p95 {p95_text(health)}"
    )
    return f"{done}, {sum(per_minute)} started/h, max {max(per_minute, default=0)}/min"


def step_text(health: StepHealth | None) -> Text:
    """``p50 12ms  p95 1.4s  ✘ 3/40`` for a step's line in the flow's tree."""
    if health is None or not health.runs:
        return Text("  no runs in the last hour", style="dim")
    p50 = duration_ms(health.p50_ms) if health.p50_ms is not None else DASH
    p95 = duration_ms(health.p95_ms) if health.p95_ms is not None else DASH
    text = Text(f"  p50 {p50}  p95 {p95}  ", style="cyan")
    failures = f"✘ {health.failures}/{health.runs} failed"
    text.append(
        failures if health.failures else f"✔ {health.runs} runs", "bold red" if health.failures else "green"
    )
    return text

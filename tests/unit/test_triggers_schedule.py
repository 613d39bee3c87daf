"""Cron schedules: fields, time zones, both DST changes, and the misfire policies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from flowmonkey.triggers import CronSchedule, Misfire
from flowmonkey.triggers.schedule import plan_due, replay_horizon

NY = ZoneInfo("America/New_York")


def run(schedule: CronSchedule, start: datetime, until: datetime) -> list[datetime]:
    """Every slot the schedule fires in ``(start, until]``, by stepping ``next_after``."""
    slots = []
    t = start
    while (t := schedule.next_after(t)) <= until:
        slots.append(t)
    return slots


def local(year: int, month: int, day: int, hour: int, minute: int, fold: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY, fold=fold).astimezone(UTC)


def test_five_fields_fire_in_the_trigger_zone() -> None:
    schedule = CronSchedule(expression="0 9 * * *", timezone="Europe/Paris")
    assert schedule.next_after(datetime(2026, 1, 5, 7, 0, tzinfo=UTC)) == datetime(
        2026, 1, 5, 8, 0, tzinfo=UTC
    )
    assert schedule.next_after(datetime(2026, 7, 5, 7, 0, tzinfo=UTC)) == datetime(
        2026, 7, 6, 7, 0, tzinfo=UTC
    )


def test_six_fields_put_seconds_first() -> None:
    schedule = CronSchedule(expression="15 */5 * * * *")
    start = datetime(2026, 1, 1, 0, 0, 20, tzinfo=UTC)
    assert run(schedule, start, start + timedelta(minutes=10)) == [
        datetime(2026, 1, 1, 0, 5, 15, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 10, 15, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("expression", "timezone", "message"),
    [
        ("* * * *", "UTC", "has 4 fields"),
        ("61 * * * *", "UTC", "not a valid cron"),
        ("0 9 * * *", "Mars/Olympus", "not an IANA zone"),
        ("* * * * * * *", "UTC", "has 7 fields"),
    ],
)
def test_bad_cron_or_zone_says_what_is_wrong(expression: str, timezone: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CronSchedule(expression=expression, timezone=timezone)


def test_spring_forward_moves_the_missing_hour_forward_and_fires_each_instant_once() -> None:
    # 2026-03-08: New York clocks jump from 02:00 EST to 03:00 EDT.
    schedule = CronSchedule(expression="30 * * * *", timezone="America/New_York")
    slots = run(schedule, local(2026, 3, 8, 0, 0), local(2026, 3, 8, 5, 0))
    assert [s.astimezone(NY).strftime("%H:%M %Z") for s in slots] == [
        "00:30 EST",
        "01:30 EST",
        "03:30 EDT",  # 02:30 does not exist: moved to 03:30, and 03:30 itself fires once
        "04:30 EDT",
    ]
    daily = CronSchedule(expression="30 2 * * *", timezone="America/New_York")
    assert daily.next_after(local(2026, 3, 7, 12, 0)) == local(2026, 3, 8, 3, 30)
    assert daily.next_after(local(2026, 3, 8, 3, 30)) == local(2026, 3, 9, 2, 30)


def test_fall_back_fires_an_ambiguous_time_once_at_its_first_occurrence() -> None:
    # 2026-11-01: New York clocks fall back from 02:00 EDT to 01:00 EST; 01:xx happens twice.
    schedule = CronSchedule(expression="30 * * * *", timezone="America/New_York")
    slots = run(schedule, local(2026, 11, 1, 0, 0), local(2026, 11, 1, 4, 0))
    assert [s.astimezone(NY).strftime("%H:%M %Z") for s in slots] == [
        "00:30 EDT",
        "01:30 EDT",  # and not again at 01:30 EST
        "02:30 EST",
        "03:30 EST",
    ]
    daily = CronSchedule(expression="30 1 * * *", timezone="America/New_York")
    first = daily.next_after(local(2026, 10, 31, 12, 0))
    assert first == local(2026, 11, 1, 1, 30, fold=0) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert daily.next_after(first) == local(2026, 11, 2, 1, 30)


def test_slots_between_agrees_with_stepping_across_dst() -> None:
    schedule = CronSchedule(expression="*/20 * * * *", timezone="America/New_York")
    for start in (local(2026, 3, 7, 22, 0), local(2026, 10, 31, 22, 0)):
        end = start + timedelta(hours=8)
        assert schedule.slots_between(start, end, limit=1000) == run(schedule, start, end)
        assert schedule.slots_between(start, end, limit=3) == run(schedule, start, end)[-3:]


OUTAGE_START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
EVERY_10_MIN = CronSchedule(expression="*/10 * * * *")


def plan(misfire: Misfire, now: datetime, **options: int):  # type: ignore[no-untyped-def]
    return plan_due(
        EVERY_10_MIN,
        next_run_at=OUTAGE_START + timedelta(minutes=10),
        now=now,
        misfire=misfire,
        grace=timedelta(seconds=60),
        **options,
    )


def test_on_time_slot_fires_under_every_policy() -> None:
    now = OUTAGE_START + timedelta(minutes=10, seconds=2)
    for policy in Misfire:
        result = plan(policy, now)
        assert result.slots == [OUTAGE_START + timedelta(minutes=10)]
        assert result.next_run_at == OUTAGE_START + timedelta(minutes=20)


def test_misfire_policies_after_a_three_hour_outage() -> None:
    now = OUTAGE_START + timedelta(hours=3, minutes=5)  # 18 slots were missed
    missed = [OUTAGE_START + timedelta(minutes=10 * i) for i in range(1, 19)]
    assert plan(Misfire.SKIP, now).slots == []
    assert plan(Misfire.SKIP, now).missed == 18
    assert plan(Misfire.ONCE, now).slots == [missed[-1]]
    assert plan(Misfire.ALL, now).slots == missed
    assert plan(Misfire.ALL, now, max_catch_up=5).slots == missed[-5:]
    for policy in Misfire:
        assert plan(policy, now).next_run_at == OUTAGE_START + timedelta(hours=3, minutes=10)


def test_a_trigger_seen_for_the_first_time_only_learns_its_next_slot() -> None:
    now = OUTAGE_START + timedelta(minutes=3)
    result = plan_due(EVERY_10_MIN, next_run_at=None, now=now, misfire=Misfire.ALL, grace=timedelta(0))
    assert result.slots == []
    assert result.next_run_at == OUTAGE_START + timedelta(minutes=10)


@pytest.mark.parametrize("misfire", list(Misfire))
@pytest.mark.parametrize("cron", ["*/10 * * * *", "0 9 1-3 * *"])  # regular, and clustered slots
def test_a_slot_is_never_planned_again_past_its_replay_horizon(misfire: Misfire, cron: str) -> None:
    # The slot key lives until the horizon: past it, no scheduler may plan the slot again.
    schedule = CronSchedule(expression=cron)
    slot = schedule.next_after(OUTAGE_START)
    grace = timedelta(seconds=60)
    horizon = replay_horizon(schedule, slot, misfire=misfire, grace=grace, max_catch_up=5)

    def planned_at(now: datetime) -> bool:
        result = plan_due(schedule, next_run_at=slot, now=now, misfire=misfire, grace=grace, max_catch_up=5)
        return slot in result.slots

    assert planned_at(slot)
    assert planned_at(horizon - timedelta(seconds=1))
    assert not planned_at(horizon + timedelta(seconds=1))
    assert not planned_at(horizon + timedelta(days=400))

"""Cron schedules in IANA time zones, and which slots are due at a given instant.

A cron expression has 5 fields (minute hour day month weekday) or 6, with seconds
*first* (``"*/10 * * * * *"`` = every ten seconds), as in the Node seed's node-cron.
It is matched against the *local wall clock* of the trigger's time zone (croniter on naive
wall times), and each matching wall time becomes one UTC instant:

* **Spring forward** (a local time that does not exist, e.g. 02:30 in New York on the
  second Sunday of March): the slot is moved forward by the length of the gap (02:30 ->
  03:30 EDT), the way PEP 495 reads a missing time with ``fold=0``. A daily job therefore
  still runs that day; slots that land on the same instant fire once.
* **Fall back** (a local time that happens twice, e.g. 01:30 in New York on the first
  Sunday of November): the slot fires once, at its *first* occurrence (01:30 EDT); the
  repeated hour does not fire again.

Slots are identified by their UTC instant: a slot's execution is created with the
idempotency key :func:`slot_key`, so it starts once however many instances (or retries)
fire it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

DEFAULT_MAX_CATCH_UP = 100
_DST_WINDOW = timedelta(hours=3)  # wider than any zone's DST shift (at most 2 h)


class Misfire(StrEnum):
    """What to do with slots missed while no scheduler ran (downtime)."""

    SKIP = "skip"  # fire none of them
    ONCE = "once"  # one run, for the latest missed slot (the default)
    ALL = "all"  # every missed slot, oldest first, at most ``max_catch_up`` of the latest


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleConfig:
    """Settings of the trigger scheduler.

    Attributes:
        enabled: run the scheduler loop at all (``start()`` does nothing otherwise).
        timezone: the zone of cron triggers that do not name one.
        misfire_grace: a slot that is at most this late is on time, not missed.
        max_catch_up: the bound of the ``all`` misfire policy.
        max_sleep: the longest the loop sleeps without looking at the store, so that
            triggers registered by other processes are picked up.
        retry_delay: how soon a slot is tried again after the store failed to start it.
    """

    enabled: bool = True
    timezone: str = "UTC"
    misfire_grace: timedelta = timedelta(seconds=60)
    max_catch_up: int = DEFAULT_MAX_CATCH_UP
    max_sleep: timedelta = timedelta(seconds=60)
    retry_delay: timedelta = timedelta(seconds=5)


@dataclass(frozen=True, slots=True, kw_only=True)
class CronSchedule:
    """A cron expression in a time zone; raises ``ValueError`` naming what is wrong."""

    expression: str
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        fields = self.expression.split()
        if len(fields) not in (5, 6):
            raise ValueError(
                f"cron {self.expression!r} has {len(fields)} fields; expected 5 (minute hour day "
                "month weekday) or 6 (second first)"
            )
        if not croniter.is_valid(self.expression, second_at_beginning=True):
            raise ValueError(f"cron {self.expression!r} is not a valid cron expression")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"timezone {self.timezone!r} is not an IANA zone name like 'Europe/Paris'"
            ) from None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def to_utc(self, wall: datetime) -> datetime:
        """The UTC instant of a naive local wall time (see the module doc for DST)."""
        return wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)

    def next_after(self, instant: datetime) -> datetime:
        """The first slot strictly after ``instant`` (aware), in UTC."""
        start = self._wall(instant)
        if self._near_transition(instant):
            start -= _DST_WINDOW  # a wall time before ours may map after us
        walls = croniter(self.expression, start, second_at_beginning=True)
        while True:
            slot = self.to_utc(walls.get_next(datetime))
            if slot > instant:
                return slot

    def slots_between(self, after: datetime, until: datetime, *, limit: int) -> list[datetime]:
        """Up to ``limit`` of the *latest* slots in ``(after, until]``, oldest first."""
        # Wall times map to UTC monotonically except around a DST change, where a slot
        # may land up to one shift out of order; ``margin`` covers that.
        near = self._near_transition(after) or self._near_transition(until)
        margin = _DST_WINDOW if near else timedelta(0)
        walls = croniter(
            self.expression, self._wall(until) + timedelta(seconds=1) + margin, second_at_beginning=True
        )
        found: set[datetime] = set()
        while True:
            slot = self.to_utc(walls.get_prev(datetime))
            if slot <= after - margin:
                break
            if after < slot <= until:
                found.add(slot)
            if len(found) >= limit and slot < sorted(found)[-limit] - margin:
                break
        return sorted(found)[-limit:]

    def _wall(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone).replace(tzinfo=None, fold=0)

    def _near_transition(self, instant: datetime) -> bool:
        zone = self.zone
        before = (instant - _DST_WINDOW).astimezone(zone).utcoffset()
        after = (instant + _DST_WINDOW).astimezone(zone).utcoffset()
        return before != after


@dataclass(frozen=True, slots=True, kw_only=True)
class DuePlan:
    """What a scheduler tick does for one trigger: fire ``slots`` (oldest first), then
    remember ``next_run_at``; ``missed`` counts due slots the policy dropped."""

    slots: list[datetime]
    next_run_at: datetime
    missed: int = 0


def plan_due(
    schedule: CronSchedule,
    *,
    next_run_at: datetime | None,
    now: datetime,
    misfire: Misfire,
    grace: timedelta,
    max_catch_up: int = DEFAULT_MAX_CATCH_UP,
) -> DuePlan:
    """Decide which slots fire at ``now`` for a trigger whose next slot was ``next_run_at``.

    Slots in ``[next_run_at, now]`` are due; those later than ``now - grace`` are on time
    and always fire; older ones were missed and follow ``misfire``. A trigger seen for the
    first time (``next_run_at`` None) only learns its next slot.
    """
    upcoming = schedule.next_after(now)
    if next_run_at is None or next_run_at > now:
        return DuePlan(slots=[], next_run_at=upcoming)
    after = next_run_at - timedelta(microseconds=1)
    due = schedule.slots_between(after, now, limit=max(max_catch_up, 1))
    on_time = [s for s in due if s >= now - grace]
    missed = [s for s in due if s < now - grace]
    if misfire is Misfire.ALL:
        chosen = due
    elif misfire is Misfire.ONCE:
        chosen = due[-1:]
    else:
        chosen = on_time
    dropped = len(missed) - len([s for s in chosen if s in missed])
    return DuePlan(slots=chosen, next_run_at=upcoming, missed=max(dropped, 0))


SLOT_KEY_MARGIN = timedelta(days=1)
"""Added to a slot key's life, for clocks that disagree between instances."""


def slot_key(trigger_id: str, slot: datetime) -> str:
    """The idempotency key of the execution a schedule slot starts (one per trigger and slot)."""
    return f"schedule:{trigger_id}:{slot.isoformat()}"


def replay_horizon(
    schedule: CronSchedule, slot: datetime, *, misfire: Misfire, grace: timedelta, max_catch_up: int
) -> datetime:
    """Until when :func:`plan_due` may choose ``slot`` again, so its key must live that long.

    A crash can leave ``next_run_at`` at or before a slot whose execution exists; the slot
    is then planned again only while it is on time (``skip``), the latest due slot (``once``:
    until the next slot), or among the latest ``max_catch_up`` (``all``: until the
    ``max_catch_up``-th slot after it). Earlier slots' horizons are no later than this one.
    """
    horizon = slot + grace
    if misfire is Misfire.SKIP:
        return horizon
    later = slot
    for _ in range(max(max_catch_up, 1) if misfire is Misfire.ALL else 1):
        later = schedule.next_after(later)
    return max(horizon, later)

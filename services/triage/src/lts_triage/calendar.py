"""Business days: a calendar with a time zone, weekend days and holidays (all configurable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

SATURDAY, SUNDAY = 5, 6


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """`weekend` holds `date.weekday()` numbers (Monday = 0); `holidays` are local dates."""

    timezone: str = "UTC"
    weekend: frozenset[int] = frozenset({SATURDAY, SUNDAY})
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if len(self.weekend) >= 7:
            raise ValueError("a calendar needs at least one business day per week")
        # hashable even when given plain sets: the business-day walk is cached per calendar
        object.__setattr__(self, "weekend", frozenset(self.weekend))
        object.__setattr__(self, "holidays", frozenset(self.holidays))

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() not in self.weekend and day not in self.holidays

    def next_business_day(self, day: date) -> date:
        """The first business day strictly after `day`."""
        candidate = day + timedelta(days=1)
        while not self.is_business_day(candidate):
            candidate += timedelta(days=1)
        return candidate

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """`start` moved forward by `days` business days, keeping the local time of day.

        A start on a non-business day counts from the beginning (00:00 local) of the next
        business day, so the result always falls on a business day in the calendar's zone."""
        if start.tzinfo is None:
            raise ValueError("business-day arithmetic needs a timezone-aware datetime")
        zone = self.zone
        local = start.astimezone(zone)
        day, from_midnight = _business_days_after(self, local.date(), days)
        clock = time(0, 0) if from_midnight else local.time()
        return _utc_of_local(day, clock, zone)


@lru_cache(maxsize=4096)
def _business_days_after(calendar: BusinessCalendar, day: date, days: int) -> tuple[date, bool]:
    """The local date `days` business days after `day`, and whether counting started from the
    next business day's midnight (`day` itself not a business day). Date-only, so cached: every
    ticket opened or triaged on the same local day shares one day-by-day walk."""
    from_midnight = not calendar.is_business_day(day)
    if from_midnight:
        day = calendar.next_business_day(day)
    for _ in range(days):
        day = calendar.next_business_day(day)
    return day, from_midnight


@lru_cache(maxsize=64)
def _zone(key: str) -> ZoneInfo:
    return ZoneInfo(key)


def _utc_of_local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The local wall time `clock` on `day`, in UTC. A time skipped by a DST change resolves
    forward, and when that would leave `day` the result is 23:59 local, so it stays on `day`.
    (Built with `combine(..., tzinfo=)` and compared by date: `datetime.replace` is slow.)"""
    at = datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)
    if at.astimezone(zone).date() != day:
        return datetime.combine(day, time(23, 59), tzinfo=zone).astimezone(UTC)
    return at

"""Business days: a calendar with a time zone, weekend days and holidays (all configurable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
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

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

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
        local = start.astimezone(self.zone)
        day, clock = local.date(), local.timetz().replace(tzinfo=None)
        if not self.is_business_day(day):
            day, clock = self.next_business_day(day), time(0, 0)
        for _ in range(days):
            day = self.next_business_day(day)
        return _local(day, clock, self.zone).astimezone(UTC)


def _local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The local wall time on `day`; a time skipped by a DST change resolves forward, which keeps
    it on the same date."""
    naive = datetime.combine(day, clock)
    aware = naive.replace(tzinfo=zone)
    round_trip = aware.astimezone(UTC).astimezone(zone)
    if round_trip.replace(tzinfo=None) != naive and round_trip.date() != day:
        return datetime.combine(day, time(23, 59), tzinfo=zone)
    return aware

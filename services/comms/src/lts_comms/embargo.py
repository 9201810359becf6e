"""When an advisory's embargo lifts (pure). An advisory is under embargo from its first draft;
it lifts once its fix is published AND the embargo time the security reviewer set has passed
(no time set: the publication itself). Until then it reaches no external audience."""

from __future__ import annotations

from datetime import datetime


def lift_at(*, fix_published_at: datetime | None, until: datetime | None) -> datetime | None:
    """The earliest moment the embargo may lift; None while no fix is published."""
    if fix_published_at is None:
        return None
    return max(fix_published_at, until) if until is not None else fix_published_at


def may_lift(*, fix_published_at: datetime | None, until: datetime | None, now: datetime) -> bool:
    at = lift_at(fix_published_at=fix_published_at, until=until)
    return at is not None and now >= at


def blocking_reason(
    *, fix_published_at: datetime | None, until: datetime | None, now: datetime
) -> str | None:
    """Why the embargo holds at `now`, in words for a refusal; None when it may lift."""
    if fix_published_at is None:
        return "under embargo: the fix is not published yet"
    at = lift_at(fix_published_at=fix_published_at, until=until)
    assert at is not None
    if now < at:
        return f"under embargo until {at.isoformat()}"
    return None

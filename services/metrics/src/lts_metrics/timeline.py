"""The audit timeline of a ticket: every event about it, from every service, in order, with who,
when and why. Pure: entries are built from audit facts and ordered here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from lts_metrics.facts import AuditFact, timeline_tickets

SUMMARY_KEYS = (
    "title",
    "source",
    "severity",
    "decision",
    "labels",
    "owner",
    "revision",
    "target_branches",
    "targets",
    "approver",
    "role",
    "score",
    "deadline",
    "missing_approvals",
)


class TimelineEntry(NamedTuple):
    ticket_id: int
    sequence: int
    event_id: str
    occurred_at: datetime
    event_type: str
    source_service: str
    actor_id: str
    actor_role: str
    reason: str | None
    summary: str


def entries(fact: AuditFact, *, sequence: int) -> list[TimelineEntry]:
    """The fact's entries: one on the timeline of every ticket it concerns
    (`facts.timeline_tickets`), none when it concerns no ticket. `sequence` orders events of the
    same instant as the metrics store received them."""
    tickets = timeline_tickets(fact)
    if not tickets:
        return []
    data = fact.data
    # what TimelineEntry(...) does, without its Python-level constructor
    shared = (
        str(fact.event_id),
        fact.occurred_at,
        fact.type,
        fact.source_service,
        fact.actor_id,
        fact.actor_role,
        fact.reason or _text(data.get("reason")) or _text(data.get("comment")),
        summarize(fact.type, data),
    )
    return [_new(TimelineEntry, (ticket, sequence, *shared)) for ticket in tickets]


_new = tuple.__new__


def summarize(type_: str, data: Mapping[str, Any]) -> str:
    """`ticket_triaged: severity=high` — the event's name and its telling fields."""
    name = _names.get(type_)
    if name is None:
        name = _names[type_] = type_.rsplit(".", 1)[-1]
    parts = [
        f"{key}={value if type(value) is str else _show(value)}"
        for key in SUMMARY_KEYS
        if key in data and not ((value := data[key]) is None or value == "")
    ]
    return f"{name}: {', '.join(parts)}" if parts else name


_names: dict[str, str] = {}
"""Event type -> its short name (the rebuild summarizes every event)."""


def ordered(entries: Iterable[TimelineEntry]) -> list[TimelineEntry]:
    """When it happened first, then the order the audit log received it."""
    return sorted(entries, key=lambda e: (e.occurred_at, e.sequence))


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):  # a tuple of types: `list | tuple` is built per call
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None

"""What a projection sees of one audited event: the original event's facts, as copied into the
metrics store, with the original data upcast to the current shape of its type when it is known."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from lts_events.contracts.common import ticket_id_of
from lts_events.event import REGISTRY
from lts_events.store import Checkpoint


class AuditFact(NamedTuple):
    """Immutable; a named tuple because projections build one per event (the rebuild's hot
    path)."""

    event_id: UUID
    type: str
    schema_version: int
    source_service: str
    subject: str | None
    data: Mapping[str, Any]
    occurred_at: datetime
    actor_id: str
    actor_role: str
    reason: str | None
    checkpoint: Checkpoint

    ticket_id: int | None
    """The ticket this event is about (`ticket_of`), computed once."""


def ticket_of(data: Mapping[str, Any], subject: str | None) -> int | None:
    """`data.ticket_id`, else a `ticket-<n>` subject, else None."""
    value = data.get("ticket_id")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return ticket_id_of(subject)


def named_tickets(data: Mapping[str, Any]) -> list[int]:
    """The tickets listed in `data.ticket_ids` (an event about several at once, such as a
    release), once each, in order; anything but an int is ignored."""
    listed = data.get("ticket_ids")
    if not isinstance(listed, (list, tuple)):
        return []
    return list(dict.fromkeys(t for t in listed if type(t) is int))


def timeline_tickets(fact: AuditFact) -> list[int]:
    """Every ticket whose timeline shows the fact: its own ticket (`ticket_of`), then those it
    names in `ticket_ids`."""
    named = named_tickets(fact.data) if "ticket_ids" in fact.data else []
    own = fact.ticket_id
    if own is None:
        return named
    return [own, *(t for t in named if t != own)]


def needs_upcast(type_: str, schema_version: int) -> bool:
    """Whether data of this type and version is not in its type's current shape."""
    return REGISTRY.knows(type_) and REGISTRY.class_for(type_).schema_version != schema_version


def current_shape(type_: str, schema_version: int, data: Mapping[str, Any]) -> Mapping[str, Any]:
    """Upcast known types to their current schema; unknown or unreadable ones stay as they are."""
    if not needs_upcast(type_, schema_version):
        return data
    try:
        return REGISTRY.upcast(type_, schema_version, data)
    except LookupError:
        return data


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, str):  # first: times in event data are ISO 8601 text
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value
    return None

"""The ticket read model: a view folded from a ticket's events (pure), for GET /tickets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from lts_events.contracts.common import Severity, TicketSource
from lts_events.contracts.intake import (
    AdvisoryWithdrawn,
    AlertOccurrenceRecorded,
    AlertResolved,
    DuplicateLinked,
    TicketEnriched,
    TicketKind,
    TicketLabelled,
    TicketOpened,
)
from lts_events.envelope import RecordedEvent
from pydantic import BaseModel, ConfigDict, Field

TicketState = Literal["open", "resolved", "withdrawn"]


class Duplicate(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: TicketSource
    ref: str
    alias_matched: str | None = None
    linked_at: datetime


class TicketView(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket_id: int
    version: int
    state: TicketState = "open"
    title: str
    description: str
    source: TicketSource
    kind: TicketKind
    severity_guess: Severity | None
    labels: list[str]
    reporter: str | None
    contact: str | None
    cve_ids: list[str]
    advisory_ids: list[str]
    affected_versions: list[str]
    affected_lts_lines: list[str]
    cvss_vectors: list[str]
    external_ref: str | None
    alert_fingerprint: str | None
    alert_severity: str | None
    occurrences: int = 0
    last_fired_at: datetime | None = None
    resolved_at: datetime | None = None
    withdrawn_at: datetime | None = None
    duplicates: list[Duplicate] = Field(default_factory=list)
    enrichment: dict[str, Any] | None = None
    opened_at: datetime
    updated_at: datetime


def view_of(view: TicketView | None, recorded: RecordedEvent) -> TicketView | None:
    """The view after one more recorded event of the ticket's stream."""
    event = recorded.event
    at = recorded.recorded_at
    if isinstance(event, TicketOpened):
        return _opened(event, recorded)
    if view is None:
        return None
    changes: dict[str, Any] = {"version": recorded.stream_version, "updated_at": at}
    match event:
        case TicketEnriched():
            changes["enrichment"] = event.model_dump(mode="json", exclude={"ticket_id"})
        case TicketLabelled():
            changes["labels"] = list(dict.fromkeys([*view.labels, *event.labels]))
        case AlertOccurrenceRecorded():
            changes |= {"occurrences": event.occurrence, "last_fired_at": event.starts_at}
            changes["state"] = "open" if view.state != "withdrawn" else view.state
        case AlertResolved():
            changes |= {"resolved_at": event.ends_at, "state": "resolved"}
        case DuplicateLinked():
            dup = Duplicate(
                source=event.source,
                ref=event.duplicate_ref,
                alias_matched=event.alias_matched,
                linked_at=at,
            )
            changes["duplicates"] = [*view.duplicates, dup]
            changes["advisory_ids"] = list(dict.fromkeys([*view.advisory_ids, *event.advisory_ids]))
            changes["cve_ids"] = list(dict.fromkeys([*view.cve_ids, *event.cve_ids]))
        case AdvisoryWithdrawn():
            changes |= {"withdrawn_at": event.withdrawn_at, "state": "withdrawn"}
    return view.model_copy(update=changes)


def folded_view(events: Sequence[RecordedEvent]) -> TicketView | None:
    """The view of a ticket's stream from its first event (None before its `TicketOpened`)."""
    view: TicketView | None = None
    for event in sorted(events, key=lambda e: e.stream_version):
        view = view_of(view, event)
    return view


def _opened(event: TicketOpened, recorded: RecordedEvent) -> TicketView:
    fields = event.model_dump(
        include={
            "ticket_id",
            "title",
            "description",
            "source",
            "kind",
            "severity_guess",
            "labels",
            "reporter",
            "contact",
            "cve_ids",
            "advisory_ids",
            "affected_versions",
            "affected_lts_lines",
            "cvss_vectors",
            "external_ref",
            "alert_fingerprint",
            "alert_severity",
            "opened_at",
        }
    )
    return TicketView(
        **fields,
        version=recorded.stream_version,
        occurrences=1 if event.alert_fingerprint else 0,
        last_fired_at=_alert_start(event),
        updated_at=recorded.recorded_at,
    )


def _alert_start(event: TicketOpened) -> datetime | None:
    alert = event.raw.get("alert")
    value = alert.get("startsAt") if isinstance(alert, dict) else None
    return datetime.fromisoformat(value) if isinstance(value, str) else None

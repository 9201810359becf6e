"""The ticket lifecycle fold: pure, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any
from uuid import uuid4

from lts_events.contracts.common import Severity
from lts_events.envelope import Envelope
from lts_events.store import Checkpoint
from lts_metrics.audit import service_of
from lts_metrics.facts import AuditFact, current_shape, ticket_of, typed
from lts_metrics.lifecycle import TicketLifecycle, project
from lts_metrics.samples import TicketStory

T0 = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def fact(envelope: Envelope, n: int = 1) -> AuditFact:
    return AuditFact(
        event_id=uuid4(),
        type=envelope.type,
        schema_version=envelope.schema_version,
        source_service=service_of(f"lts.{envelope.type.split('.')[1]}.events"),
        subject=envelope.subject,
        data=(data := current_shape(envelope.type, envelope.schema_version, envelope.data)),
        event=typed(envelope.type, data),
        occurred_at=envelope.time or T0,
        actor_id=envelope.actorid or "",
        actor_role=str(envelope.actorrole),
        reason=envelope.reason,
        checkpoint=Checkpoint(n, n),
        ticket_id=ticket_of(envelope.data, envelope.subject),
    )


def fold(envelopes: list[Envelope]) -> TicketLifecycle | None:
    return reduce(project, [fact(e, n) for n, e in enumerate(envelopes, 1)], None)


def raw(type_: str, data: dict[str, Any]) -> Envelope:
    return Envelope(id=str(uuid4()), source="x", type=type_, subject="ticket-1", time=T0, data=data)


def test_a_ticket_walks_from_opened_to_approved_with_its_milestones() -> None:
    story = TicketStory(
        ticket_id=1,
        opened_at=T0,
        triaged_after=2 * HOUR,
        planned_after=5 * HOUR,
        approved_after=9 * HOUR,
    )

    row = fold(story.envelopes())

    assert row is not None
    assert row.state == "approved"
    assert (row.opened_at, row.triaged_at) == (T0, T0 + 2 * HOUR)
    assert (row.planned_at, row.approved_at) == (T0 + 5 * HOUR, T0 + 9 * HOUR)
    assert row.triage_deadline == T0 + 24 * HOUR
    assert row.events == 4


def test_a_second_triage_changes_the_severity_but_not_the_time_of_first_triage() -> None:
    story = TicketStory(ticket_id=1, opened_at=T0, triaged_after=HOUR, severity=Severity.LOW)
    again = TicketStory(ticket_id=1, opened_at=T0, triaged_after=3 * HOUR, severity=Severity.HIGH)
    triaged_again = again.triaged()
    assert triaged_again is not None

    row = fold([*story.envelopes(), triaged_again])

    assert row is not None
    assert row.severity == "high"
    assert row.triaged_at == T0 + HOUR


def test_states_do_not_move_backwards_when_events_arrive_late() -> None:
    story = TicketStory(ticket_id=1, opened_at=T0, triaged_after=HOUR, planned_after=2 * HOUR)
    opened, triaged, planned = story.envelopes()

    row = fold([opened, planned, triaged])

    assert row is not None
    assert row.state == "planned"


def test_a_deferral_closes_the_ticket_and_leaves_the_backlog() -> None:
    story = TicketStory(ticket_id=1, opened_at=T0, triaged_after=HOUR)
    decided = raw(
        "lts.triage.backport_decided",
        {
            "ticket_id": 1,
            "decision": "defer",
            "reason": "feature",
            "rule": "features",
            "targets": [],
            "decided_by": "lts-triage",
            "decided_at": T0.isoformat(),
        },
    )

    row = fold([*story.envelopes(), decided])

    assert row is not None
    assert row.state == "deferred"


def test_breaches_are_recorded_once_at_their_first_detection() -> None:
    breach = {"ticket_id": 1, "severity": "high", "deadline": T0.isoformat()}
    first = raw(
        "lts.triage.triage_sla_breached", {**breach, "detected_at": (T0 + HOUR).isoformat()}
    )
    later = raw(
        "lts.triage.triage_sla_breached", {**breach, "detected_at": (T0 + 2 * HOUR).isoformat()}
    )

    row = fold([TicketStory(ticket_id=1, opened_at=T0).opened(), later, first])

    assert row is not None
    assert row.triage_breached_at == T0 + HOUR


def test_labels_added_later_are_merged_without_duplicates() -> None:
    opened = TicketStory(ticket_id=1, opened_at=T0, labels=("crash",)).opened()
    labelled = raw(
        "lts.intake.ticket_labelled",
        {"ticket_id": 1, "labels": ["crash", "security"], "reason": "keywords"},
    )

    row = fold([opened, labelled])

    assert row is not None
    assert row.labels == ("crash", "security")


def test_an_event_of_an_unknown_type_only_counts_as_an_event() -> None:
    opened = TicketStory(ticket_id=1, opened_at=T0).opened()
    future = raw("lts.release.canary_started", {"ticket_id": 1, "release": "1.4.3"})

    row = fold([opened, future])

    assert row is not None
    assert (row.state, row.events) == ("opened", 2)


def test_an_event_about_no_ticket_has_no_row() -> None:
    event = raw("lts.release.release_published", {"version": "1.4.3"})
    event = event.model_copy(update={"subject": "release-1.4.3"})

    assert fold([event]) is None

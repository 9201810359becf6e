"""What comms takes from other services' events: each input as the facts it brings (pure).

Intake brings a ticket's title, CVE ids, reporter and contact; triage its severity, security
flag and plan; the release service its releases (candidates, publications with the
release page as the changelog link, rollbacks). Anything else is not comms' business and
maps to None."""

from __future__ import annotations

from datetime import datetime

from lts_events.contracts.comms.facts import ReleaseFactsNoted, ReleaseStatus, TicketFactsNoted
from lts_events.contracts.intake import TicketOpened
from lts_events.contracts.release.candidates import CandidateOpened
from lts_events.contracts.release.publication import ReleasePublished
from lts_events.contracts.release.rollout import RolledBack
from lts_events.contracts.triage import BackportPlanned, SeverityProposed, TicketTriaged
from lts_events.event import Event

Facts = TicketFactsNoted | ReleaseFactsNoted


def facts_of(event: Event, *, now: datetime) -> Facts | None:
    match event:
        case TicketOpened():
            return TicketFactsNoted(
                ticket_id=event.ticket_id,
                source_type=event.type,
                title=event.title,
                description=event.description,
                kind=event.kind.value,
                cve_ids=tuple(event.cve_ids),
                reporter=event.reporter,
                contact=event.contact,
                affected_versions=tuple(event.affected_versions),
                affected_lts_lines=tuple(event.affected_lts_lines),
                severity=event.severity_guess,  # until triage decides
                noted_at=now,
            )
        case SeverityProposed():
            return TicketFactsNoted(
                ticket_id=event.ticket_id,
                source_type=event.type,
                severity=event.severity,
                security=event.security,
                noted_at=now,
            )
        case TicketTriaged(checklist=checklist):
            return TicketFactsNoted(
                ticket_id=event.ticket_id,
                source_type=event.type,
                severity=event.severity,
                security=checklist.security,
                change_kind=checklist.change_kind.value,
                workaround=checklist.workaround,
                api_change=checklist.api_change,
                affected_versions=checklist.affected_versions,
                noted_at=now,
            )
        case BackportPlanned():
            return TicketFactsNoted(
                ticket_id=event.ticket_id,
                source_type=event.type,
                target_branches=event.target_branches,
                noted_at=now,
            )
        case CandidateOpened():
            return ReleaseFactsNoted(
                version=event.version,
                source_type=event.type,
                release_id=event.candidate_id,
                status=ReleaseStatus.CANDIDATE,
                lts_line=event.line,
                previous_version=event.previous_version,
                ticket_ids=tuple(backport.ticket_id for backport in event.backports),
                noted_at=now,
            )
        case ReleasePublished():
            return ReleaseFactsNoted(
                version=event.version,
                source_type=event.type,
                release_id=event.candidate_id,
                status=ReleaseStatus.PUBLISHED,
                lts_line=event.line,
                previous_version=event.previous_safe_version,
                ticket_ids=event.ticket_ids,
                changelog_url=event.release_page_url,
                published_at=event.published_at,
                noted_at=now,
            )
        case RolledBack():
            return ReleaseFactsNoted(
                version=event.from_version,
                source_type=event.type,
                status=ReleaseStatus.ROLLED_BACK,
                lts_line=event.line,
                rolled_back_at=event.completed_at,
                rollback_reason=event.reason,
                rolled_back_to=event.to_version,
                noted_at=now,
            )
    return None

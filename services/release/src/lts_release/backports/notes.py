"""What the release service notes of a ticket from triage (stream `ticket-{id}`), pure:
the severity and each plan revision, which triage's approval does not repeat, and the terms an
approval gives each line's backport."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from lts_events.contracts.common import Severity
from lts_events.contracts.release.backports import (
    BackportOpened,
    BackportPlanNoted,
    PlanApprovalNoted,
    TicketNoted,
    TicketSeverityNoted,
)
from lts_events.contracts.triage import (
    BackportPlanned,
    PlanApproved,
    TicketReceived,
    TicketTriaged,
)
from lts_events.event import Event

from lts_release.backports.policy import BackportPolicy, gates_for, line_of_target


@dataclass(frozen=True, slots=True)
class TicketNotes:
    ticket: TicketNoted | None = None
    severity: Severity | None = None
    plans: tuple[BackportPlanNoted, ...] = ()
    approved: PlanApprovalNoted | None = None

    def plan(self, revision: int) -> BackportPlanNoted | None:
        return next((p for p in self.plans if p.revision == revision), None)

    @property
    def open_lines(self) -> tuple[str, ...]:
        return self.approved.lines if self.approved else ()


def evolve_notes(notes: TicketNotes, event: Event) -> TicketNotes:
    match event:
        case TicketNoted():
            return replace(notes, ticket=event)
        case TicketSeverityNoted():
            return replace(notes, severity=event.severity)
        case BackportPlanNoted() if notes.plan(event.revision) is None:
            return replace(notes, plans=(*notes.plans, event))
        case PlanApprovalNoted():
            return replace(notes, approved=event)
        case _:
            return notes


def fold_notes(events: Iterable[Event]) -> TicketNotes:
    notes = TicketNotes()
    for event in events:
        notes = evolve_notes(notes, event)
    return notes


def note(notes: TicketNotes, event: Event) -> list[Event]:
    """What to note of a triage event (nothing when it was noted already)."""
    match event:
        case TicketReceived() if notes.ticket is None:
            return [
                TicketNoted(
                    ticket_id=event.ticket_id,
                    title=event.title,
                    cve_ids=event.cve_ids,
                    received_at=event.received_at,
                )
            ]
        case TicketTriaged() if notes.severity != event.severity:
            return [
                TicketSeverityNoted(
                    ticket_id=event.ticket_id, severity=event.severity, triaged_at=event.triaged_at
                )
            ]
        case BackportPlanned() if notes.plan(event.revision) is None:
            return [_plan_noted(event)]
        case _:
            return []


def _plan_noted(plan: BackportPlanned) -> BackportPlanNoted:
    return BackportPlanNoted(
        ticket_id=plan.ticket_id,
        revision=plan.revision,
        target_branches=plan.target_branches,
        patch_branches=plan.patch_branches,
        tests_required=plan.tests_required,
        rollout_strategy=plan.rollout_strategy,
        security_review_required=plan.security_review_required,
        emergency=plan.emergency,
        planned_at=plan.planned_at,
    )


def terms_for(
    notes: TicketNotes, approved: PlanApproved, *, policy: BackportPolicy
) -> dict[str, BackportOpened]:
    """The backport terms per line an approval opens (keyed by line). Empty when the approved
    revision was never noted (it cannot be opened without its plan)."""
    plan = notes.plan(approved.revision)
    if plan is None:
        return {}
    required = gates_for(plan.tests_required)
    terms: dict[str, BackportOpened] = {}
    for target, patch in zip(plan.target_branches, plan.patch_branches, strict=False):
        line = line_of_target(target)
        if line is None:
            continue
        terms[line] = BackportOpened(
            ticket_id=plan.ticket_id,
            line=line,
            revision=plan.revision,
            title=notes.ticket.title if notes.ticket else "",
            cve_ids=notes.ticket.cve_ids if notes.ticket else (),
            target_branch=target,
            patch_branch=patch,
            tests_required=plan.tests_required,
            required_gates=required,
            essential_gates=policy.essential(required),
            security_sign_off_required=plan.security_review_required,
            rollout_strategy=plan.rollout_strategy,
            emergency=plan.emergency or approved.emergency,
            severity=notes.severity,
            approved_at=approved.approved_at,
            release_deadline=policy.release_deadline(notes.severity, approved.approved_at),
        )
    return terms

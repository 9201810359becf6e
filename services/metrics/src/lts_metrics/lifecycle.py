"""The ticket lifecycle projection: pure functions folding audited events into one row per ticket.

Every metric of v1 derives from this row:
- time-to-triage: `opened_at` (first `TicketOpened`) -> `triaged_at` (first `TicketTriaged`);
- triage SLA: met when `triaged_at <= triage_deadline` (the deadline of that first triage);
  a `TriageSlaBreached` sets `triage_breached_at`;
- time-to-plan: `triaged_at` -> `planned_at` (first `BackportPlanned`);
- time-to-approval: `planned_at` -> `approved_at` (first `PlanApproved`);
- plan SLA: met when `approved_at <= plan_deadline`; a `PlanSlaBreached` sets `plan_breached_at`;
- backlog: tickets whose state is still open (`OPEN_STATES`).

Handlers are registered by event class in `LIFECYCLE` (a `ProjectorRegistry`) and take the typed
event (`AuditFact.event`): release, rollback and comms events slot in by registering more
handlers, without touching these ones. Events of a class without a handler, of a type unknown to
this build or whose data does not fit their contract leave the row as it is but count as events
(they still appear in the timeline).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TypeVar

from lts_events.contracts import intake, triage
from lts_events.event import Event

from lts_metrics.facts import AuditFact

OPEN_STATES = ("opened", "triaged", "planned")
"""States counted in the backlog: the ticket still waits for triage, a plan or its approval."""


@dataclass(frozen=True, slots=True)
class TicketLifecycle:
    ticket_id: int
    state: str = "opened"
    title: str | None = None
    source: str | None = None
    kind: str | None = None
    severity: str | None = None
    labels: tuple[str, ...] = ()
    opened_at: datetime | None = None
    triaged_at: datetime | None = None
    triaged_by: str | None = None
    triaged_automatically: bool | None = None
    triage_deadline: datetime | None = None
    triage_breached_at: datetime | None = None
    decision: str | None = None
    targets: tuple[str, ...] = ()
    owner: str | None = None
    planned_at: datetime | None = None
    plan_deadline: datetime | None = None
    approved_at: datetime | None = None
    plan_breached_at: datetime | None = None
    security_review: bool | None = None
    approvals: int = 0
    events: int = 0
    updated_at: datetime | None = None


Changes = dict[str, Any]
E = TypeVar("E", bound=Event)
Handler = Callable[[TicketLifecycle, E], Changes]
"""A handler returns the fields its event changes (computed from the row as it was); the registry
applies them all, then counts the event."""


class ProjectorRegistry:
    """Event class -> handler. A class without a handler does not change the row."""

    def __init__(self) -> None:
        self._handlers: dict[type[Event], Handler[Any]] = {}

    def on(self, cls: type[E]) -> Callable[[Handler[E]], Handler[E]]:
        def register(fn: Handler[E]) -> Handler[E]:
            self._handlers[cls] = fn
            return fn

        return register

    def handles(self, cls: type[Event]) -> bool:
        return cls in self._handlers

    def apply(self, row: TicketLifecycle, fact: AuditFact) -> TicketLifecycle:
        """The row after `fact`, as a new row; `row` is untouched."""
        new = _copy(row)
        self.apply_in_place(new, fact)
        return new

    def apply_in_place(self, row: TicketLifecycle, fact: AuditFact) -> None:
        """Fold `fact` into `row` itself: only for a working copy nobody else holds (the
        projection engine's rows of the batch being folded), where copying the whole row per
        event is the hot path's main cost. Same handlers, same result as `apply`."""
        event = fact.event
        handler = None if event is None else self._handlers.get(type(event))
        changes = {} if handler is None else handler(row, event)
        events, updated_at, at = row.events + 1, row.updated_at, fact.occurred_at
        for name, value in changes.items():
            _set(row, name, value)
        _set(row, "events", events)
        _set(row, "updated_at", at if updated_at is None or at > updated_at else updated_at)


LIFECYCLE = ProjectorRegistry()
_FIELDS = tuple(f.name for f in fields(TicketLifecycle))
_set = object.__setattr__  # the frozen row's own fields, on a working copy (see apply_in_place)


def _copy(row: TicketLifecycle) -> TicketLifecycle:
    new = object.__new__(TicketLifecycle)
    for name in _FIELDS:
        _set(new, name, getattr(row, name))
    return new


def project(row: TicketLifecycle | None, fact: AuditFact) -> TicketLifecycle | None:
    """Fold one fact into the ticket's row; facts without a ticket id have no row."""
    ticket_id = fact.ticket_id
    if ticket_id is None:
        return row
    return LIFECYCLE.apply(row or TicketLifecycle(ticket_id=ticket_id), fact)


def _first(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None else min(current, candidate)


def _advance(current: str, new: str) -> str:
    """States only move forward, except that a closing state (deferred, rejected, withdrawn) wins
    and a new plan after a deferral reopens the ticket."""
    order = ("opened", "triaged", "planned", "approved")
    if current in order and new in order:
        return new if order.index(new) > order.index(current) else current
    return new


def _labels(existing: tuple[str, ...], added: list[str]) -> tuple[str, ...]:
    merged = list(existing)
    for label in added:
        if label not in merged:
            merged.append(label)
    return tuple(merged)


@LIFECYCLE.on(intake.TicketOpened)
def _opened(row: TicketLifecycle, e: intake.TicketOpened) -> Changes:
    first = row.opened_at is None or e.opened_at < row.opened_at
    guess = e.severity_guess
    return {
        "opened_at": _first(row.opened_at, e.opened_at),
        "title": e.title if first or row.title is None else row.title,
        "source": e.source.value if first or row.source is None else row.source,
        "kind": e.kind.value if first or row.kind is None else row.kind,
        "severity": row.severity or (None if guess is None else guess.value),
        "labels": _labels(row.labels, e.labels),
    }


@LIFECYCLE.on(intake.TicketLabelled)
def _labelled(row: TicketLifecycle, e: intake.TicketLabelled) -> Changes:
    return {"labels": _labels(row.labels, e.labels)}


@LIFECYCLE.on(intake.AdvisoryWithdrawn)
def _withdrawn(row: TicketLifecycle, e: intake.AdvisoryWithdrawn) -> Changes:
    return {"state": "withdrawn"}


@LIFECYCLE.on(triage.SeverityProposed)
def _proposed(row: TicketLifecycle, e: triage.SeverityProposed) -> Changes:
    return {
        "severity": row.severity if row.triaged_at else e.severity.value,
        "triage_deadline": row.triage_deadline or e.triage_deadline,
    }


@LIFECYCLE.on(triage.TicketTriaged)
def _triaged(row: TicketLifecycle, e: triage.TicketTriaged) -> Changes:
    first = row.triaged_at is None
    return {
        "state": _advance(row.state, "triaged"),
        "severity": e.severity.value,
        "opened_at": row.opened_at or e.opened_at,
        "triaged_at": _first(row.triaged_at, e.triaged_at),
        "triaged_by": e.triaged_by if first else row.triaged_by,
        "triaged_automatically": e.automatic if first else row.triaged_automatically,
        "triage_deadline": e.sla_deadline if first else row.triage_deadline,
        "plan_deadline": e.plan_deadline,
    }


_CLOSING = {triage.Decision.DEFER: "deferred", triage.Decision.REJECT: "rejected"}


@LIFECYCLE.on(triage.BackportDecided)
def _decided(row: TicketLifecycle, e: triage.BackportDecided) -> Changes:
    state = _CLOSING.get(e.decision) or _reopen(row.state)
    return {"decision": e.decision.value, "targets": e.targets, "state": state}


def _reopen(state: str) -> str:
    return "triaged" if state in ("deferred", "rejected") else state


@LIFECYCLE.on(triage.OwnerAssigned)
def _owner(row: TicketLifecycle, e: triage.OwnerAssigned) -> Changes:
    return {"owner": e.owner}


@LIFECYCLE.on(triage.BackportPlanned)
def _planned(row: TicketLifecycle, e: triage.BackportPlanned) -> Changes:
    return {
        "state": _advance(_reopen(row.state), "planned"),
        "planned_at": _first(row.planned_at, e.planned_at),
        "plan_deadline": e.plan_deadline,
        "targets": e.target_branches or row.targets,
        "security_review": e.security_review_required,
    }


@LIFECYCLE.on(triage.ApprovalRecorded)
def _approval(row: TicketLifecycle, e: triage.ApprovalRecorded) -> Changes:
    return {"approvals": row.approvals + 1}


@LIFECYCLE.on(triage.PlanApproved)
def _approved(row: TicketLifecycle, e: triage.PlanApproved) -> Changes:
    return {
        "state": _advance(row.state, "approved"),
        "approved_at": _first(row.approved_at, e.approved_at),
    }


@LIFECYCLE.on(triage.TriageSlaBreached)
def _triage_breach(row: TicketLifecycle, e: triage.TriageSlaBreached) -> Changes:
    return {"triage_breached_at": _first(row.triage_breached_at, e.detected_at)}


@LIFECYCLE.on(triage.PlanSlaBreached)
def _plan_breach(row: TicketLifecycle, e: triage.PlanSlaBreached) -> Changes:
    return {"plan_breached_at": _first(row.plan_breached_at, e.detected_at)}

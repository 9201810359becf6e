"""The ticket lifecycle projection: pure functions folding audited events into one row per ticket.

Every metric of v1 derives from this row:
- time-to-triage: `opened_at` (first `TicketOpened`) -> `triaged_at` (first `TicketTriaged`);
- triage SLA: met when `triaged_at <= triage_deadline` (the deadline of that first triage);
  a `TriageSlaBreached` sets `triage_breached_at`;
- time-to-plan: `triaged_at` -> `planned_at` (first `BackportPlanned`);
- time-to-approval: `planned_at` -> `approved_at` (first `PlanApproved`);
- plan SLA: met when `approved_at <= plan_deadline`; a `PlanSlaBreached` sets `plan_breached_at`;
- backlog: tickets whose state is still open (`OPEN_STATES`).

Handlers are registered by event type in `LIFECYCLE` (a `ProjectorRegistry`): release, rollback
and comms events slot in by registering more handlers, without touching these ones. Events of an
unregistered type leave the row as it is (they still appear in the timeline).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from lts_events.contracts import intake, triage

from lts_metrics.facts import AuditFact, parse_time

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
Handler = Callable[[TicketLifecycle, Mapping[str, Any], AuditFact], Changes]
"""A handler returns the fields its event changes (computed from the row as it was); the registry
applies them all, then counts the event."""


class ProjectorRegistry:
    """Event type -> handler. A type without a handler does not change the row."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def on(self, type_: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self._handlers[type_] = fn
            return fn

        return register

    def handles(self, type_: str) -> bool:
        return type_ in self._handlers

    def apply(self, row: TicketLifecycle, fact: AuditFact) -> TicketLifecycle:
        """The row after `fact`, as a new row; `row` is untouched."""
        new = _copy(row)
        self.apply_in_place(new, fact)
        return new

    def apply_in_place(self, row: TicketLifecycle, fact: AuditFact) -> None:
        """Fold `fact` into `row` itself: only for a working copy nobody else holds (the
        projection engine's rows of the batch being folded), where copying the whole row per
        event is the hot path's main cost. Same handlers, same result as `apply`."""
        handler = self._handlers.get(fact.type)
        changes = {} if handler is None else handler(row, fact.data, fact)
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


def _first(current: datetime | None, value: Any) -> datetime | None:
    candidate = parse_time(value)
    if current is None:
        return candidate
    return current if candidate is None else min(current, candidate)


def _advance(current: str, new: str) -> str:
    """States only move forward, except that a closing state (deferred, rejected, withdrawn) wins
    and a new plan after a deferral reopens the ticket."""
    order = ("opened", "triaged", "planned", "approved")
    if current in order and new in order:
        return new if order.index(new) > order.index(current) else current
    return new


def _labels(existing: tuple[str, ...], added: Any) -> tuple[str, ...]:
    merged = list(existing)
    for label in added or ():
        if isinstance(label, str) and label not in merged:
            merged.append(label)
    return tuple(merged)


@LIFECYCLE.on(intake.TicketOpened.type)
def _opened(row: TicketLifecycle, data: Mapping[str, Any], fact: AuditFact) -> Changes:
    first = row.opened_at is None or (
        (at := parse_time(data.get("opened_at"))) is not None and at < row.opened_at
    )
    return {
        "opened_at": _first(row.opened_at, data.get("opened_at")),
        "title": data.get("title") if first or row.title is None else row.title,
        "source": data.get("source") if first or row.source is None else row.source,
        "kind": data.get("kind") if first or row.kind is None else row.kind,
        "severity": row.severity or data.get("severity_guess"),
        "labels": _labels(row.labels, data.get("labels")),
    }


@LIFECYCLE.on(intake.TicketLabelled.type)
def _labelled(row: TicketLifecycle, data: Mapping[str, Any], fact: AuditFact) -> Changes:
    return {"labels": _labels(row.labels, data.get("labels"))}


@LIFECYCLE.on(intake.AdvisoryWithdrawn.type)
def _withdrawn(row: TicketLifecycle, data: Mapping[str, Any], fact: AuditFact) -> Changes:
    return {"state": "withdrawn"}


@LIFECYCLE.on(triage.SeverityProposed.type)
def _proposed(row: TicketLifecycle, data: Mapping[str, Any], fact: AuditFact) -> Changes:
    return {
        "severity": row.severity if row.triaged_at else data.get("severity", row.severity),
        "triage_deadline": row.triage_deadline or parse_time(data.get("triage_deadline")),
    }


@LIFECYCLE.on(triage.TicketTriaged.type)
def _triaged(row: TicketLifecycle, data: Mapping[str, Any], fact: AuditFact) -> Changes:
    first = row.triaged_at is None
    return {
        "state": _advance(row.state, "triaged"),
        "severity": data.get("severity", row.severity),
        "opened_at": row.opened_at or parse_time(data.get("opened_at")),
        "triaged_at": _first(row.triaged_at, data.get("triaged_at")),
        "triaged_by": data.get("triaged_by") if first else row.triaged_by,
        "triaged_automatically": data.get("automatic") if first else row.triaged_automatically,
        "triage_deadline": parse_time(data.get("sla_deadline")) if first else row.triage_deadline,
        "plan_deadline": parse_time(data.get("plan_deadline")) or row.plan_deadline,
    }


@LIFECYCLE.on(triage.BackportDecided.type)
def _decided(row: TicketLifecycle, data: Mapping[str, Any], fact: AuditFact) -> Changes:
    decision = data.get("decision")
    closing = {"defer": "deferred", "reject": "rejected"}
    state = closing[decision] if decision in closing else _reopen(row.state)
    return {"decision": decision, "targets": tuple(data.get("targets") or ()), "state": state}


def _reopen(state: str) -> str:
    return "triaged" if state in ("deferred", "rejected") else state


@LIFECYCLE.on(triage.OwnerAssigned.type)
def _owner(row: TicketLifecycle, data: Mapping[str, Any], fact: AuditFact) -> Changes:
    return {"owner": data.get("owner", row.owner)}


@LIFECYCLE.on(triage.BackportPlanned.type)
def _planned(row: TicketLifecycle, data: Mapping[str, Any], fact: AuditFact) -> Changes:
    return {
        "state": _advance(_reopen(row.state), "planned"),
        "planned_at": _first(row.planned_at, data.get("planned_at")),
        "plan_deadline": parse_time(data.get("plan_deadline")) or row.plan_deadline,
        "targets": tuple(data.get("target_branches") or row.targets),
        "security_review": bool(data.get("security_review_required")),
    }


@LIFECYCLE.on(triage.ApprovalRecorded.type)
def _approval(row: TicketLifecycle, data: Mapping[str, Any], fact: AuditFact) -> Changes:
    return {"approvals": row.approvals + 1}


@LIFECYCLE.on(triage.PlanApproved.type)
def _approved(row: TicketLifecycle, data: Mapping[str, Any], fact: AuditFact) -> Changes:
    return {
        "state": _advance(row.state, "approved"),
        "approved_at": _first(row.approved_at, data.get("approved_at")),
    }


@LIFECYCLE.on(triage.TriageSlaBreached.type)
def _triage_breach(row: TicketLifecycle, data: Mapping[str, Any], fact: AuditFact) -> Changes:
    return {"triage_breached_at": _first(row.triage_breached_at, data.get("detected_at"))}


@LIFECYCLE.on(triage.PlanSlaBreached.type)
def _plan_breach(row: TicketLifecycle, data: Mapping[str, Any], fact: AuditFact) -> Changes:
    return {"plan_breached_at": _first(row.plan_breached_at, data.get("detected_at"))}

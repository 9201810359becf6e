"""Triage's durable timers, decided here and nowhere else (pure): which timers new events call
for (`timers_for`), and what a due timer asks of its ticket (`command_for`). The shell stores
the timers with its appends and hands back the ones that fall due; it decides nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, get_args

from lts_events.contracts.triage import (
    BackportDecided,
    BackportPlanned,
    BreachKind,
    BreachNotificationRequested,
    FollowUp,
    FollowUpOpened,
    SeverityProposed,
)
from lts_events.event import Event

from lts_triage.domain import FireTimer, TimerKind
from lts_triage.policy import Policy

TIMER_KINDS: frozenset[str] = frozenset(get_args(TimerKind))
BREACH_KINDS: frozenset[str] = frozenset(get_args(BreachKind))


@dataclass(frozen=True, slots=True)
class TimerRequest:
    """A timer a decision calls for. Its id names what it was scheduled for: the store keeps
    the first timer of an id and fires it once. `payload` is JSON (it is stored as such)."""

    timer_id: str
    due_at: datetime
    kind: TimerKind
    payload: dict[str, Any] = field(default_factory=dict)


def timers_for(ticket_id: int, events: Sequence[Event], *, policy: Policy) -> list[TimerRequest]:
    """Every id is per decision: the triage SLA per proposed deadline, the plan SLA and the
    reminder per plan revision (a plan made after a deferral, or after the deadline, still
    breaches), an escalation per breach and level while the chain goes on, a revisit per
    deferral, a follow-up's due date per follow-up."""

    def timer(
        prefix: str, key: object, due: datetime, kind: TimerKind, **data: Any
    ) -> TimerRequest:
        return TimerRequest(f"{prefix}:{ticket_id}:{key}", due, kind, data)

    timers: list[TimerRequest] = []
    for event in events:
        match event:
            case SeverityProposed(triage_deadline=deadline):
                timers.append(timer("triage-sla", deadline.isoformat(), deadline, "triage_sla"))
            case BackportPlanned(revision=rev):
                due = policy.reminder_at(deadline=event.plan_deadline, planned_at=event.planned_at)
                timers += [
                    timer("plan-sla", f"r{rev}", event.plan_deadline, "plan_sla", revision=rev),
                    timer("approval-reminder", rev, due, "approval_reminder", revision=rev),
                ]
            case BreachNotificationRequested() if policy.escalation_roles(event.level + 1):
                due = policy.escalation_due(notified_at=event.requested_at)
                level, breach = event.level + 1, event.breach
                timers.append(
                    timer(
                        "breach-escalation",
                        f"{breach}:{level}",
                        due,
                        "breach_escalation",
                        breach=breach,
                        level=level,
                    )
                )
            case BackportDecided(revisit_at=datetime() as revisit_at):
                at = event.decided_at.isoformat()
                timers.append(timer("revisit", at, revisit_at, "revisit", decided_at=at))
            case FollowUpOpened():
                item = event.follow_up.value
                timers.append(
                    timer("follow-up", item, event.due_at, "follow_up_due", follow_up=item)
                )
    return timers


def command_for(kind: str, due_at: datetime, payload: Mapping[str, Any]) -> FireTimer | None:
    """The command of a due timer, from its kind and payload as `timers_for` wrote them; None
    for a kind that is not triage's (the shell then only marks it fired)."""
    if kind not in TIMER_KINDS:
        return None
    revision, breach, decided_at, follow_up = (
        payload.get(key) for key in ("revision", "breach", "decided_at", "follow_up")
    )
    return FireTimer(
        kind,  # type: ignore[arg-type]  # one of TIMER_KINDS, checked above
        due_at,
        revision=int(revision) if revision is not None else None,
        breach=breach if breach in BREACH_KINDS else None,
        level=int(payload.get("level", 0)),
        decided_at=datetime.fromisoformat(decided_at) if decided_at else None,
        follow_up=FollowUp(follow_up) if follow_up else None,
    )

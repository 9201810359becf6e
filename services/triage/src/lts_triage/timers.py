"""Triage's durable timers, decided here and nowhere else (pure): which timers new events call
for (`timers_for`), and what a due timer asks of its ticket (`command_for`). The shell stores
the timers with its appends and hands back the ones that fall due; it decides nothing."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
    timers: list[TimerRequest] = []
    for event in events:
        called_for = _CALLED_FOR.get(type(event)) or _called_for(type(event))
        if called_for is not _NONE:
            timers += called_for(ticket_id, event, policy)
    return timers


def _timer(
    prefix: str, ticket_id: int, key: object, due: datetime, kind: TimerKind, **data: Any
) -> TimerRequest:
    return TimerRequest(f"{prefix}:{ticket_id}:{key}", due, kind, data)


def _triage_sla(ticket_id: int, event: SeverityProposed, policy: Policy) -> list[TimerRequest]:
    deadline = event.triage_deadline
    return [_timer("triage-sla", ticket_id, deadline.isoformat(), deadline, "triage_sla")]


def _plan_timers(ticket_id: int, event: BackportPlanned, policy: Policy) -> list[TimerRequest]:
    rev = event.revision
    due = policy.reminder_at(deadline=event.plan_deadline, planned_at=event.planned_at)
    return [
        _timer("plan-sla", ticket_id, f"r{rev}", event.plan_deadline, "plan_sla", revision=rev),
        _timer("approval-reminder", ticket_id, rev, due, "approval_reminder", revision=rev),
    ]


def _escalation(
    ticket_id: int, event: BreachNotificationRequested, policy: Policy
) -> list[TimerRequest]:
    level, breach = event.level + 1, event.breach
    if not policy.escalation_roles(level):
        return []
    due = policy.escalation_due(notified_at=event.requested_at)
    key = f"{breach}:{level}"
    return [
        _timer(
            "breach-escalation",
            ticket_id,
            key,
            due,
            "breach_escalation",
            breach=breach,
            level=level,
        )
    ]


def _revisit(ticket_id: int, event: BackportDecided, policy: Policy) -> list[TimerRequest]:
    if not isinstance(event.revisit_at, datetime):
        return []
    at = event.decided_at.isoformat()
    return [_timer("revisit", ticket_id, at, event.revisit_at, "revisit", decided_at=at)]


def _follow_up(ticket_id: int, event: FollowUpOpened, policy: Policy) -> list[TimerRequest]:
    item = event.follow_up.value
    return [_timer("follow-up", ticket_id, item, event.due_at, "follow_up_due", follow_up=item)]


CalledFor = Callable[[int, Any, Policy], list[TimerRequest]]


def _none(ticket_id: int, event: Any, policy: Policy) -> list[TimerRequest]:
    return []


_NONE: CalledFor = _none
# The timers an event class calls for, by class: most of a decision's events call for none,
# and finding that by a dict lookup instead of one class pattern after another halves
# `timers_for` (it runs for every decision). Subclasses are found through their MRO, once.
_BY_CLASS: dict[type[Event], CalledFor] = {
    SeverityProposed: _triage_sla,
    BackportPlanned: _plan_timers,
    BreachNotificationRequested: _escalation,
    BackportDecided: _revisit,
    FollowUpOpened: _follow_up,
}
_CALLED_FOR: dict[type[Event], CalledFor] = dict(_BY_CLASS)


def _called_for(event_class: type[Event]) -> CalledFor:
    found = next((_BY_CLASS[k] for k in event_class.__mro__ if k in _BY_CLASS), _NONE)
    _CALLED_FOR[event_class] = found
    return found


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

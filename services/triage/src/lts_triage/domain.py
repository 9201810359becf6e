"""The ticket as triage sees it: state, `evolve` (fold one event) and `decide` (command ->
events). Pure: time comes in as `now`, the policy as an argument."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from typing import Literal

from lts_events.actors import Actor, Role, automation
from lts_events.contracts.common import Severity
from lts_events.contracts.intake import TicketOpened
from lts_events.contracts.triage import (
    AffectedVersionsRequested,
    ApprovalEntry,
    ApprovalRecorded,
    ApprovalReminderDue,
    BackportDecided,
    BackportPlanned,
    BreachEscalated,
    BreachKind,
    BreachNotificationRequested,
    ChangeKind,
    Decision,
    EmergencyFastTrackApproved,
    EmergencyFastTrackRequested,
    FollowUp,
    FollowUpClosed,
    FollowUpOpened,
    FollowUpOverdue,
    OwnerAssigned,
    PlanApproved,
    PlanSlaBreached,
    RefusalKind,
    RefusedAction,
    RequestRefused,
    RevisitDue,
    RiskScored,
    SecurityReviewAdded,
    SeverityProposed,
    TicketClosed,
    TicketReceived,
    TicketTriaged,
    TriageChecklist,
    TriageSlaBreached,
)
from lts_events.event import Event
from lts_events.support import LtsLine

from lts_triage.policy import (
    BREACH_NOTICE_ROLES,
    EMERGENCY_REQUESTERS,
    FOLLOW_UP_CLOSERS,
    RISK_FORMULA,
    TRIAGE_ROLES,
    AutoTriage,
    Policy,
    Risk,
    missing_approvals,
    required_approvers,
)
from lts_triage.severity import SECURITY_LABELS, Proposal, TicketFacts, propose

SERVICE = automation("triage")
API_CHANGE_LABELS = frozenset({"api-change", "breaking-change", "api-break"})


# ---------------------------------------------------------------- state -------------------


@dataclass(frozen=True, slots=True)
class TicketState:
    received: TicketReceived | None = None
    proposal: SeverityProposed | None = None
    triage: TicketTriaged | None = None
    first_triaged_at: datetime | None = None
    plan_deadline: datetime | None = None
    risk: RiskScored | None = None
    decision: BackportDecided | None = None
    owner: str | None = None
    plan: BackportPlanned | None = None
    plan_revisions: int = 0
    approvals: tuple[ApprovalEntry, ...] = ()
    approved: PlanApproved | None = None
    emergency: EmergencyFastTrackRequested | None = None
    emergency_approved: bool = False
    versions_requested: bool = False
    triage_breached: bool = False
    plan_breached: bool = False
    reminded_revisions: frozenset[int] = frozenset()
    closed: TicketClosed | None = None
    security_added: bool = False
    escalated: frozenset[tuple[BreachKind, int]] = frozenset()
    revisited: datetime | None = None  # `decided_at` of the deferral whose revisit came
    follow_ups: tuple[FollowUpOpened, ...] = ()
    follow_ups_closed: frozenset[FollowUp] = frozenset()
    follow_ups_overdue: frozenset[FollowUp] = frozenset()

    @property
    def ticket_id(self) -> int | None:
        return self.received.ticket_id if self.received else None

    @property
    def missing(self) -> tuple[Role, ...]:
        if self.plan is None or self.approved is not None:
            return ()
        return missing_approvals(self.plan.required_approvers, (a.role for a in self.approvals))


_FIELDS = tuple(f.name for f in fields(TicketState))
_values_of = attrgetter(*_FIELDS)
_SETTERS = {name: getattr(TicketState, name).__set__ for name in _FIELDS}
_ALL_SETTERS = tuple(_SETTERS.values())


def _with(state: TicketState, **changes: object) -> TicketState:
    """`dataclasses.replace(state, **changes)` without its per-call field introspection and
    keyword `__init__` (evolve runs for every event of every stream read). Same result:
    `TicketState` has no `__post_init__` and no init-only fields."""
    new = object.__new__(TicketState)
    for put, value in zip(_ALL_SETTERS, _values_of(state), strict=True):
        put(new, value)
    for name, value in changes.items():
        if name not in _SETTERS:
            raise TypeError(f"TicketState has no field {name!r}")
        _SETTERS[name](new, value)
    return new


def evolve(state: TicketState, event: Event) -> TicketState:
    match event:
        case TicketReceived():
            return _with(state, received=event)
        case SeverityProposed():
            return _with(state, proposal=event)
        case TicketTriaged():
            return _with(
                state,
                triage=event,
                first_triaged_at=state.first_triaged_at or event.triaged_at,
                plan_deadline=state.plan_deadline or event.plan_deadline,
            )
        case RiskScored():
            return _with(state, risk=event)
        case BackportDecided():
            return _with(state, decision=event, plan=None, approvals=())
        case OwnerAssigned():
            return _with(state, owner=event.owner)
        case BackportPlanned():
            return _with(state, plan=event, plan_revisions=event.revision, approvals=())
        case _:
            return _evolve_approval(state, event)


def _evolve_approval(state: TicketState, event: Event) -> TicketState:
    match event:
        case ApprovalRecorded() if state.plan is None or event.revision == state.plan.revision:
            entry = ApprovalEntry(
                approver=event.approver,
                role=event.role,
                approved_at=event.approved_at,
                comment=event.comment,
            )
            return _with(state, approvals=(*state.approvals, entry))
        case PlanApproved():
            return _with(state, approved=event)
        case EmergencyFastTrackRequested():
            return _with(state, emergency=event)
        case EmergencyFastTrackApproved():
            return _with(state, emergency_approved=True)
        case AffectedVersionsRequested():
            return _with(state, versions_requested=True)
        case TriageSlaBreached():
            return _with(state, triage_breached=True)
        case PlanSlaBreached():
            return _with(state, plan_breached=True)
        case ApprovalReminderDue():
            return _with(state, reminded_revisions=state.reminded_revisions | {event.revision})
        case _:
            return _evolve_follow_up(state, event)


def _evolve_follow_up(state: TicketState, event: Event) -> TicketState:
    match event:
        case TicketClosed():
            return _with(state, closed=event)
        case SecurityReviewAdded():
            return _with(state, security_added=True)
        case BreachEscalated():
            return _with(state, escalated=state.escalated | {(event.breach, event.level)})
        case RevisitDue():
            return _with(state, revisited=event.deferred_at)
        case FollowUpOpened():
            return _with(state, follow_ups=(*state.follow_ups, event))
        case FollowUpClosed():
            return _with(state, follow_ups_closed=state.follow_ups_closed | {event.follow_up})
        case FollowUpOverdue():
            return _with(state, follow_ups_overdue=state.follow_ups_overdue | {event.follow_up})
        case _:
            return state


def fold(events: Iterable[Event], state: TicketState | None = None) -> TicketState:
    current = state or TicketState()
    for event in events:
        current = evolve(current, event)
    return current


# ---------------------------------------------------------------- commands ----------------


@dataclass(frozen=True, slots=True)
class ReceiveTicket:
    ticket: TicketOpened


@dataclass(frozen=True, slots=True)
class RelabelTicket:
    labels: tuple[str, ...]
    reason: str = "ticket labelled by intake"


@dataclass(frozen=True, slots=True)
class TriageTicket:
    """`held_roles`: the roles the caller's token holds (None: only `actor.role`); the domain
    checks them, so a refusal is recorded."""

    actor: Actor
    severity: Severity
    checklist: TriageChecklist
    owner: str | None = None
    comment: str | None = None
    held_roles: frozenset[Role] | None = None


@dataclass(frozen=True, slots=True)
class RequestEmergency:
    actor: Actor
    reason: str
    held_roles: frozenset[Role] | None = None


@dataclass(frozen=True, slots=True)
class SignOff:
    """`revision`: the plan revision the signer approves (the plan's ETag); None is refused."""

    actor_id: str
    actor_roles: frozenset[Role]
    role: Role
    comment: str = ""
    revision: int | None = None


@dataclass(frozen=True, slots=True)
class WithdrawAdvisory:
    advisory_id: str
    reason: str = "the advisory was withdrawn"


@dataclass(frozen=True, slots=True)
class CloseFollowUp:
    actor_id: str
    actor_roles: frozenset[Role]
    follow_up: FollowUp
    summary: str
    link: str | None = None


TimerKind = Literal[
    "triage_sla", "plan_sla", "approval_reminder", "breach_escalation", "revisit", "follow_up_due"
]


@dataclass(frozen=True, slots=True)
class FireTimer:
    """A due timer; the optional fields name what it was scheduled for (`lts_triage.timers`)."""

    kind: TimerKind
    due_at: datetime
    revision: int | None = None
    breach: BreachKind | None = None
    level: int = 0
    decided_at: datetime | None = None
    follow_up: FollowUp | None = None


Command = (
    ReceiveTicket
    | RelabelTicket
    | TriageTicket
    | RequestEmergency
    | SignOff
    | WithdrawAdvisory
    | CloseFollowUp
    | FireTimer
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """An event to append, with who caused it and why (its metadata)."""

    event: Event
    actor: Actor
    reason: str


@dataclass(frozen=True, slots=True)
class Refusal:
    kind: Literal[
        "forbidden", "conflict", "not_found", "precondition_failed", "precondition_required"
    ]
    reason: str


@dataclass(frozen=True, slots=True)
class Decided:
    outcomes: tuple[Outcome, ...] = ()
    refusal: Refusal | None = None

    @property
    def events(self) -> list[Event]:
        return [outcome.event for outcome in self.outcomes]


# ---------------------------------------------------------------- decide ------------------


def decide(state: TicketState, command: Command, *, now: datetime, policy: Policy) -> Decided:
    match command:
        case ReceiveTicket():
            return _receive(state, command.ticket, now=now, policy=policy)
        case RelabelTicket():
            return _relabel(state, command, now=now, policy=policy)
        case TriageTicket():
            return _triage_by_engineer(state, command, now=now, policy=policy)
        case RequestEmergency():
            return _request_emergency(state, command, now=now, policy=policy)
        case SignOff():
            return _sign_off(state, command, now=now, policy=policy)
        case WithdrawAdvisory():
            return _withdraw(state, command, now=now)
        case CloseFollowUp():
            return _close_follow_up(state, command, now=now, policy=policy)
        case FireTimer():
            return _fire(state, command, now=now, policy=policy)


def _receive(state: TicketState, ticket: TicketOpened, *, now: datetime, policy: Policy) -> Decided:
    if state.received is not None:
        return Decided()
    received = TicketReceived(
        ticket_id=ticket.ticket_id,
        title=ticket.title,
        kind=ticket.kind.value,
        source=ticket.source.value,
        labels=tuple(ticket.labels),
        cve_ids=tuple(ticket.cve_ids),
        affected_versions=tuple(ticket.affected_versions),
        affected_lts_lines=tuple(ticket.affected_lts_lines),
        cvss_vectors=tuple(ticket.cvss_vectors),
        alert_severity=ticket.alert_severity,
        severity_guess=ticket.severity_guess,
        opened_at=ticket.opened_at,
        received_at=now,
    )
    proposal = propose(_facts(received, received.labels))
    proposed = _proposed(received, proposal, received.labels, now=now, policy=policy)
    outcomes = [
        Outcome(received, SERVICE, "ticket opened by intake"),
        Outcome(proposed, SERVICE, _proposal_reason(proposal)),
    ]
    if _auto_triages(policy.auto_triage, proposal):
        checklist = _auto_checklist(ticket, proposal, policy)
        if not policy.names_versions(checklist.affected_versions):
            outcomes.append(_versions_requested(proposed, now=now))
            return Decided(tuple(outcomes))
        state = _with(state, received=received, proposal=proposed)  # = fold([received, proposed])
        command = TriageTicket(SERVICE, proposal.severity, checklist)
        outcomes += _triage(state, command, now=now, policy=policy, automatic=True)
    return Decided(tuple(outcomes))


def _versions_requested(proposed: SeverityProposed, *, now: datetime) -> Outcome:
    """No version, no targets: a person names them within the triage SLA (no silent defer)."""
    reason = (
        "no affected version is known: a triage engineer must name the affected versions "
        f"before {proposed.triage_deadline.isoformat()}"
    )
    requested = AffectedVersionsRequested(
        ticket_id=proposed.ticket_id,
        severity=proposed.severity,
        triage_deadline=proposed.triage_deadline,
        reason=reason,
        requested_at=now,
    )
    return Outcome(requested, SERVICE, reason)


def _facts(received: TicketReceived, labels: tuple[str, ...]) -> TicketFacts:
    return TicketFacts(
        kind=received.kind,
        labels=labels,
        cve_ids=received.cve_ids,
        cvss_vectors=received.cvss_vectors,
        alert_severity=received.alert_severity,
        severity_guess=received.severity_guess,
    )


def _proposed(
    received: TicketReceived,
    proposal: Proposal,
    labels: tuple[str, ...],
    *,
    now: datetime,
    policy: Policy,
) -> SeverityProposed:
    return SeverityProposed(
        ticket_id=received.ticket_id,
        severity=proposal.severity,
        rule=proposal.rule,
        evidence=proposal.evidence,
        labels=labels,
        cvss_base_score=proposal.cvss_base_score,
        security=proposal.security,
        public_exploit=proposal.public_exploit,
        triage_deadline=policy.triage_deadline(proposal.severity, opened_at=received.opened_at),
        proposed_at=now,
    )


def _relabel(
    state: TicketState, command: RelabelTicket, *, now: datetime, policy: Policy
) -> Decided:
    """New labels on a ticket not triaged yet: propose again (the labels may change the
    severity and so the triage deadline). After triage, see `_relabel_triaged`."""
    received, current = state.received, state.proposal
    if received is None or current is None or state.closed is not None:
        return Decided()
    if state.triage is not None:
        return _relabel_triaged(state, command, now=now, policy=policy)
    labels = tuple(dict.fromkeys((*current.labels, *command.labels)))
    if labels == current.labels:
        return Decided()
    proposed = _proposed(
        received, propose(_facts(received, labels)), labels, now=now, policy=policy
    )
    return Decided((Outcome(proposed, SERVICE, f"{command.reason}: {', '.join(labels)}"),))


def _proposal_reason(proposal: Proposal) -> str:
    decisive = ", ".join(f"{e.source}={e.value}" for e in proposal.evidence[:3])
    return f"proposed {proposal.severity.value} by the {proposal.rule.value} rule from {decisive}"


def _auto_triages(mode: AutoTriage, proposal: Proposal) -> bool:
    if mode is AutoTriage.ALWAYS:
        return True
    return mode is AutoTriage.EVIDENCE and proposal.machine_evidence


def _auto_checklist(ticket: TicketOpened, proposal: Proposal, policy: Policy) -> TriageChecklist:
    labels = {label.lower() for label in ticket.labels}
    return TriageChecklist(
        reproduced=None,
        affected_versions=(*ticket.affected_versions, *ticket.affected_lts_lines),
        public_exploit=proposal.public_exploit,
        workaround=False,
        api_change=bool(API_CHANGE_LABELS & labels),
        effort=policy.default_effort,
        security=proposal.security,
        change_kind=ChangeKind.FEATURE if ticket.kind.value == "feature" else ChangeKind.BUG_FIX,
        regression="regression" in labels,
    )


def _triage_by_engineer(
    state: TicketState, command: TriageTicket, *, now: datetime, policy: Policy
) -> Decided:
    if state.received is None:
        return Decided(refusal=Refusal("not_found", "triage has not received this ticket"))
    ask = _Ask(state.received.ticket_id, command.actor, command.held_roles, "triage", now=now)
    refused = _refused_request(state, ask, TRIAGE_ROLES, policy)
    if refused is not None:
        return refused
    return Decided(tuple(_triage(state, command, now=now, policy=policy, automatic=False)))


def _triage(
    state: TicketState, command: TriageTicket, *, now: datetime, policy: Policy, automatic: bool
) -> list[Outcome]:
    assert state.received is not None
    assert state.proposal is not None
    received, checklist = state.received, command.checklist
    deadline = state.proposal.triage_deadline
    triaged = TicketTriaged(
        ticket_id=received.ticket_id,
        severity=command.severity,
        proposed_severity=state.proposal.severity,
        triaged_by=command.actor.id,
        automatic=automatic,
        opened_at=received.opened_at,
        triaged_at=now,
        sla_deadline=deadline,
        within_sla=now <= deadline,
        plan_deadline=state.plan_deadline or policy.plan_deadline(triaged_at=now),
        checklist=checklist,
    )
    why = (
        "automatic triage from the severity proposal"
        if automatic
        else (command.comment or "triage checklist answered")
    )
    outcomes = [Outcome(triaged, command.actor, why)]
    state = evolve(state, triaged)
    outcomes += _assess(state, command.actor, now=now, policy=policy, owner=command.owner)
    return outcomes


def _assess(
    state: TicketState, actor: Actor, *, now: datetime, policy: Policy, owner: str | None = None
) -> list[Outcome]:
    """Risk score, decision, owner and plan for the current triage."""
    assert state.triage is not None
    triage, checklist = state.triage, state.triage.checklist
    today = now.astimezone(policy.calendar.zone).date()
    risk = policy.risk(triage.severity, checklist, today=today)
    scored = RiskScored(
        ticket_id=triage.ticket_id,
        score=risk.score,
        level=risk.level,
        exposure=risk.exposure,
        change_risk=risk.change_risk,
        change_risk_level=risk.change_risk_level,
        parts=risk.parts,
        formula=RISK_FORMULA,
        scored_at=now,
    )
    verdict = policy.eligibility(
        checklist, risk, today=today, emergency=state.emergency is not None
    )
    decided = BackportDecided(
        ticket_id=triage.ticket_id,
        decision=verdict.decision,
        reason=verdict.reason,
        rule=verdict.rule,
        targets=tuple(line.branch for line in verdict.targets),
        decided_by=actor.id,
        decided_at=now,
        revisit_at=(
            policy.revisit_at(deferred_at=now) if verdict.decision is Decision.DEFER else None
        ),
    )
    outcomes = [
        Outcome(scored, actor, f"risk {risk.score} ({risk.level.value})"),
        Outcome(decided, actor, verdict.reason),
    ]
    outcomes += _assign(state, actor, owner, now=now, policy=policy)
    if verdict.decision is Decision.BACKPORT:
        plan = _plan(state, checklist, verdict.targets, risk, actor, now=now, policy=policy)
        outcomes.append(Outcome(plan, actor, f"backport plan revision {plan.revision}"))
    return outcomes


def _assign(
    state: TicketState, actor: Actor, owner: str | None, *, now: datetime, policy: Policy
) -> list[Outcome]:
    assert state.triage is not None
    if owner is not None and owner != state.owner:
        chosen, why = owner, f"assigned by {actor.id}"
    elif state.owner is None and (rotated := policy.owner_for(state.triage.ticket_id)):
        chosen, why = rotated, "next in the triage rotation"
    else:
        return []
    event = OwnerAssigned(
        ticket_id=state.triage.ticket_id,
        owner=chosen,
        assigned_by=actor.id,
        reason=why,
        assigned_at=now,
    )
    return [Outcome(event, actor, why)]


def _plan(
    state: TicketState,
    checklist: TriageChecklist,
    targets: tuple[LtsLine, ...],
    risk: Risk,
    actor: Actor,
    *,
    now: datetime,
    policy: Policy,
) -> BackportPlanned:
    assert state.triage is not None
    assert state.plan_deadline is not None
    triage, emergency = state.triage, state.emergency is not None
    security = checklist.security or state.security_added
    if security != checklist.security:  # a copy only when it differs (each costs a model copy)
        checklist = checklist.model_copy(update={"security": security})
    return BackportPlanned(
        ticket_id=triage.ticket_id,
        revision=state.plan_revisions + 1,
        target_branches=tuple(line.branch for line in targets),
        patch_branches=tuple(line.patch_branch(triage.ticket_id) for line in targets),
        tests_required=policy.tests_required(checklist, triage.severity),
        rollout_strategy=policy.rollout(risk, triage.severity, emergency=emergency),
        required_approvers=required_approvers(
            security=security,
            severity=triage.severity,
            regression=checklist.regression,
            emergency=emergency,
        ),
        effort=checklist.effort,
        security_review_required=security,
        milestone=policy.milestone(state.plan_deadline),
        emergency=emergency,
        plan_deadline=state.plan_deadline,
        planned_by=actor.id,
        planned_at=now,
    )


def _relabel_triaged(
    state: TicketState, command: RelabelTicket, *, now: datetime, policy: Policy
) -> Decided:
    """A security label added after triage, while the plan waits for its sign-offs: the plan
    is revised to require the security reviewer (and the security tests). Other labels, or a
    plan already approved, change nothing here."""
    plan, triage = state.plan, state.triage
    security = tuple(label for label in command.labels if label.lower() in SECURITY_LABELS)
    if not security or plan is None or triage is None or plan.security_review_required:
        return Decided()
    if state.approved is not None or state.closed is not None:
        return Decided()
    why = f"{command.reason}: {', '.join(security)} after triage needs a security sign-off"
    added = SecurityReviewAdded(ticket_id=plan.ticket_id, labels=security, reason=why, added_at=now)
    required = required_approvers(
        security=True,
        severity=triage.severity,
        regression=triage.checklist.regression,
        emergency=plan.emergency,
    )
    revised = plan.model_copy(
        update={
            "revision": plan.revision + 1,
            "required_approvers": required,
            "security_review_required": True,
            "tests_required": policy.tests_required(
                triage.checklist.model_copy(update={"security": True}), triage.severity
            ),
            "planned_by": SERVICE.id,
            "planned_at": now,
        }
    )
    return Decided(
        (
            Outcome(added, SERVICE, why),
            Outcome(revised, SERVICE, f"backport plan revision {revised.revision}: {why}"),
        )
    )


# ---------------------------------------------------------------- refusals ----------------


@dataclass(frozen=True, slots=True)
class _Ask:
    """Who asks for what on which ticket, for the refusal record."""

    ticket_id: int
    actor: Actor
    held: frozenset[Role] | None
    action: RefusedAction
    now: datetime
    role: Role | None = None
    revision: int | None = None

    @property
    def held_roles(self) -> frozenset[Role]:
        return self.held if self.held is not None else frozenset({self.actor.role})


def caller(actor_id: str, held: Iterable[Role], preferred: Sequence[Role]) -> Actor:
    """The actor a caller acts as: the first preferred role they hold, else one they hold."""
    roles = set(held)
    role = next((r for r in preferred if r in roles), None) or min(roles, default=Role.REQUESTER)
    return Actor(id=actor_id, role=role)


Guarded = TriageTicket | RequestEmergency | CloseFollowUp
GUARDED = (TriageTicket, RequestEmergency, CloseFollowUp)
"""The requests whose `If-Match` names the ticket's version (a sign-off names the plan's)."""


def refuse_stale(
    state: TicketState, command: Guarded, current_etag: str, *, now: datetime
) -> Decided:
    """A request whose `If-Match` names another version of the ticket than `current_etag`."""
    if state.received is None:
        return Decided(refusal=Refusal("not_found", "triage has not received this ticket"))
    ticket_id = state.received.ticket_id
    match command:
        case TriageTicket() | RequestEmergency():
            action: RefusedAction = "triage" if isinstance(command, TriageTicket) else "emergency"
            ask = _Ask(ticket_id, command.actor, command.held_roles, action, now=now)
        case CloseFollowUp():
            closers = FOLLOW_UP_CLOSERS[command.follow_up]
            actor = caller(command.actor_id, command.actor_roles, closers)
            ask = _Ask(ticket_id, actor, command.actor_roles, "close_follow_up", now=now)
    why = f"the ticket changed since it was read: it is now {current_etag}; read it again"
    return _refuse(ask, RefusalKind.PRECONDITION_FAILED, why)


def _refuse(ask: _Ask, kind: RefusalKind, reason: str) -> Decided:
    """A refusal, recorded (`RequestRefused`: who, what, why) and answered."""
    refused = RequestRefused(
        ticket_id=ask.ticket_id,
        actor=ask.actor.id,
        held_roles=tuple(sorted(ask.held_roles)),
        action=ask.action,
        role=ask.role,
        revision=ask.revision,
        refusal=kind,
        reason=reason,
        refused_at=ask.now,
    )
    held = ask.held_roles
    role = ask.role if ask.role in held else ask.actor.role if ask.actor.role in held else None
    actor = caller(ask.actor.id, held, (role,) if role else ())
    return Decided((Outcome(refused, actor, reason),), Refusal(kind.value, reason))


def _refused_request(
    state: TicketState, ask: _Ask, allowed: Sequence[Role], policy: Policy
) -> Decided | None:
    """The refusals shared by triage and the emergency request: role, closed, approved."""
    verb = "triage" if ask.action == "triage" else "request the emergency fast-track"
    forbidden = policy.request_refusal(
        verb, actor_id=ask.actor.id, held=ask.held_roles, allowed=allowed
    )
    if forbidden is not None:
        return _refuse(ask, RefusalKind.FORBIDDEN, forbidden)
    if state.closed is not None:
        return _refuse(ask, RefusalKind.CONFLICT, f"the ticket is closed: {state.closed.reason}")
    if state.approved is not None:
        return _refuse(ask, RefusalKind.CONFLICT, "the plan is already approved")
    return None


# ---------------------------------------------------------------- emergency, sign-off -----


def _request_emergency(
    state: TicketState, command: RequestEmergency, *, now: datetime, policy: Policy
) -> Decided:
    if state.received is None:
        return Decided(refusal=Refusal("not_found", "triage has not received this ticket"))
    ask = _Ask(state.received.ticket_id, command.actor, command.held_roles, "emergency", now=now)
    refused = _refused_request(state, ask, EMERGENCY_REQUESTERS, policy)
    if refused is not None:
        return refused
    if state.triage is None:
        return _refuse(ask, RefusalKind.CONFLICT, "the ticket is not triaged yet")
    if state.emergency is not None:
        return Decided()
    requested = EmergencyFastTrackRequested(
        ticket_id=state.triage.ticket_id,
        requested_by=command.actor.id,
        reason=command.reason,
        requested_at=now,
    )
    outcomes = [Outcome(requested, command.actor, command.reason)]
    state = evolve(state, requested)
    outcomes += _assess(state, command.actor, now=now, policy=policy)
    return Decided(tuple(outcomes))


def _sign_off(state: TicketState, command: SignOff, *, now: datetime, policy: Policy) -> Decided:
    """Refusals first (recorded for the audit, even on an approved plan); then a sign-off of a
    role already signed, or on an approved plan, changes nothing."""
    if state.received is None:
        return Decided(refusal=Refusal("not_found", "triage has not received this ticket"))
    actor = caller(command.actor_id, command.actor_roles, (command.role,))
    ask = _Ask(
        state.received.ticket_id,
        actor,
        command.actor_roles,
        "sign_off",
        now=now,
        role=command.role,
        revision=command.revision,
    )
    refused = _sign_off_refused(state, command, ask, policy)
    if refused is not None:
        return refused
    plan = state.plan
    assert plan is not None
    if state.approved is not None or command.role in {a.role for a in state.approvals}:
        return Decided()  # a duplicate sign-off changes nothing
    recorded = ApprovalRecorded(
        ticket_id=plan.ticket_id,
        revision=plan.revision,
        approver=command.actor_id,
        role=command.role,
        comment=command.comment,
        approved_at=now,
    )
    outcomes = [Outcome(recorded, actor, command.comment or f"{command.role.value} sign-off")]
    state = evolve(state, recorded)
    if not state.missing:
        outcomes += _approve(state, now=now, policy=policy)
    return Decided(tuple(outcomes))


def _sign_off_refused(
    state: TicketState, command: SignOff, ask: _Ask, policy: Policy
) -> Decided | None:
    plan = state.plan
    if state.closed is not None:
        return _refuse(ask, RefusalKind.CONFLICT, f"the ticket is closed: {state.closed.reason}")
    if plan is None:
        return _refuse(ask, RefusalKind.CONFLICT, "there is no backport plan to approve")
    forbidden = policy.sign_off_refusal(
        role=command.role,
        actor_id=command.actor_id,
        actor_roles=command.actor_roles,
        required=plan.required_approvers,
        signed_by_actor=[a.role for a in state.approvals if a.approver == command.actor_id],
    )
    if forbidden is not None:
        return _refuse(ask, RefusalKind.FORBIDDEN, forbidden)
    if command.revision is None:
        return _refuse(
            ask,
            RefusalKind.PRECONDITION_REQUIRED,
            f'name the plan revision you approve (If-Match: "{plan.revision}")',
        )
    if command.revision != plan.revision:
        return _refuse(
            ask,
            RefusalKind.PRECONDITION_FAILED,
            f"revision {command.revision} is not the current plan (revision {plan.revision})",
        )
    return None


def _approve(state: TicketState, *, now: datetime, policy: Policy) -> list[Outcome]:
    plan = state.plan
    assert plan is not None
    assert state.plan_deadline is not None
    outcomes: list[Outcome] = []
    if plan.emergency:
        fast = EmergencyFastTrackApproved(
            ticket_id=plan.ticket_id,
            revision=plan.revision,
            approved_by=tuple(a.approver for a in state.approvals),
            approved_at=now,
        )
        outcomes.append(
            Outcome(
                fast,
                SERVICE,
                "emergency approvers signed: post-facto audit and postmortem required",
            )
        )
        outcomes += _open_follow_ups(plan, now=now, policy=policy)
    approved = PlanApproved(
        ticket_id=plan.ticket_id,
        revision=plan.revision,
        approvals=state.approvals,
        target_branches=plan.target_branches,
        emergency=plan.emergency,
        within_sla=now <= state.plan_deadline,
        approved_at=now,
    )
    outcomes.append(Outcome(approved, SERVICE, "every required role signed off"))
    return outcomes


# ---------------------------------------------------------------- closing, follow-ups -----


def _withdraw(state: TicketState, command: WithdrawAdvisory, *, now: datetime) -> Decided:
    """A withdrawn advisory closes the ticket: plans, sign-offs and breaches stop."""
    if state.received is None or state.closed is not None:
        return Decided()
    reason = f"{command.reason}: {command.advisory_id}"
    closed = TicketClosed(
        ticket_id=state.received.ticket_id,
        cause="advisory_withdrawn",
        reason=reason,
        advisory_id=command.advisory_id,
        closed_at=now,
    )
    return Decided((Outcome(closed, SERVICE, reason),))


def _open_follow_ups(plan: BackportPlanned, *, now: datetime, policy: Policy) -> list[Outcome]:
    """The fast-track's debts (runbook: post-facto audit, mandatory postmortem), as work items."""
    return [
        Outcome(
            FollowUpOpened(
                ticket_id=plan.ticket_id,
                follow_up=item,
                revision=plan.revision,
                closer_roles=FOLLOW_UP_CLOSERS[item],
                due_at=policy.follow_up_due(item, opened_at=now),
                opened_at=now,
            ),
            SERVICE,
            f"emergency fast-track approved: {item.value} required",
        )
        for item in FollowUp
    ]


def _close_follow_up(
    state: TicketState, command: CloseFollowUp, *, now: datetime, policy: Policy
) -> Decided:
    if state.received is None:
        return Decided(refusal=Refusal("not_found", "triage has not received this ticket"))
    actor = caller(command.actor_id, command.actor_roles, FOLLOW_UP_CLOSERS[command.follow_up])
    ask = _Ask(state.received.ticket_id, actor, command.actor_roles, "close_follow_up", now=now)
    opened = next((f for f in state.follow_ups if f.follow_up is command.follow_up), None)
    if opened is None:
        reason = f"no {command.follow_up.value} is open on this ticket"
        return _refuse(ask, RefusalKind.CONFLICT, reason)
    approvers = state.approved.approvals if state.approved else ()
    forbidden = policy.follow_up_refusal(
        command.follow_up,
        actor_id=command.actor_id,
        held=command.actor_roles,
        closer_roles=opened.closer_roles,
        approvers={a.approver for a in approvers},
    )
    if forbidden is not None:
        return _refuse(ask, RefusalKind.FORBIDDEN, forbidden)
    if command.follow_up in state.follow_ups_closed:
        return Decided()
    closed = FollowUpClosed(
        ticket_id=opened.ticket_id,
        follow_up=command.follow_up,
        closed_by=command.actor_id,
        summary=command.summary,
        link=command.link,
        within_deadline=now <= opened.due_at,
        closed_at=now,
    )
    return Decided((Outcome(closed, actor, command.summary),))


# ---------------------------------------------------------------- timers ------------------


def _fire(state: TicketState, command: FireTimer, *, now: datetime, policy: Policy) -> Decided:
    if state.ticket_id is None:
        return Decided()
    events: list[Event] = []
    match command.kind:
        case "triage_sla":
            events = _triage_breach(state, command, now=now, policy=policy)
        case "plan_sla":
            events = _plan_breach(state, now=now, policy=policy)
        case "approval_reminder":
            events = _reminder(state, command, now=now)
        case "breach_escalation":
            events = _escalation(state, command, now=now, policy=policy)
        case "revisit":
            events = _revisit(state, command, now=now)
        case "follow_up_due":
            events = _follow_up_overdue(state, command, now=now)
    why = f"{command.kind} timer due at {command.due_at.isoformat()}"
    return Decided(tuple(Outcome(event, SERVICE, why) for event in events))


def _triage_breach(
    state: TicketState, command: FireTimer, *, now: datetime, policy: Policy
) -> list[Event]:
    proposal = state.proposal
    if proposal is None or state.triage is not None or state.triage_breached:
        return []
    if state.closed is not None or command.due_at < proposal.triage_deadline:
        return []  # closed, or a timer of an earlier proposal (the current one has its own)
    rotation = policy.owner_for(proposal.ticket_id)
    notice = _notice(
        proposal.ticket_id,
        "triage_sla",
        0,
        BREACH_NOTICE_ROLES["triage_sla"],
        severity=proposal.severity,
        deadline=proposal.triage_deadline,
        recipients=(rotation,) if rotation else (),
        now=now,
        policy=policy,
    )
    breach = TriageSlaBreached(
        ticket_id=proposal.ticket_id,
        severity=proposal.severity,
        deadline=proposal.triage_deadline,
        detected_at=now,
    )
    return [breach, notice]


def _plan_breach(state: TicketState, *, now: datetime, policy: Policy) -> list[Event]:
    """Any plan not approved by the plan deadline breaches, whichever revision's timer fires:
    each plan revision schedules its own timer (a re-plan after the deadline breaches too)."""
    plan, deadline = state.plan, state.plan_deadline
    if plan is None or deadline is None or state.plan_breached or state.closed is not None:
        return []
    if state.approved is not None:
        return []
    breach = PlanSlaBreached(
        ticket_id=plan.ticket_id,
        revision=plan.revision,
        deadline=deadline,
        missing_approvals=state.missing,
        detected_at=now,
    )
    notice = _notice(
        plan.ticket_id,
        "plan_sla",
        0,
        state.missing,
        severity=state.triage.severity if state.triage else None,
        deadline=deadline,
        recipients=(state.owner,) if state.owner else (),
        missing=state.missing,
        now=now,
        policy=policy,
    )
    return [breach, notice]


def _notice(
    ticket_id: int,
    breach: BreachKind,
    level: int,
    roles: Sequence[Role],
    *,
    severity: Severity | None,
    deadline: datetime,
    now: datetime,
    policy: Policy,
    recipients: tuple[str, ...] = (),
    missing: tuple[Role, ...] = (),
) -> BreachNotificationRequested:
    what = "triage" if breach == "triage_sla" else "plan approval"
    message = f"ticket {ticket_id}: {what} was due {deadline.isoformat()}" + (
        f" (escalation {level})" if level else ""
    )
    return BreachNotificationRequested(
        ticket_id=ticket_id,
        breach=breach,
        level=level,
        roles=tuple(roles),
        recipients=recipients,
        channel_hint=policy.notice_channel(severity),
        severity=severity,
        deadline=deadline,
        missing_approvals=missing,
        message=message,
        requested_at=now,
    )


def _escalation(
    state: TicketState, command: FireTimer, *, now: datetime, policy: Policy
) -> list[Event]:
    """A breach still unanswered (ticket untriaged / plan unapproved) goes to the next role."""
    breach, level = command.breach, command.level
    roles = policy.escalation_roles(level)
    if breach is None or roles is None or state.closed is not None:
        return []
    if (breach, level) in state.escalated:
        return []
    deadline: datetime | None
    if breach == "triage_sla":
        proposal = state.proposal
        answered = state.triage is not None
        deadline, severity = (
            (proposal.triage_deadline, proposal.severity) if proposal else (None, None)
        )
    else:
        answered, deadline = state.plan is None or state.approved is not None, state.plan_deadline
        severity = state.triage.severity if state.triage else None
    if answered or deadline is None or state.ticket_id is None:
        return []
    escalated = BreachEscalated(
        ticket_id=state.ticket_id,
        breach=breach,
        level=level,
        to_roles=roles,
        deadline=deadline,
        escalated_at=now,
    )
    missing = state.missing if breach == "plan_sla" else ()
    notice = _notice(
        state.ticket_id,
        breach,
        level,
        roles,
        severity=severity,
        deadline=deadline,
        missing=missing,
        now=now,
        policy=policy,
    )
    return [escalated, notice]


def _reminder(state: TicketState, command: FireTimer, *, now: datetime) -> list[Event]:
    plan = state.plan
    if plan is None or state.approved is not None or plan.revision != command.revision:
        return []
    if plan.revision in state.reminded_revisions or not state.missing or state.closed:
        return []
    reminder = ApprovalReminderDue(
        ticket_id=plan.ticket_id,
        revision=plan.revision,
        deadline=plan.plan_deadline,
        missing_approvals=state.missing,
        reminded_at=now,
    )
    return [reminder]


def _revisit(state: TicketState, command: FireTimer, *, now: datetime) -> list[Event]:
    """Only the deferral that scheduled it, still standing and not revisited yet."""
    decision = state.decision
    if decision is None or decision.decision is not Decision.DEFER or state.closed is not None:
        return []
    if decision.decided_at != command.decided_at or state.revisited == decision.decided_at:
        return []
    due = RevisitDue(
        ticket_id=decision.ticket_id,
        deferred_at=decision.decided_at,
        revisit_at=decision.revisit_at or command.due_at,
        reason=decision.reason,
        due_at=now,
    )
    return [due]


def _follow_up_overdue(state: TicketState, command: FireTimer, *, now: datetime) -> list[Event]:
    item = command.follow_up
    opened = next((f for f in state.follow_ups if f.follow_up is item), None)
    if item is None or opened is None:
        return []
    if item in state.follow_ups_closed or item in state.follow_ups_overdue:
        return []
    overdue = FollowUpOverdue(
        ticket_id=opened.ticket_id, follow_up=item, due_at=opened.due_at, detected_at=now
    )
    return [overdue]

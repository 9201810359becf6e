"""The ticket as triage sees it: state, `evolve` (fold one event) and `decide` (command ->
events). Pure: time comes in as `now`, the policy as an argument."""

from __future__ import annotations

from collections.abc import Iterable
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
    ApprovalRefused,
    ApprovalReminderDue,
    BackportDecided,
    BackportPlanned,
    ChangeKind,
    Decision,
    EmergencyFastTrackApproved,
    EmergencyFastTrackRequested,
    OwnerAssigned,
    PlanApproved,
    PlanSlaBreached,
    RiskScored,
    SeverityProposed,
    TicketReceived,
    TicketTriaged,
    TriageSlaBreached,
)
from lts_events.event import Event
from lts_events.support import LtsLine

from lts_triage.policy import (
    RISK_FORMULA,
    AutoTriage,
    Checklist,
    Policy,
    Risk,
    missing_approvals,
    required_approvers,
)
from lts_triage.severity import Proposal, TicketFacts, propose

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
        case ApprovalRecorded():
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
    actor: Actor
    severity: Severity
    checklist: Checklist
    owner: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class RequestEmergency:
    actor: Actor
    reason: str


@dataclass(frozen=True, slots=True)
class SignOff:
    actor_id: str
    actor_roles: frozenset[Role]
    role: Role
    comment: str = ""


TimerKind = Literal["triage_sla", "plan_sla", "approval_reminder"]


@dataclass(frozen=True, slots=True)
class FireTimer:
    kind: TimerKind
    due_at: datetime
    revision: int | None = None


Command = ReceiveTicket | RelabelTicket | TriageTicket | RequestEmergency | SignOff | FireTimer


@dataclass(frozen=True, slots=True)
class Outcome:
    """An event to append, with who caused it and why (its metadata)."""

    event: Event
    actor: Actor
    reason: str


@dataclass(frozen=True, slots=True)
class Refusal:
    kind: Literal["forbidden", "conflict", "not_found"]
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
        case FireTimer():
            return _fire(state, command, now=now)


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
    severity and so the triage deadline). After triage, labels change nothing here."""
    received, current = state.received, state.proposal
    if received is None or current is None or state.triage is not None:
        return Decided()
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


def _auto_checklist(ticket: TicketOpened, proposal: Proposal, policy: Policy) -> Checklist:
    labels = {label.lower() for label in ticket.labels}
    return Checklist(
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
    if state.approved is not None:
        return Decided(refusal=Refusal("conflict", "the plan is already approved"))
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
        reproduced=checklist.reproduced,
        affected_versions=checklist.affected_versions,
        public_exploit=checklist.public_exploit,
        workaround=checklist.workaround,
        api_change=checklist.api_change,
        effort=checklist.effort,
        security=checklist.security,
        change_kind=checklist.change_kind,
        regression=checklist.regression,
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
    triage, checklist = state.triage, _checklist_of(state.triage)
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


def _checklist_of(triage: TicketTriaged) -> Checklist:
    return Checklist(
        reproduced=triage.reproduced,
        affected_versions=triage.affected_versions,
        public_exploit=triage.public_exploit,
        workaround=triage.workaround,
        api_change=triage.api_change,
        effort=triage.effort,
        security=triage.security,
        change_kind=triage.change_kind,
        regression=triage.regression,
    )


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
    checklist: Checklist,
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
    return BackportPlanned(
        ticket_id=triage.ticket_id,
        revision=state.plan_revisions + 1,
        target_branches=tuple(line.branch for line in targets),
        patch_branches=tuple(line.patch_branch(triage.ticket_id) for line in targets),
        tests_required=policy.tests_required(checklist, triage.severity),
        rollout_strategy=policy.rollout(risk, triage.severity, emergency=emergency),
        required_approvers=required_approvers(
            security=triage.security,
            severity=triage.severity,
            regression=triage.regression,
            emergency=emergency,
        ),
        effort=triage.effort,
        security_review_required=triage.security,
        milestone=policy.milestone(state.plan_deadline),
        emergency=emergency,
        plan_deadline=state.plan_deadline,
        planned_by=actor.id,
        planned_at=now,
    )


def _request_emergency(
    state: TicketState, command: RequestEmergency, *, now: datetime, policy: Policy
) -> Decided:
    if state.triage is None:
        return Decided(refusal=Refusal("conflict", "the ticket is not triaged yet"))
    if state.approved is not None:
        return Decided(refusal=Refusal("conflict", "the plan is already approved"))
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
    plan = state.plan
    if plan is None:
        return Decided(refusal=Refusal("conflict", "there is no backport plan to approve"))
    refusal = policy.sign_off_refusal(
        role=command.role,
        actor_id=command.actor_id,
        actor_roles=command.actor_roles,
        required=plan.required_approvers,
    )
    if refusal is not None:
        return _refuse(plan, command, refusal, now=now)
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
    actor = Actor(id=command.actor_id, role=command.role)
    outcomes = [Outcome(recorded, actor, command.comment or f"{command.role.value} sign-off")]
    state = evolve(state, recorded)
    if not state.missing:
        outcomes += _approve(state, now=now)
    return Decided(tuple(outcomes))


def _refuse(plan: BackportPlanned, command: SignOff, refusal: str, *, now: datetime) -> Decided:
    refused = ApprovalRefused(
        ticket_id=plan.ticket_id,
        actor=command.actor_id,
        role=command.role,
        reason=refusal,
        refused_at=now,
    )
    held = sorted(command.actor_roles) or [Role.REQUESTER]
    actor = Actor(id=command.actor_id, role=command.role if command.role in held else held[0])
    return Decided((Outcome(refused, actor, refusal),), Refusal("forbidden", refusal))


def _approve(state: TicketState, *, now: datetime) -> list[Outcome]:
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


def _fire(state: TicketState, command: FireTimer, *, now: datetime) -> Decided:
    ticket_id = state.ticket_id
    if ticket_id is None:
        return Decided()
    event: Event | None = None
    if command.kind == "triage_sla":
        event = _triage_breach(state, command, now=now)
    elif command.kind == "plan_sla":
        event = _plan_breach(state, now=now)
    elif command.kind == "approval_reminder":
        event = _reminder(state, command, now=now)
    if event is None:
        return Decided()
    return Decided(
        (Outcome(event, SERVICE, f"{command.kind} timer due at {command.due_at.isoformat()}"),)
    )


def _triage_breach(state: TicketState, command: FireTimer, *, now: datetime) -> Event | None:
    proposal = state.proposal
    if proposal is None or state.triage is not None or state.triage_breached:
        return None
    if command.due_at < proposal.triage_deadline:
        return None  # a timer of an earlier proposal; the current deadline has its own
    return TriageSlaBreached(
        ticket_id=proposal.ticket_id,
        severity=proposal.severity,
        deadline=proposal.triage_deadline,
        detected_at=now,
    )


def _plan_breach(state: TicketState, *, now: datetime) -> Event | None:
    decision, deadline = state.decision, state.plan_deadline
    if decision is None or deadline is None or state.plan_breached:
        return None
    if decision.decision is not Decision.BACKPORT or state.approved is not None:
        return None
    revision = state.plan.revision if state.plan else None
    return PlanSlaBreached(
        ticket_id=decision.ticket_id,
        revision=revision,
        deadline=deadline,
        missing_approvals=state.missing,
        detected_at=now,
    )


def _reminder(state: TicketState, command: FireTimer, *, now: datetime) -> Event | None:
    plan = state.plan
    if plan is None or state.approved is not None or plan.revision != command.revision:
        return None
    if plan.revision in state.reminded_revisions or not state.missing:
        return None
    return ApprovalReminderDue(
        ticket_id=plan.ticket_id,
        revision=plan.revision,
        deadline=plan.plan_deadline,
        missing_approvals=state.missing,
        reminded_at=now,
    )

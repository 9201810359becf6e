"""Triage decisions on a ticket's history: given events, when a command, then events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from lts_events.actors import Actor, Role
from lts_events.contracts.common import Severity, TicketSource
from lts_events.contracts.intake import TicketKind, TicketOpened
from lts_events.contracts.triage import (
    ApprovalRecorded,
    ApprovalReminderDue,
    BackportDecided,
    BackportPlanned,
    BreachNotificationRequested,
    Decision,
    Effort,
    EmergencyFastTrackApproved,
    EmergencyFastTrackRequested,
    FollowUpOpened,
    OwnerAssigned,
    PlanApproved,
    PlanSlaBreached,
    RefusalKind,
    RequestRefused,
    RiskScored,
    SeverityProposed,
    TicketReceived,
    TicketTriaged,
    TriageChecklist,
    TriageSlaBreached,
)
from lts_events.event import Event
from lts_triage.domain import (
    Command,
    Decided,
    FireTimer,
    ReceiveTicket,
    RelabelTicket,
    RequestEmergency,
    SignOff,
    TicketState,
    TriageTicket,
    decide,
    fold,
)
from lts_triage.policy import AutoTriage, LtsLine, Policy

T0 = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # a Wednesday
POLICY = Policy(
    lines=(
        LtsLine("1.2", date(2026, 6, 30)),
        LtsLine("1.3", date(2027, 6, 30)),
        LtsLine("1.4", date(2028, 12, 31)),
    ),
    maintainers=frozenset({"alice", "dev-release_manager"}),
    owner_rotation=("alice", "bob", "carol"),
)
ENGINEER = Actor(id="tess", role=Role.TRIAGE_ENGINEER)


def opened(ticket_id: int = 123, **overrides: object) -> TicketOpened:
    values: dict[str, object] = {
        "ticket_id": ticket_id,
        "title": "Session fixation in login",
        "source": TicketSource.REPORT,
        "kind": TicketKind.SECURITY,
        "affected_versions": ["1.4.2", "1.3.7"],
        "opened_at": T0,
    }
    values.update(overrides)
    return TicketOpened(**values)  # type: ignore[arg-type]


def security_checklist(**overrides: object) -> TriageChecklist:
    values: dict[str, object] = {
        "reproduced": True,
        "affected_versions": ("1.4.2", "1.3.7"),
        "public_exploit": False,
        "workaround": False,
        "api_change": False,
        "effort": Effort.SMALL,
        "security": True,
    }
    values.update(overrides)
    return TriageChecklist(**values)  # type: ignore[arg-type]


def run(
    commands: list[tuple[Command, datetime]], policy: Policy = POLICY
) -> tuple[TicketState, list[Decided]]:
    state, results = TicketState(), []
    for command, now in commands:
        decided = decide(state, command, now=now, policy=policy)
        state = fold(decided.events, state)
        results.append(decided)
    return state, results


def of_type(events: list[Event], cls: type[Event]) -> list[Event]:
    return [event for event in events if isinstance(event, cls)]


def sign(
    role: Role, actor: str | None = None, roles: set[Role] | None = None, revision: int = 1
) -> SignOff:
    return SignOff(
        actor_id=actor or f"dev-{role.value}",
        actor_roles=frozenset(roles or {role}),
        role=role,
        comment="looks good",
        revision=revision,
    )


def triaged_security_ticket() -> TicketState:
    state, _ = run(
        [
            (ReceiveTicket(opened()), T0),
            (TriageTicket(ENGINEER, Severity.HIGH, security_checklist()), T0 + timedelta(hours=2)),
        ]
    )
    return state


def test_example_minimal_workflow_high_severity_targets_v14_and_v13_with_security_review() -> None:
    state = triaged_security_ticket()

    assert state.triage is not None
    assert state.triage.severity is Severity.HIGH
    assert state.decision is not None
    assert state.decision.decision is Decision.BACKPORT
    assert state.decision.targets == ("release-lts/v1.4", "release-lts/v1.3")
    assert state.plan is not None
    assert state.plan.patch_branches == ("lts/v1.4/issue-123", "lts/v1.3/issue-123")
    assert state.plan.security_review_required
    assert Role.SECURITY_REVIEWER in state.plan.required_approvers


def test_an_opened_report_gets_a_proposal_and_deadline_and_waits_for_the_engineer() -> None:
    decided = decide(TicketState(), ReceiveTicket(opened()), now=T0, policy=POLICY)

    assert [type(e) for e in decided.events] == [TicketReceived, SeverityProposed]
    proposal = decided.events[1]
    assert isinstance(proposal, SeverityProposed)
    assert proposal.severity is Severity.HIGH
    assert proposal.triage_deadline == T0 + timedelta(hours=24)


def test_a_ticket_with_a_cvss_vector_is_triaged_automatically() -> None:
    ticket = opened(cvss_vectors=["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"])

    decided = decide(TicketState(), ReceiveTicket(ticket), now=T0, policy=POLICY)

    assert [type(e) for e in decided.events] == [
        TicketReceived,
        SeverityProposed,
        TicketTriaged,
        RiskScored,
        BackportDecided,
        OwnerAssigned,
        BackportPlanned,
    ]
    triaged = of_type(decided.events, TicketTriaged)[0]
    assert isinstance(triaged, TicketTriaged)
    assert triaged.automatic
    assert triaged.severity is Severity.CRITICAL
    assert triaged.sla_deadline == T0 + timedelta(hours=4)
    assert triaged.within_sla
    assert all(o.actor.role is Role.AUTOMATION and o.reason for o in decided.outcomes)


def test_auto_triage_can_be_switched_off_or_forced() -> None:
    ticket = opened(cvss_vectors=["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"])
    never = Policy(lines=POLICY.lines, auto_triage=AutoTriage.NEVER)
    always = Policy(lines=POLICY.lines, auto_triage=AutoTriage.ALWAYS)

    assert not of_type(
        decide(TicketState(), ReceiveTicket(ticket), now=T0, policy=never).events, TicketTriaged
    )
    assert of_type(
        decide(TicketState(), ReceiveTicket(opened()), now=T0, policy=always).events, TicketTriaged
    )


def test_a_redelivered_ticket_changes_nothing() -> None:
    state, _ = run([(ReceiveTicket(opened()), T0)])

    assert decide(state, ReceiveTicket(opened()), now=T0, policy=POLICY).events == []


def test_engineer_triage_records_who_when_and_the_checklist() -> None:
    _, results = run(
        [
            (ReceiveTicket(opened()), T0),
            (
                TriageTicket(
                    ENGINEER, Severity.HIGH, security_checklist(), comment="reproduced on 1.4"
                ),
                T0 + timedelta(hours=2),
            ),
        ]
    )

    outcome = results[1].outcomes[0]
    triaged = outcome.event
    assert isinstance(triaged, TicketTriaged)
    assert (triaged.triaged_by, triaged.automatic, triaged.triaged_at) == (
        "tess",
        False,
        T0 + timedelta(hours=2),
    )
    assert triaged.plan_deadline == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert (outcome.actor, outcome.reason) == (ENGINEER, "reproduced on 1.4")
    answers = triaged.checklist
    assert (answers.reproduced, answers.effort, answers.security) == (True, Effort.SMALL, True)


def test_owner_is_assigned_from_the_rotation_once() -> None:
    state = triaged_security_ticket()

    decided = decide(
        state,
        TriageTicket(ENGINEER, Severity.CRITICAL, security_checklist()),
        now=T0,
        policy=POLICY,
    )

    assert state.owner == "alice"  # 123 % 3 == 0
    assert not of_type(decided.events, OwnerAssigned)


def test_an_api_breaking_change_is_deferred_and_gets_no_plan() -> None:
    state, _ = run(
        [
            (ReceiveTicket(opened(kind=TicketKind.BUG)), T0),
            (
                TriageTicket(
                    ENGINEER, Severity.HIGH, security_checklist(security=False, api_change=True)
                ),
                T0,
            ),
        ]
    )

    assert state.decision is not None
    assert state.decision.decision is Decision.DEFER
    assert "API-breaking" in state.decision.reason
    assert state.plan is None


def test_an_emergency_turns_a_deferred_api_break_into_an_emergency_plan() -> None:
    state, results = run(
        [
            (ReceiveTicket(opened(kind=TicketKind.BUG)), T0),
            (
                TriageTicket(
                    ENGINEER, Severity.CRITICAL, security_checklist(security=False, api_change=True)
                ),
                T0,
            ),
            (RequestEmergency(Actor(id="erin", role=Role.ENGINEERING_LEAD), "prod is down"), T0),
        ]
    )

    requested = results[2].events[0]
    assert isinstance(requested, EmergencyFastTrackRequested)
    assert requested.post_facto_audit_required
    assert requested.postmortem_required
    assert state.plan is not None
    assert state.plan.emergency
    assert set(state.plan.required_approvers) == {Role.ENGINEERING_LEAD, Role.RELEASE_MANAGER}


def test_emergency_plan_needs_engineering_lead_and_release_manager_then_audit() -> None:
    state, results = run(
        [
            (ReceiveTicket(opened(kind=TicketKind.BUG)), T0),
            (
                TriageTicket(
                    ENGINEER, Severity.CRITICAL, security_checklist(security=False, api_change=True)
                ),
                T0,
            ),
            (RequestEmergency(Actor(id="erin", role=Role.ENGINEERING_LEAD), "prod is down"), T0),
            (sign(Role.ENGINEERING_LEAD), T0),
            (sign(Role.RELEASE_MANAGER), T0),
        ]
    )

    assert [type(e) for e in results[-1].events] == [
        ApprovalRecorded,
        EmergencyFastTrackApproved,
        FollowUpOpened,
        FollowUpOpened,
        PlanApproved,
    ]
    assert state.approved is not None
    assert state.approved.emergency


def test_plan_is_approved_once_every_required_role_signed() -> None:
    state = triaged_security_ticket()
    roles = [Role.CODE_REVIEWER, Role.QA, Role.RELEASE_MANAGER, Role.SECURITY_REVIEWER]

    for role in roles:
        actor = "alice" if role is Role.CODE_REVIEWER else None
        state = fold(decide(state, sign(role, actor), now=T0, policy=POLICY).events, state)

    assert state.approved is not None
    assert {a.role for a in state.approved.approvals} == set(roles)
    assert state.approved.within_sla
    assert state.missing == ()


def test_a_sign_off_before_any_plan_is_a_conflict() -> None:
    state, _ = run([(ReceiveTicket(opened()), T0)])

    decided = decide(state, sign(Role.QA), now=T0, policy=POLICY)

    assert decided.refusal is not None
    assert decided.refusal.kind == "conflict"
    refused = decided.events[0]
    assert isinstance(refused, RequestRefused)
    assert (refused.action, refused.refusal) == ("sign_off", RefusalKind.CONFLICT)


def test_a_sign_off_without_the_role_is_refused_and_recorded() -> None:
    state = triaged_security_ticket()

    decided = decide(state, sign(Role.QA, "mallory", {Role.MAINTAINER}), now=T0, policy=POLICY)

    assert decided.refusal is not None
    assert decided.refusal.kind == "forbidden"
    refused = decided.events[0]
    assert isinstance(refused, RequestRefused)
    assert (refused.actor, refused.role, refused.held_roles) == (
        "mallory",
        Role.QA,
        (Role.MAINTAINER,),
    )
    assert "does not hold the role qa" in refused.reason


def test_only_configured_maintainers_may_sign_off_as_code_reviewer() -> None:
    state = triaged_security_ticket()

    decided = decide(state, sign(Role.CODE_REVIEWER, "bob"), now=T0, policy=POLICY)

    assert decided.refusal is not None
    assert "only configured maintainers" in decided.refusal.reason


def test_a_duplicate_sign_off_changes_nothing() -> None:
    state = triaged_security_ticket()
    state = fold(decide(state, sign(Role.QA), now=T0, policy=POLICY).events, state)

    again = decide(state, sign(Role.QA), now=T0, policy=POLICY)
    other_qa = decide(state, sign(Role.QA, "quinn"), now=T0, policy=POLICY)

    assert again == Decided()
    assert other_qa == Decided()


def test_retriage_makes_a_new_plan_revision_and_resets_approvals() -> None:
    state = triaged_security_ticket()
    state = fold(decide(state, sign(Role.QA), now=T0, policy=POLICY).events, state)

    decided = decide(
        state,
        TriageTicket(ENGINEER, Severity.CRITICAL, security_checklist()),
        now=T0,
        policy=POLICY,
    )
    state = fold(decided.events, state)

    assert state.plan is not None
    assert state.plan.revision == 2
    assert state.approvals == ()


def test_triage_sla_breach_fires_only_for_an_untriaged_ticket() -> None:
    waiting, _ = run([(ReceiveTicket(opened()), T0)])
    done = triaged_security_ticket()
    due = T0 + timedelta(hours=24)

    breached = decide(waiting, FireTimer("triage_sla", due), now=due, policy=POLICY)
    quiet = decide(done, FireTimer("triage_sla", due), now=due, policy=POLICY)

    assert [type(e) for e in breached.events] == [TriageSlaBreached, BreachNotificationRequested]
    assert quiet.events == []


def test_plan_sla_breach_names_the_missing_approvals() -> None:
    state = triaged_security_ticket()
    state = fold(decide(state, sign(Role.QA), now=T0, policy=POLICY).events, state)
    due = datetime(2026, 11, 23, 12, tzinfo=UTC)

    decided = decide(state, FireTimer("plan_sla", due), now=due, policy=POLICY)

    breach = decided.events[0]
    assert isinstance(breach, PlanSlaBreached)
    assert set(breach.missing_approvals) == {
        Role.CODE_REVIEWER,
        Role.RELEASE_MANAGER,
        Role.SECURITY_REVIEWER,
    }


def test_reminder_is_due_only_for_the_current_plan_revision_with_missing_approvals() -> None:
    state = triaged_security_ticket()
    due = datetime(2026, 11, 22, 12, tzinfo=UTC)

    current = decide(state, FireTimer("approval_reminder", due, revision=1), now=due, policy=POLICY)
    stale = decide(state, FireTimer("approval_reminder", due, revision=7), now=due, policy=POLICY)

    assert [type(e) for e in current.events] == [ApprovalReminderDue]
    assert stale.events == []


def test_a_deferred_ticket_never_breaches_the_plan_sla() -> None:
    state, _ = run(
        [
            (ReceiveTicket(opened(kind=TicketKind.FEATURE)), T0),
            (
                TriageTicket(
                    ENGINEER, Severity.LOW, security_checklist(security=False, effort=Effort.LARGE)
                ),
                T0,
            ),
        ]
    )
    due = T0 + timedelta(days=10)

    assert decide(state, FireTimer("plan_sla", due), now=due, policy=POLICY).events == []


def test_labels_added_before_triage_update_the_proposal_and_its_deadline() -> None:
    state, _ = run([(ReceiveTicket(opened(kind=TicketKind.BUG)), T0)])

    decided = decide(
        state, RelabelTicket(("data-loss",)), now=T0 + timedelta(minutes=5), policy=POLICY
    )

    proposed = decided.events[0]
    assert isinstance(proposed, SeverityProposed)
    assert proposed.severity is Severity.CRITICAL
    assert proposed.triage_deadline == T0 + timedelta(hours=4)
    assert "data-loss" in proposed.labels


def test_labels_after_triage_change_nothing() -> None:
    state = triaged_security_ticket()

    assert decide(state, RelabelTicket(("data-loss",)), now=T0, policy=POLICY).events == []


def test_the_timer_of_a_superseded_earlier_deadline_does_not_breach() -> None:
    state, _ = run(
        [(ReceiveTicket(opened(kind=TicketKind.BUG, severity_guess=Severity.CRITICAL)), T0)]
    )
    assert state.proposal is not None
    old_deadline = state.proposal.triage_deadline
    later = state.proposal.model_copy(
        update={"severity": Severity.MEDIUM, "triage_deadline": T0 + timedelta(days=3)}
    )
    state = fold([later], state)  # a later proposal (e.g. by an engineer's tool) moved it

    fired = decide(state, FireTimer("triage_sla", old_deadline), now=old_deadline, policy=POLICY)

    assert fired.events == []


def test_a_refused_sign_off_is_recorded_under_a_role_the_actor_holds() -> None:
    state = triaged_security_ticket()

    decided = decide(state, sign(Role.QA, "mallory", {Role.MAINTAINER}), now=T0, policy=POLICY)

    assert decided.outcomes[0].actor == Actor(id="mallory", role=Role.MAINTAINER)


def test_a_sign_off_without_the_role_is_refused_even_after_approval() -> None:
    state = triaged_security_ticket()
    for role in (Role.CODE_REVIEWER, Role.QA, Role.RELEASE_MANAGER, Role.SECURITY_REVIEWER):
        actor = "alice" if role is Role.CODE_REVIEWER else None
        state = fold(decide(state, sign(role, actor), now=T0, policy=POLICY).events, state)

    late = decide(state, sign(Role.QA, "mallory", {Role.MAINTAINER}), now=T0, policy=POLICY)
    again = decide(state, sign(Role.QA), now=T0, policy=POLICY)

    assert state.approved is not None
    assert late.refusal is not None
    assert [type(e) for e in late.events] == [RequestRefused]
    assert again == Decided()

"""Issue 12, items 15-17: every refusal is decided and recorded by the domain; a sign-off names
the plan revision it approves; who must be a listed maintainer, and one person one role."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from lts_events.actors import Actor, Role
from lts_events.contracts.common import Severity, TicketSource
from lts_events.contracts.intake import TicketKind, TicketOpened
from lts_events.contracts.triage import (
    ApprovalRecorded,
    Effort,
    RefusalKind,
    RequestRefused,
    TriageChecklist,
)
from lts_triage.domain import (
    Command,
    Decided,
    ReceiveTicket,
    RequestEmergency,
    SignOff,
    TicketState,
    TriageTicket,
    caller,
    decide,
    fold,
)
from lts_triage.policy import EMERGENCY_REQUESTERS, TRIAGE_ROLES, LtsLine, Policy

T0 = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
POLICY = Policy(
    lines=(LtsLine("1.3", date(2027, 6, 30)), LtsLine("1.4", date(2028, 12, 31))),
    maintainers=frozenset({"alice", "rita", "max"}),
)
ENGINEER = Actor(id="tess", role=Role.TRIAGE_ENGINEER)
CHECKLIST = TriageChecklist(
    reproduced=True,
    affected_versions=("1.4.2",),
    public_exploit=False,
    workaround=False,
    api_change=False,
    effort=Effort.SMALL,
    security=False,
)


def received() -> TicketState:
    ticket = TicketOpened(
        ticket_id=4,
        title="Crash on save",
        source=TicketSource.REPORT,
        kind=TicketKind.BUG,
        affected_versions=["1.4.2"],
        opened_at=T0,
    )
    return fold(decide(TicketState(), ReceiveTicket(ticket), now=T0, policy=POLICY).events)


def apply(state: TicketState, command: Command, policy: Policy = POLICY) -> TicketState:
    return fold(decide(state, command, now=T0, policy=policy).events, state)


def planned() -> TicketState:
    return apply(received(), TriageTicket(ENGINEER, Severity.HIGH, CHECKLIST))


def sign(
    actor: str, role: Role, revision: int | None = 1, *, also: frozenset[Role] = frozenset()
) -> SignOff:
    return SignOff(actor, frozenset({role, *also}), role, revision=revision)


def the_refusal(decided: Decided) -> RequestRefused:
    assert decided.refusal is not None
    [refused] = decided.events
    assert isinstance(refused, RequestRefused)
    assert refused.refusal.value == decided.refusal.kind
    assert refused.reason == decided.refusal.reason
    return refused


# ---------------------------------------------------------------- 15: refusals -----------


def test_triage_by_someone_without_the_triage_role_is_refused_and_recorded() -> None:
    qa = caller("quinn", {Role.QA}, TRIAGE_ROLES)

    decided = decide(
        received(),
        TriageTicket(qa, Severity.LOW, CHECKLIST, held_roles=frozenset({Role.QA})),
        now=T0,
        policy=POLICY,
    )

    refused = the_refusal(decided)
    assert (refused.actor, refused.held_roles, refused.action) == ("quinn", (Role.QA,), "triage")
    assert refused.refusal is RefusalKind.FORBIDDEN
    assert decided.outcomes[0].actor == Actor(id="quinn", role=Role.QA)


def test_an_actor_claiming_a_role_its_token_lacks_is_refused() -> None:
    claimed = Actor(id="quinn", role=Role.TRIAGE_ENGINEER)

    decided = decide(
        received(),
        TriageTicket(claimed, Severity.LOW, CHECKLIST, held_roles=frozenset({Role.QA})),
        now=T0,
        policy=POLICY,
    )

    assert the_refusal(decided).refusal is RefusalKind.FORBIDDEN


def test_an_emergency_asked_by_a_role_that_may_not_is_refused_and_recorded() -> None:
    qa = frozenset({Role.QA})

    decided = decide(
        planned(),
        RequestEmergency(caller("quinn", qa, EMERGENCY_REQUESTERS), "please", held_roles=qa),
        now=T0,
        policy=POLICY,
    )

    refused = the_refusal(decided)
    assert refused.action == "emergency"
    assert "requires one of the roles triage_engineer" in refused.reason


def test_conflicts_are_recorded_too() -> None:
    lead = frozenset({Role.ENGINEERING_LEAD})
    emergency = RequestEmergency(caller("erin", lead, EMERGENCY_REQUESTERS), "now", held_roles=lead)

    too_early = decide(received(), emergency, now=T0, policy=POLICY)
    no_plan = decide(received(), sign("rita", Role.QA), now=T0, policy=POLICY)

    assert the_refusal(too_early).refusal is RefusalKind.CONFLICT
    assert the_refusal(no_plan).refusal is RefusalKind.CONFLICT


def test_an_unknown_ticket_is_not_found_and_nothing_is_recorded() -> None:
    decided = decide(TicketState(), sign("rita", Role.QA), now=T0, policy=POLICY)

    assert decided.refusal is not None
    assert decided.refusal.kind == "not_found"
    assert decided.events == []


# ---------------------------------------------------------------- 16: revisions ----------


def test_a_sign_off_must_name_the_plan_revision() -> None:
    decided = decide(planned(), sign("rita", Role.QA, revision=None), now=T0, policy=POLICY)

    assert the_refusal(decided).refusal is RefusalKind.PRECONDITION_REQUIRED


def test_a_sign_off_for_an_earlier_revision_does_not_count_after_a_retriage() -> None:
    state = apply(planned(), sign("rita", Role.QA))
    state = apply(state, TriageTicket(ENGINEER, Severity.CRITICAL, CHECKLIST))  # revision 2

    stale = decide(state, sign("quinn", Role.QA, revision=1), now=T0, policy=POLICY)
    current = decide(state, sign("quinn", Role.QA, revision=2), now=T0, policy=POLICY)

    refused = the_refusal(stale)
    assert (refused.refusal, refused.revision) == (RefusalKind.PRECONDITION_FAILED, 1)
    assert state.approvals == ()
    [recorded] = current.events
    assert isinstance(recorded, ApprovalRecorded)
    assert recorded.revision == 2


def test_an_approval_recorded_for_another_revision_is_not_counted() -> None:
    state = planned()
    stray = ApprovalRecorded(ticket_id=4, revision=9, approver="rita", role=Role.QA, approved_at=T0)

    assert fold([stray], state).approvals == ()


# ---------------------------------------------------------------- 17: maintainers --------


def test_the_release_manager_must_be_a_listed_maintainer_too() -> None:
    decided = decide(planned(), sign("rory", Role.RELEASE_MANAGER), now=T0, policy=POLICY)

    assert "only configured maintainers" in the_refusal(decided).reason


def test_which_roles_need_a_listed_maintainer_is_the_policys() -> None:
    policy = Policy(
        lines=POLICY.lines, maintainers=frozenset(), maintainer_sign_off_roles=frozenset()
    )

    decided = decide(planned(), sign("rory", Role.RELEASE_MANAGER), now=T0, policy=policy)

    assert decided.refusal is None


def test_one_person_may_not_hold_two_required_roles_of_one_plan() -> None:
    both = frozenset({Role.CODE_REVIEWER, Role.RELEASE_MANAGER})
    state = apply(planned(), sign("alice", Role.CODE_REVIEWER, also=both))

    decided = decide(state, sign("alice", Role.RELEASE_MANAGER, also=both), now=T0, policy=POLICY)

    assert "already signed this plan as code_reviewer" in the_refusal(decided).reason


def test_four_eyes_can_be_switched_off() -> None:
    policy = Policy(lines=POLICY.lines, maintainers=POLICY.maintainers, one_role_per_signer=False)
    both = frozenset({Role.CODE_REVIEWER, Role.RELEASE_MANAGER})
    state = apply(planned(), sign("alice", Role.CODE_REVIEWER, also=both), policy)

    decided = decide(state, sign("alice", Role.RELEASE_MANAGER, also=both), now=T0, policy=policy)

    assert decided.refusal is None


def test_a_person_may_sign_again_for_the_next_revision() -> None:
    state = apply(planned(), sign("alice", Role.CODE_REVIEWER))
    state = apply(state, TriageTicket(ENGINEER, Severity.CRITICAL, CHECKLIST), POLICY)

    decided = decide(
        state, sign("alice", Role.CODE_REVIEWER, revision=2), now=T0 + timedelta(1), policy=POLICY
    )

    assert decided.refusal is None

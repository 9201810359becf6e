"""Properties that hold for every input, not just the examples."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from lts_events.actors import Actor, Role
from lts_events.contracts.common import Severity, TicketSource
from lts_events.contracts.intake import TicketKind, TicketOpened
from lts_events.contracts.triage import ChangeKind, Effort, TriageChecklist
from lts_triage.calendar import BusinessCalendar
from lts_triage.domain import ReceiveTicket, SignOff, TicketState, TriageTicket, decide, fold
from lts_triage.policy import (
    MAINTAINER_SIGN_OFF_ROLES,
    TRIAGE_SLA,
    LtsLine,
    Policy,
)

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Lord_Howe"]
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)
calendars = st.builds(
    BusinessCalendar,
    timezone=st.sampled_from(ZONES),
    weekend=st.frozensets(st.integers(0, 6), max_size=3),
    holidays=st.frozensets(st.dates(date(2020, 1, 1), date(2035, 12, 31)), max_size=40),
)


@given(calendar=calendars, start=instants, days=st.integers(1, 10))
def test_a_business_day_deadline_never_falls_on_a_non_business_day(
    calendar: BusinessCalendar, start: datetime, days: int
) -> None:
    deadline = calendar.add_business_days(start, days)

    assert calendar.is_business_day(deadline.astimezone(calendar.zone).date())
    assert deadline > start


@given(calendar=calendars, start=instants, severity=st.sampled_from(list(Severity)))
def test_business_day_triage_slas_end_on_business_days(
    calendar: BusinessCalendar, start: datetime, severity: Severity
) -> None:
    policy = Policy(calendar=calendar)

    deadline = policy.triage_deadline(severity, opened_at=start)

    if TRIAGE_SLA[severity].business_days:
        assert calendar.is_business_day(deadline.astimezone(calendar.zone).date())
    else:
        assert deadline == start + timedelta(hours=TRIAGE_SLA[severity].hours)


POLICY = Policy(
    lines=(LtsLine("1.3", date(2099, 1, 1)), LtsLine("1.4", date(2099, 1, 1))),
    maintainers=frozenset(
        {"alice", *(f"maint-{role.value}" for role in MAINTAINER_SIGN_OFF_ROLES)}
    ),
)
checklists = st.builds(
    TriageChecklist,
    reproduced=st.sampled_from([True, None]),
    affected_versions=st.just(("1.4.1", "1.3.2")),
    public_exploit=st.booleans(),
    workaround=st.booleans(),
    api_change=st.booleans(),
    effort=st.sampled_from(list(Effort)),
    security=st.booleans(),
    change_kind=st.sampled_from(list(ChangeKind)),
    regression=st.booleans(),
)
sign_offs = st.lists(
    st.builds(
        SignOff,
        actor_id=st.sampled_from(["alice", "bob", "carol"]),
        actor_roles=st.frozensets(st.sampled_from(list(Role)), min_size=1, max_size=3),
        role=st.sampled_from(list(Role)),
        revision=st.sampled_from([None, 1, 2]),
    ),
    max_size=25,
)


def _state_with_plan(severity: Severity, checklist: TriageChecklist) -> TicketState:
    now = datetime(2026, 11, 18, tzinfo=UTC)
    ticket = TicketOpened(
        ticket_id=7, title="t", source=TicketSource.REPORT, kind=TicketKind.BUG, opened_at=now
    )
    state = fold(decide(TicketState(), ReceiveTicket(ticket), now=now, policy=POLICY).events)
    engineer = Actor(id="tess", role=Role.TRIAGE_ENGINEER)
    triage = TriageTicket(engineer, severity, checklist)
    return fold(decide(state, triage, now=now, policy=POLICY).events, state)


@settings(max_examples=300)
@given(severity=st.sampled_from(list(Severity)), checklist=checklists, attempts=sign_offs)
def test_a_plan_is_never_approved_with_a_missing_required_role(
    severity: Severity, checklist: TriageChecklist, attempts: list[SignOff]
) -> None:
    state = _state_with_plan(severity, checklist)
    now = datetime(2026, 11, 19, tzinfo=UTC)

    for attempt in attempts:
        state = fold(decide(state, attempt, now=now, policy=POLICY).events, state)

    if state.approved is not None:
        assert state.plan is not None
        signed = {a.role for a in state.approved.approvals}
        assert set(state.plan.required_approvers) <= signed
        for approval in state.approved.approvals:
            attempt_roles = [a for a in attempts if a.actor_id == approval.approver]
            assert any(approval.role in a.actor_roles for a in attempt_roles)
            if approval.role in MAINTAINER_SIGN_OFF_ROLES:
                assert approval.approver in POLICY.maintainers
        approvers = [a.approver for a in state.approved.approvals]
        assert len(approvers) == len(set(approvers))  # four eyes: one role per person


@settings(max_examples=200)
@given(
    severity=st.sampled_from(list(Severity)),
    checklist=checklists,
    noise=sign_offs,
    data=st.data(),
)
def test_a_plan_is_approved_exactly_when_every_required_role_has_signed(
    severity: Severity, checklist: TriageChecklist, noise: list[SignOff], data: st.DataObject
) -> None:
    state = _state_with_plan(severity, checklist)
    assume(state.plan is not None)
    assert state.plan is not None
    required = set(state.plan.required_approvers)
    order = data.draw(st.permutations(sorted(required)))
    valid = [
        SignOff(
            actor_id=f"maint-{role.value}"
            if role in MAINTAINER_SIGN_OFF_ROLES
            else f"user-{role.value}",
            actor_roles=frozenset({role}),
            role=role,
            revision=1,
        )
        for role in order
    ]
    now = datetime(2026, 11, 19, tzinfo=UTC)

    for attempt in [*noise, *valid]:
        state = fold(decide(state, attempt, now=now, policy=POLICY).events, state)
        signed = {approval.role for approval in state.approvals}
        assert (state.approved is not None) == (required <= signed)

    assert state.approved is not None

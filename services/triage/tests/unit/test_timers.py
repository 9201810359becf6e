"""Which timers a decision calls for and what a due timer asks: pure, no store, no clock."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from lts_events.actors import Role
from lts_events.contracts.common import TicketSource
from lts_events.contracts.intake import TicketKind, TicketOpened
from lts_events.contracts.triage import (
    BreachNotificationRequested,
    Decision,
    FollowUp,
    FollowUpOpened,
)
from lts_triage.domain import FireTimer, ReceiveTicket, TicketState, decide, evolve
from lts_triage.policy import LtsLine, Policy
from lts_triage.timers import TimerRequest, command_for, timers_for

T0 = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # a Wednesday
POLICY = Policy(lines=(LtsLine("1.4", date(2028, 12, 31)),))
CVSS = "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N"  # 8.1: high, triaged automatically


def opened(ticket_id: int = 5, **overrides: object) -> TicketOpened:
    values: dict[str, object] = {
        "ticket_id": ticket_id,
        "title": "t",
        "source": TicketSource.OSV,
        "kind": TicketKind.SECURITY,
        "affected_versions": ["1.4.0"],
        "cvss_vectors": [CVSS],
        "opened_at": T0,
    }
    values.update(overrides)
    return TicketOpened(**values)  # type: ignore[arg-type]


def notice(level: int) -> BreachNotificationRequested:
    return BreachNotificationRequested(
        ticket_id=5,
        breach="plan_sla",
        level=level,
        roles=(Role.QA,),
        channel_hint="chat",
        deadline=T0,
        message="plan overdue",
        requested_at=T0,
    )


def test_a_planned_ticket_gets_its_triage_sla_plan_sla_and_reminder_timers() -> None:
    events = decide(TicketState(), ReceiveTicket(opened()), now=T0, policy=POLICY).events

    timers = timers_for(5, events, policy=POLICY)

    plan_deadline = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 3 business days
    assert timers == [
        TimerRequest(
            f"triage-sla:5:{(T0 + timedelta(hours=24)).isoformat()}",
            T0 + timedelta(hours=24),
            "triage_sla",
        ),
        TimerRequest("plan-sla:5:r1", plan_deadline, "plan_sla", {"revision": 1}),
        TimerRequest(
            "approval-reminder:5:1",
            plan_deadline - timedelta(hours=24),
            "approval_reminder",
            {"revision": 1},
        ),
    ]


def test_a_breach_notice_schedules_its_escalation_until_the_chain_ends() -> None:
    timers = timers_for(5, [notice(0), notice(1)], policy=POLICY)  # default chain: one role

    assert timers == [
        TimerRequest(
            "breach-escalation:5:plan_sla:1",
            T0 + POLICY.escalate_after,
            "breach_escalation",
            {"breach": "plan_sla", "level": 1},
        )
    ]


def test_a_deferral_schedules_its_revisit_and_a_backport_nothing() -> None:
    api_change = opened(labels=["api-change"])  # an API change is deferred
    state = TicketState()
    for event in decide(state, ReceiveTicket(api_change), now=T0, policy=POLICY).events:
        state = evolve(state, event)
    assert state.decision is not None
    assert state.decision.decision is Decision.DEFER
    assert state.decision.revisit_at is not None

    timers = timers_for(5, [state.decision], policy=POLICY)

    assert timers == [
        TimerRequest(
            f"revisit:5:{T0.isoformat()}",
            state.decision.revisit_at,
            "revisit",
            {"decided_at": T0.isoformat()},
        )
    ]


def test_every_scheduled_timer_fires_as_the_command_it_was_scheduled_for() -> None:
    follow_up = FollowUpOpened(
        ticket_id=5,
        follow_up=FollowUp.POSTMORTEM,
        revision=1,
        closer_roles=(Role.ENGINEERING_LEAD,),
        due_at=T0 + timedelta(days=14),
        opened_at=T0,
    )
    events = [
        *decide(TicketState(), ReceiveTicket(opened()), now=T0, policy=POLICY).events,
        notice(0),
        follow_up,
    ]

    commands = [
        command_for(t.kind, t.due_at, json.loads(json.dumps(t.payload)))  # stored as JSON
        for t in timers_for(5, events, policy=POLICY)
    ]

    triage_due = T0 + timedelta(hours=24)
    plan_due = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert commands == [
        FireTimer("triage_sla", triage_due),
        FireTimer("plan_sla", plan_due, revision=1),
        FireTimer("approval_reminder", plan_due - timedelta(hours=24), revision=1),
        FireTimer("breach_escalation", T0 + POLICY.escalate_after, breach="plan_sla", level=1),
        FireTimer("follow_up_due", T0 + timedelta(days=14), follow_up=FollowUp.POSTMORTEM),
    ]


def test_a_deferral_fires_as_the_revisit_of_that_deferral() -> None:
    command = command_for("revisit", T0, {"decided_at": "2026-11-18T10:00:00+00:00"})

    assert command == FireTimer("revisit", T0, decided_at=T0)


def test_a_timer_of_another_kind_is_not_triage_s() -> None:
    assert command_for("release_sla", T0, {"revision": 1}) is None
    assert command_for("triage_sla", T0, {}) == FireTimer("triage_sla", T0)


def test_an_event_of_a_subclass_calls_for_the_timers_of_its_class() -> None:
    class Relayed(BreachNotificationRequested):  # e.g. a class a newer schema version adds
        pass

    relayed = Relayed(**notice(0).model_dump())

    timers = timers_for(5, [relayed], policy=POLICY)

    assert timers == timers_for(5, [notice(0)], policy=POLICY)
    assert [t.kind for t in timers] == ["breach_escalation"]

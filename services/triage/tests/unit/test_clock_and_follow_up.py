"""Issue 12, items 10-13 and 18, through the shell over the in-memory store (whose timers, like
PostgreSQL's, keep the first timer of an id and fire each once): plan breaches that cannot be
lost, deferrals that come back, breaches that somebody is told of and that escalate, withdrawn
advisories, security labels after triage, and the emergency fast-track's follow-ups."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from lts_events.actors import Actor, Role
from lts_events.clock import FrozenClock
from lts_events.consumer import Inbound
from lts_events.contracts.common import Severity, TicketSource, ticket_stream
from lts_events.contracts.intake import AdvisoryWithdrawn, TicketKind, TicketOpened
from lts_events.contracts.triage import (
    BackportDecided,
    BackportPlanned,
    BreachEscalated,
    BreachNotificationRequested,
    Decision,
    Effort,
    FollowUp,
    FollowUpClosed,
    FollowUpOpened,
    FollowUpOverdue,
    PlanSlaBreached,
    RequestRefused,
    RevisitDue,
    SecurityReviewAdded,
    TicketClosed,
    TriageChecklist,
)
from lts_events.envelope import Envelope
from lts_events.event import REGISTRY, Event
from lts_events.store.memory import InMemoryEventStore
from lts_triage.domain import (
    CloseFollowUp,
    Command,
    ReceiveTicket,
    RelabelTicket,
    RequestEmergency,
    SignOff,
    TicketState,
    TriageTicket,
    WithdrawAdvisory,
)
from lts_triage.handlers import TriageHandlers
from lts_triage.policy import LtsLine, Policy

T0 = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # a Wednesday
PLAN_DEADLINE = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 3 business days after T0
POLICY = Policy(
    lines=(LtsLine("1.3", date(2027, 6, 30)), LtsLine("1.4", date(2028, 12, 31))),
    maintainers=frozenset({"alice", "rita"}),
    owner_rotation=("alice", "bob"),
)
ENGINEER = Actor(id="tess", role=Role.TRIAGE_ENGINEER)


def bug(ticket_id: int = 9) -> TicketOpened:
    return TicketOpened(
        ticket_id=ticket_id,
        title="Crash when saving",
        source=TicketSource.REPORT,
        kind=TicketKind.BUG,
        affected_versions=["1.4.2"],
        severity_guess=Severity.HIGH,
        opened_at=T0,
    )


def checklist(**overrides: object) -> TriageChecklist:
    values: dict[str, object] = {
        "reproduced": True,
        "affected_versions": ("1.4.2",),
        "public_exploit": False,
        "workaround": False,
        "api_change": False,
        "effort": Effort.SMALL,
        "security": False,
    }
    values.update(overrides)
    return TriageChecklist(**values)  # type: ignore[arg-type]


BACKPORT = TriageTicket(ENGINEER, Severity.HIGH, checklist())
DEFER = TriageTicket(ENGINEER, Severity.HIGH, checklist(api_change=True))  # API break: deferred


class Ticket:
    """One ticket in the shell, with a clock that moves and a timer loop run by hand."""

    def __init__(self, ticket_id: int = 9, policy: Policy = POLICY) -> None:
        self.id = ticket_id
        self.store = InMemoryEventStore()
        self.clock = FrozenClock(T0)
        self.handlers = TriageHandlers(self.store, policy=policy, clock=self.clock)

    async def do(self, command: Command) -> None:
        await self.handlers.execute(self.id, command)

    async def at(self, when: datetime) -> None:
        """Move the clock to `when` and fire every timer due by then, as the loop would."""
        self.clock.set(when)
        for timer in await self.store.due_timers(now=self.clock()):
            await self.handlers.on_timer(timer)

    async def events(self, *types: type[Event]) -> list[Event]:
        history = await self.store.read_stream(ticket_stream(self.id))
        return [r.event for r in history.events if not types or isinstance(r.event, types)]

    async def state(self) -> TicketState:
        return (await self.handlers.load(self.id))[0]


# ---------------------------------------------------------------- 10: plan breach --------


async def test_a_plan_made_after_a_deferral_and_after_the_deadline_still_breaches() -> None:
    ticket = Ticket()
    await ticket.do(ReceiveTicket(bug()))
    await ticket.do(DEFER)
    await ticket.at(PLAN_DEADLINE + timedelta(hours=1))  # the plan timer fires on a deferral

    await ticket.do(BACKPORT)  # re-triaged to backport after the deadline
    await ticket.at(PLAN_DEADLINE + timedelta(hours=2))

    breaches = await ticket.events(PlanSlaBreached)
    assert len(breaches) == 1
    assert isinstance(breaches[0], PlanSlaBreached)
    assert breaches[0].revision == 1


async def test_a_replanned_ticket_breaches_once_however_many_revisions_had_timers() -> None:
    ticket = Ticket()
    await ticket.do(ReceiveTicket(bug()))
    await ticket.do(BACKPORT)
    await ticket.do(TriageTicket(ENGINEER, Severity.CRITICAL, checklist()))

    await ticket.at(PLAN_DEADLINE + timedelta(hours=1))

    assert [b.revision for b in await ticket.events(PlanSlaBreached)] == [2]  # type: ignore[attr-defined]


# ---------------------------------------------------------------- 11: revisit ------------


async def test_a_deferred_ticket_comes_back_on_its_revisit_date() -> None:
    ticket = Ticket()
    await ticket.do(ReceiveTicket(bug()))
    await ticket.do(DEFER)
    decided = (await ticket.events(BackportDecided))[0]
    assert isinstance(decided, BackportDecided)
    assert decided.decision is Decision.DEFER
    assert decided.revisit_at == datetime(2026, 12, 16, 10, 0, tzinfo=UTC)  # 20 business days

    await ticket.at(decided.revisit_at - timedelta(minutes=1))
    assert await ticket.events(RevisitDue) == []
    await ticket.at(decided.revisit_at)

    assert len(await ticket.events(RevisitDue)) == 1


async def test_a_deferral_overturned_before_its_revisit_date_does_not_come_back() -> None:
    ticket = Ticket()
    await ticket.do(ReceiveTicket(bug()))
    await ticket.do(DEFER)
    await ticket.do(BACKPORT)

    await ticket.at(T0 + timedelta(days=60))

    assert await ticket.events(RevisitDue) == []


# ---------------------------------------------------------------- 12: tell and escalate --


async def test_a_triage_breach_asks_for_a_notification_and_escalates_when_unanswered() -> None:
    ticket = Ticket()
    await ticket.do(ReceiveTicket(bug()))  # high: triage due in 24 h
    due = T0 + timedelta(hours=24)

    await ticket.at(due)
    await ticket.at(due + POLICY.escalate_after)

    notices = await ticket.events(BreachNotificationRequested)
    assert [(n.level, n.roles, n.channel_hint) for n in notices] == [  # type: ignore[attr-defined]
        (0, (Role.TRIAGE_ENGINEER,), "chat"),
        (1, (Role.ENGINEERING_LEAD,), "chat"),
    ]
    assert notices[0].recipients == ("bob",)  # type: ignore[attr-defined]  # 9 % 2: the rotation
    escalated = await ticket.events(BreachEscalated)
    assert [(e.breach, e.level, e.to_roles) for e in escalated] == [  # type: ignore[attr-defined]
        ("triage_sla", 1, (Role.ENGINEERING_LEAD,))
    ]


async def test_a_breach_answered_before_its_escalation_does_not_escalate() -> None:
    ticket = Ticket()
    await ticket.do(ReceiveTicket(bug()))
    due = T0 + timedelta(hours=24)
    await ticket.at(due)

    await ticket.do(BACKPORT)
    await ticket.at(due + POLICY.escalate_after + timedelta(days=1))

    assert await ticket.events(BreachEscalated) == []


async def test_a_plan_breach_tells_the_owner_and_the_missing_approvers() -> None:
    ticket = Ticket()
    await ticket.do(ReceiveTicket(bug()))
    await ticket.do(BACKPORT)

    await ticket.at(PLAN_DEADLINE)

    [breach, notice] = await ticket.events(PlanSlaBreached, BreachNotificationRequested)
    assert isinstance(breach, PlanSlaBreached)
    assert isinstance(notice, BreachNotificationRequested)
    assert notice.breach == "plan_sla"
    assert notice.recipients == ("bob",)
    assert notice.roles == (Role.CODE_REVIEWER, Role.QA, Role.RELEASE_MANAGER)
    assert notice.missing_approvals == notice.roles


# ---------------------------------------------------------------- 13: withdrawn, labels --


async def test_a_withdrawn_advisory_closes_the_ticket_and_stops_breaches_and_sign_offs() -> None:
    ticket = Ticket()
    await ticket.do(ReceiveTicket(bug()))
    await ticket.do(BACKPORT)
    withdrawn = AdvisoryWithdrawn(ticket_id=9, advisory_id="GHSA-1234", withdrawn_at=T0)

    await ticket.handlers.on_intake_batch([_inbound(withdrawn)])
    await ticket.at(PLAN_DEADLINE + timedelta(days=30))
    await ticket.do(SignOff("rita", frozenset({Role.QA}), Role.QA, revision=1))

    closed = await ticket.events(TicketClosed)
    assert len(closed) == 1
    assert "GHSA-1234" in closed[0].reason  # type: ignore[attr-defined]
    assert await ticket.events(PlanSlaBreached, BreachNotificationRequested) == []
    refused = (await ticket.events(RequestRefused))[-1]
    assert isinstance(refused, RequestRefused)
    assert "closed" in refused.reason


async def test_a_security_label_after_triage_requires_a_security_sign_off() -> None:
    ticket = Ticket()
    await ticket.do(ReceiveTicket(bug()))
    await ticket.do(BACKPORT)

    await ticket.do(RelabelTicket(("security",), "labelled on the tracker"))

    assert len(await ticket.events(SecurityReviewAdded)) == 1
    state = await ticket.state()
    assert state.plan is not None
    assert state.plan.revision == 2
    assert Role.SECURITY_REVIEWER in state.plan.required_approvers
    assert state.plan.security_review_required
    assert "security_regression" in state.plan.tests_required


async def test_a_security_label_stays_required_when_the_plan_is_revised_again() -> None:
    ticket = Ticket()
    await ticket.do(ReceiveTicket(bug()))
    await ticket.do(BACKPORT)
    await ticket.do(RelabelTicket(("cve",)))

    await ticket.do(RequestEmergency(Actor(id="erin", role=Role.ENGINEERING_LEAD), "prod down"))

    plans = await ticket.events(BackportPlanned)
    assert [p.revision for p in plans] == [1, 2, 3]  # type: ignore[attr-defined]
    assert Role.SECURITY_REVIEWER in plans[-1].required_approvers  # type: ignore[attr-defined]
    assert "security_regression" in plans[-1].tests_required  # type: ignore[attr-defined]


# ---------------------------------------------------------------- 18: follow-ups ---------


async def fast_tracked(ticket: Ticket) -> None:
    await ticket.do(ReceiveTicket(bug()))
    await ticket.do(DEFER)
    await ticket.do(RequestEmergency(Actor(id="erin", role=Role.ENGINEERING_LEAD), "prod down"))
    for actor, role in (("erin", Role.ENGINEERING_LEAD), ("rita", Role.RELEASE_MANAGER)):
        await ticket.do(SignOff(actor, frozenset({role}), role, revision=1))


async def test_the_fast_track_opens_its_audit_and_postmortem_as_work_items() -> None:
    ticket = Ticket()

    await fast_tracked(ticket)

    opened = await ticket.events(FollowUpOpened)
    assert {(f.follow_up, f.due_at) for f in opened} == {  # type: ignore[attr-defined]
        (FollowUp.POST_FACTO_AUDIT, datetime(2026, 11, 25, 10, tzinfo=UTC)),
        (FollowUp.POSTMORTEM, datetime(2026, 12, 2, 10, tzinfo=UTC)),
    }


async def test_a_follow_up_not_closed_by_its_due_date_becomes_overdue_once() -> None:
    ticket = Ticket()
    await fast_tracked(ticket)
    await ticket.do(
        CloseFollowUp("sam", frozenset({Role.SRE}), FollowUp.POSTMORTEM, "root cause: ...")
    )

    await ticket.at(T0 + timedelta(days=30))

    overdue = await ticket.events(FollowUpOverdue)
    assert [o.follow_up for o in overdue] == [FollowUp.POST_FACTO_AUDIT]  # type: ignore[attr-defined]
    closed = await ticket.events(FollowUpClosed)
    assert [(c.follow_up, c.within_deadline) for c in closed] == [  # type: ignore[attr-defined]
        (FollowUp.POSTMORTEM, True)
    ]


async def test_the_audit_is_not_closed_by_one_who_approved_the_fast_track() -> None:
    ticket = Ticket()
    await fast_tracked(ticket)

    await ticket.do(
        CloseFollowUp("erin", frozenset({Role.ENGINEERING_LEAD}), FollowUp.POST_FACTO_AUDIT, "ok")
    )
    await ticket.do(
        CloseFollowUp("sam", frozenset({Role.SRE}), FollowUp.POST_FACTO_AUDIT, "ok then")
    )

    assert await ticket.events(FollowUpClosed) == []
    refusals = await ticket.events(RequestRefused)
    assert [r.reason for r in refusals] == [  # type: ignore[attr-defined]
        "erin approved the fast-track and may not audit it",
        "sam may not close the post_facto_audit: it requires one of the roles "
        "engineering_lead, security_reviewer",
    ]


def _inbound(event: Event) -> Inbound[Event]:
    envelope = Envelope(
        id=f"msg-{event.type}",
        source="lts-flow/intake",
        type=event.type,
        subject=ticket_stream(9),
        data=event.to_data(),
    )
    return Inbound(envelope, event, "triage", "lts.intake.events", 0, 1)


def test_a_decision_stored_before_revisit_dates_reads_without_one() -> None:
    stored = {
        "ticket_id": 1,
        "decision": "defer",
        "reason": "API-breaking",
        "rule": "api_break",
        "decided_by": "tess",
        "decided_at": "2026-11-18T10:00:00Z",
    }

    decided = REGISTRY.decode(BackportDecided.type, 1, stored)

    assert isinstance(decided, BackportDecided)
    assert decided.revisit_at is None


async def test_only_the_latest_deferral_comes_back() -> None:
    ticket = Ticket()
    await ticket.do(ReceiveTicket(bug()))
    await ticket.do(DEFER)
    ticket.clock.set(T0 + timedelta(days=2))
    await ticket.do(TriageTicket(ENGINEER, Severity.MEDIUM, checklist(api_change=True)))
    first, latest = (d.revisit_at for d in await ticket.events(BackportDecided))  # type: ignore[attr-defined]

    await ticket.at(first)
    too_early = await ticket.events(RevisitDue)
    await ticket.at(latest)

    assert too_early == []
    [due] = await ticket.events(RevisitDue)
    assert isinstance(due, RevisitDue)
    assert due.deferred_at == T0 + timedelta(days=2)


async def test_labels_on_a_closed_ticket_change_nothing() -> None:
    ticket = Ticket()
    await ticket.do(ReceiveTicket(bug()))
    await ticket.do(WithdrawAdvisory("GHSA-1234"))
    before = len(await ticket.events())

    await ticket.do(RelabelTicket(("data-loss",)))

    assert len(await ticket.events()) == before

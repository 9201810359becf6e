"""Deferred, rejected and withdrawn tickets owe no SLA: they are never counted overdue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lts_events.contracts import intake, triage
from lts_events.contracts.common import Severity
from lts_metrics.audit import facts_of
from lts_metrics.queries import Filters
from lts_metrics.samples import ENGINEER, TicketStory, envelope
from sqlalchemy import text

from .conftest import Metrics

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def decided(ticket_id: int, decision: triage.Decision, at: datetime) -> triage.BackportDecided:
    return triage.BackportDecided(
        ticket_id=ticket_id,
        decision=decision,
        reason="because",
        rule="rule",
        decided_by=ENGINEER.id,
        decided_at=at,
        revisit_at=at + timedelta(days=28) if decision is triage.Decision.DEFER else None,
    )


async def test_closed_tickets_are_not_overdue_in_sla_compliance(metrics: Metrics) -> None:
    stories = {n: TicketStory(ticket_id=n, opened_at=T0, triaged_after=HOUR) for n in (1, 2, 3)}
    extra = {
        1: decided(1, triage.Decision.DEFER, T0 + HOUR),
        2: decided(2, triage.Decision.REJECT, T0 + HOUR),
        3: decided(3, triage.Decision.BACKPORT, T0 + HOUR),  # owes its plan: overdue
    }
    withdrawn = intake.AdvisoryWithdrawn(ticket_id=4, advisory_id="GHSA-x", withdrawn_at=T0)
    proposed = triage.SeverityProposed(
        ticket_id=4,
        severity=Severity.CRITICAL,
        rule=triage.SeverityRule.REPORTER,
        evidence=(),
        security=True,
        public_exploit=False,
        triage_deadline=T0 + 4 * HOUR,
        proposed_at=T0,
    )
    envelopes = [e for story in stories.values() for e in story.envelopes()]
    envelopes += [
        *TicketStory(ticket_id=4, opened_at=T0).envelopes(),
        envelope(proposed, service="triage", ticket_id=4, at=T0, actor=ENGINEER),
        envelope(withdrawn, service="intake", ticket_id=4, at=T0 + HOUR, actor=ENGINEER),
    ]
    envelopes += [
        envelope(event, service="triage", ticket_id=n, at=T0 + HOUR, actor=ENGINEER)
        for n, event in extra.items()
    ]
    for item in envelopes:
        topic = "lts.intake.events" if "intake" in item.type else "lts.triage.events"
        await metrics.audit.record(item, facts_of(item, topic=topic))
    await metrics.settle()

    triage_sla, plan_sla = await metrics.queries.sla_compliance(Filters(), at=T0 + 30 * 24 * HOUR)
    async with metrics.store.engine.connect() as conn:
        rows = await conn.execute(
            text(
                f"SELECT ticket_id, sla, outcome FROM {metrics.store.schema}.v_sla_compliance"
                " WHERE outcome IN ('open_overdue', 'closed') ORDER BY ticket_id, sla"
            )
        )
        outcomes = [tuple(row) for row in rows]

    assert (plan_sla.open_overdue, plan_sla.met, plan_sla.missed) == (1, 0, 0)
    assert plan_sla.compliance_pct == 0.0  # only ticket 3 owed a plan
    assert triage_sla.open_overdue == 0  # ticket 4 was withdrawn before anyone triaged it
    assert outcomes == [
        (1, "plan", "closed"),
        (2, "plan", "closed"),
        (3, "plan", "open_overdue"),
        (4, "triage", "closed"),
    ]

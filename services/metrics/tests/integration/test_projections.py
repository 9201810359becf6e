"""Projections over a real metrics store: known tickets in, known figures out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lts_events.contracts.common import Severity, TicketSource
from lts_metrics.audit import facts_of
from lts_metrics.percentiles import percentile_cont
from lts_metrics.queries import Filters
from lts_metrics.samples import TicketStory
from sqlalchemy import text

from .conftest import Metrics

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def stories() -> list[TicketStory]:
    triage_hours = [1, 2, 3, 5, 8, 13, 21, 30]  # the last one misses the 24 h SLA
    stories = [
        TicketStory(
            ticket_id=100 + i,
            opened_at=T0 + i * HOUR,
            severity=Severity.HIGH if i % 2 == 0 else Severity.MEDIUM,
            source=TicketSource.REPORT if i < 6 else TicketSource.OSV,
            labels=("security",) if i % 3 == 0 else (),
            triaged_after=hours * HOUR,
            planned_after=(hours + 10) * HOUR if i < 5 else None,
            approved_after=(hours + 30) * HOUR if i < 3 else None,
        )
        for i, hours in enumerate(triage_hours)
    ]
    return [*stories, TicketStory(ticket_id=200, opened_at=T0)]  # never triaged


async def audit_all(metrics: Metrics, items: list[TicketStory]) -> None:
    for story in items:
        for envelope in story.envelopes():
            topic = "lts.intake.events" if "intake" in envelope.type else "lts.triage.events"
            await metrics.audit.record(envelope, facts_of(envelope, topic=topic))


async def test_time_to_triage_figures_match_the_known_data_set(metrics: Metrics) -> None:
    await audit_all(metrics, stories())

    await metrics.settle()
    stats = await metrics.queries.duration("time-to-triage", Filters())

    seconds = [h * 3600.0 for h in (1, 2, 3, 5, 8, 13, 21, 30)]
    assert stats.count == 8
    assert stats.p50 == pytest.approx(percentile_cont(seconds, 0.5))
    assert stats.p90 == pytest.approx(percentile_cont(seconds, 0.9))
    assert stats.p95 == pytest.approx(percentile_cont(seconds, 0.95))
    assert stats.max == 30 * 3600.0
    assert stats.sla_compliance_pct == pytest.approx(100.0 * 7 / 8)


async def test_filters_narrow_the_figures_to_matching_tickets(metrics: Metrics) -> None:
    await audit_all(metrics, stories())
    await metrics.settle()

    high = await metrics.queries.duration("time-to-triage", Filters(severity="high"))
    osv = await metrics.queries.duration("time-to-triage", Filters(source="osv"))
    security = await metrics.queries.duration("time-to-triage", Filters(label="security"))
    early = await metrics.queries.duration("time-to-triage", Filters(end=T0 + 2 * HOUR))

    assert high.count == 4
    assert high.max == 21 * 3600.0
    assert osv.count == 2
    assert osv.p50 == pytest.approx(25.5 * 3600.0)
    assert security.count == 3
    assert early.count == 2


async def test_plan_and_approval_durations_are_measured_between_milestones(
    metrics: Metrics,
) -> None:
    await audit_all(metrics, stories())
    await metrics.settle()

    plan = await metrics.queries.duration("time-to-plan", Filters())
    approval = await metrics.queries.duration("time-to-approval", Filters())

    assert plan.count == 5
    assert plan.p50 == 10 * 3600.0
    assert plan.max == 10 * 3600.0
    assert approval.count == 3
    assert approval.p50 == 20 * 3600.0
    assert approval.sla_compliance_pct == 100.0


async def test_sla_compliance_counts_met_missed_and_overdue_tickets(metrics: Metrics) -> None:
    await audit_all(metrics, stories())
    await metrics.settle()

    triage_sla, _ = await metrics.queries.sla_compliance(Filters(), at=T0 + 100 * HOUR)

    assert (triage_sla.met, triage_sla.missed, triage_sla.open_overdue) == (7, 1, 0)
    assert triage_sla.pending == 1  # ticket 200 has no deadline yet: never triaged


async def test_backlog_groups_open_tickets_by_severity_and_age(metrics: Metrics) -> None:
    await audit_all(metrics, stories())
    await metrics.settle()

    backlog = await metrics.queries.backlog(Filters(), at=T0 + 48 * HOUR)

    assert backlog.total == 6  # 3 approved tickets left the backlog
    assert backlog.by_state == {"opened": 1, "triaged": 3, "planned": 2}


async def test_timeline_lists_every_transition_in_order_with_who_and_why(
    metrics: Metrics,
) -> None:
    await audit_all(metrics, stories())
    await metrics.settle()

    timeline = await metrics.queries.timeline(100)

    assert [item.event_type for item in timeline] == [
        "lts.intake.ticket_opened",
        "lts.triage.ticket_triaged",
        "lts.triage.backport_planned",
        "lts.triage.plan_approved",
    ]
    assert [item.source_service for item in timeline] == ["intake", "triage", "triage", "triage"]
    assert timeline[1].actor_id == "tess"
    assert timeline[1].actor_role == "triage_engineer"
    assert timeline[1].reason == "severity high"
    assert timeline[1].occurred_at == T0 + HOUR


async def test_a_redelivered_event_is_audited_and_projected_once(metrics: Metrics) -> None:
    story = stories()[0]
    envelopes = story.envelopes()
    for envelope in envelopes:
        await metrics.audit.record(envelope, facts_of(envelope, topic="lts.triage.events"))

    again = [
        await metrics.audit.record(envelope, facts_of(envelope, topic="lts.triage.events"))
        for envelope in envelopes
    ]
    await metrics.settle()

    assert again == [False] * len(envelopes)
    timeline = await metrics.queries.timeline(story.ticket_id)
    assert len(timeline) == len(envelopes)


async def test_readiness_reports_projections_behind_until_they_catch_up(metrics: Metrics) -> None:
    await audit_all(metrics, stories()[:1])

    behind_before = await metrics.projections.behind()
    await metrics.settle()

    assert behind_before is True
    assert await metrics.projections.behind() is False


async def test_a_tickets_row_keeps_its_lists_in_order_and_its_values_as_folded(
    metrics: Metrics,
) -> None:
    """The rows go to PostgreSQL as JSON arrays cast in SQL (`json_rows`): each column must
    read back as the fold made it, a list in its order (rows written again and again are held
    to a rebuild's in test_rebuild)."""
    labels = ("security", "cve", "a label 'quoted' \\ é")
    opened_only = TicketStory(ticket_id=300, opened_at=T0, labels=labels)  # one write
    planned = TicketStory(ticket_id=301, opened_at=T0, triaged_after=HOUR, planned_after=2 * HOUR)
    await audit_all(metrics, [opened_only, planned])
    await metrics.settle()

    s = metrics.store.schema
    async with metrics.store.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT ticket_id, state, labels, targets, opened_at, triaged_at, planned_at,"
                    " triaged_automatically, security_review, approvals, events"
                    f" FROM {s}.ticket_lifecycle WHERE ticket_id IN (300, 301) ORDER BY 1"
                )
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        (300, "opened", list(labels), [], T0, None, None, None, None, 0, 1),
        (
            301,
            "planned",
            [],
            ["release-lts/v1.4"],
            T0,
            T0 + HOUR,
            T0 + 2 * HOUR,
            False,
            False,
            0,
            3,
        ),
    ]

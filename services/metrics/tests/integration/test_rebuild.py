"""A rebuild from the store gives exactly the projections that were built incrementally."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from lts_events.actors import automation
from lts_events.contracts import intake, triage
from lts_events.envelope import Envelope, Metadata, NewEvent
from lts_events.store import NO_STREAM
from lts_metrics.audit import audited_class, facts_of
from lts_metrics.samples import ENGINEER, FastTrackStory, TicketStory, downloads_message
from lts_metrics.samples_release import release_published
from lts_metrics.schema import PROJECTION_TABLES
from sqlalchemy import text

from . import release_run
from .conftest import Metrics

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)


async def snapshot(metrics: Metrics) -> dict[str, list[Any]]:
    s = metrics.store.schema
    async with metrics.store.engine.connect() as conn:
        return {
            table: [
                tuple(r)
                for r in await conn.execute(text(f"SELECT * FROM {s}.{table} ORDER BY 1, 2"))
            ]
            for table in PROJECTION_TABLES
        }


async def test_rebuilt_projections_equal_the_incremental_ones(metrics: Metrics) -> None:
    stories = [
        TicketStory(
            ticket_id=n,
            opened_at=T0 + timedelta(minutes=7 * n),
            triaged_after=timedelta(minutes=30 + n) if n % 4 else None,
            planned_after=timedelta(hours=5) if n % 3 == 0 else None,
            approved_after=timedelta(hours=9) if n % 6 == 0 else None,
        )
        for n in range(1, 60)
    ]
    for story in stories:  # incrementally, a few events at a time
        for envelope in story.envelopes():
            await metrics.audit.record(envelope, facts_of(envelope, topic=_topic(envelope)))
        await metrics.projections.step(limit=3)
    await metrics.settle()
    incremental = await snapshot(metrics)

    replayed = await metrics.projections.rebuild(batch=17)

    assert replayed == sum(len(s.envelopes()) for s in stories)
    assert await snapshot(metrics) == incremental
    assert len(incremental["ticket_lifecycle"]) == 59


async def test_a_rebuild_equals_the_incremental_adoption_and_follow_up_rows(
    metrics: Metrics,
) -> None:
    fast_tracks = [
        FastTrackStory(ticket_id=1, approved_at=T0, audit_closed_after=timedelta(hours=5)),
        FastTrackStory(ticket_id=2, approved_at=T0, overdue_after=timedelta(days=3)),
    ]
    for story in fast_tracks:
        for envelope in story.envelopes():
            await metrics.audit.record(envelope, facts_of(envelope, topic=_topic(envelope)))
            await metrics.projections.step(limit=2)
    for offset, version in enumerate(["1.4.2", "1.4.3", "v1.3.9-lts", "nightly"]):
        message = downloads_message("ltsapp", version, 10 + offset, at=T0, offset=offset)
        await metrics.inbox.on_downloads(message)
        await metrics.projections.step(limit=1)
    await metrics.settle()
    incremental = await snapshot(metrics)

    await metrics.projections.rebuild(batch=3)

    assert await snapshot(metrics) == incremental
    assert len(incremental["adoption_counts"]) == 4
    assert len(incremental["follow_up_events"]) == 9  # 2 fast-tracks, 4 opened, 1 closed, 2 overdue


async def test_a_rebuild_equals_the_incremental_release_metrics(metrics: Metrics) -> None:
    """Cases: a release with no tickets, a rollout rolled back twice, a rollback that overran,
    a ticket in two lines released at different times (`release_run`)."""
    for envelope in release_run.envelopes():
        await metrics.audit.record(
            envelope, facts_of(envelope, topic=release_run.topic_of(envelope))
        )
        await metrics.projections.step(limit=2)
    await metrics.settle()
    incremental = await snapshot(metrics)

    await metrics.projections.rebuild(batch=4)

    assert await snapshot(metrics) == incremental
    assert [(r[0], r[1]) for r in incremental["ticket_releases"]] == [
        (1, "1.3"),
        (1, "1.4"),
        (2, "1.4"),
    ]
    assert len(incremental["release_publications"]) == 4
    assert len(incremental["rollout_events"]) == 4 + 3 * 2 + 1


async def test_projection_continues_after_a_rebuild_without_reapplying(metrics: Metrics) -> None:
    first = TicketStory(ticket_id=1, opened_at=T0, triaged_after=timedelta(hours=1))
    for envelope in first.envelopes():
        await metrics.audit.record(envelope, facts_of(envelope, topic=_topic(envelope)))
    await metrics.settle()
    await metrics.projections.rebuild()

    second = TicketStory(ticket_id=2, opened_at=T0)
    for envelope in second.envelopes():
        await metrics.audit.record(envelope, facts_of(envelope, topic=_topic(envelope)))
    applied = await metrics.settle()

    assert applied == 1
    assert len((await snapshot(metrics))["ticket_timeline"]) == 3


def _topic(envelope: Envelope) -> str:
    return "lts.intake.events" if envelope.type.startswith("lts.intake.") else "lts.triage.events"


async def test_events_arriving_during_a_rebuild_are_projected_after_the_swap(
    metrics: Metrics,
) -> None:
    def story(n: int) -> TicketStory:
        return TicketStory(ticket_id=n, opened_at=T0, triaged_after=timedelta(minutes=n))

    for n in range(1, 31):
        for envelope in story(n).envelopes():
            await metrics.audit.record(envelope, facts_of(envelope, topic=_topic(envelope)))
    await metrics.settle()

    async def meanwhile() -> None:
        for n in range(31, 46):
            for envelope in story(n).envelopes():
                await metrics.audit.record(envelope, facts_of(envelope, topic=_topic(envelope)))
            await metrics.projections.step()

    await asyncio.gather(metrics.projections.rebuild(batch=5), meanwhile())
    await metrics.settle()
    live = await snapshot(metrics)

    await metrics.projections.rebuild()
    assert await snapshot(metrics) == live
    assert len(live["ticket_lifecycle"]) == 45


def _raw(
    type_: str, data: dict[str, Any], *, minutes: int, subject: str = "ticket-1", **extra: Any
) -> Envelope:
    """An envelope as another service's relay would send it, data written by hand (the audit
    log keeps any data, also of types this build does not know)."""
    service = "intake" if type_.startswith("lts.intake.") else "triage"
    return Envelope(
        id=str(uuid4()),
        source=f"lts-flow/{service}",
        type=type_,
        subject=subject,
        time=T0 + timedelta(minutes=minutes),
        data=data,
        actorid=extra.pop("actor", ENGINEER).id,
        actorrole=ENGINEER.role,
        **extra,
    )


def _at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


async def test_a_rebuild_equals_the_incremental_projection_for_every_kind_of_event(
    metrics: Metrics,
) -> None:
    envelopes = [
        _raw(
            intake.TicketOpened.type,
            {
                "ticket_id": 1,
                "title": 'TLS \t parser, "short" record\nsecond line \\ é',
                "source": "report",
                "kind": "bug",
                "labels": ["security", "cve"],
                "opened_at": _at(0),
                "severity_guess": "high",
            },
            minutes=0,
            reason="opened",
        ),
        _raw(intake.TicketLabelled.type, {"ticket_id": 1, "labels": ["x", "cve"]}, minutes=1),
        _raw(
            triage.SeverityProposed.type,
            {"ticket_id": 1, "severity": "critical", "triage_deadline": _at(240), "score": 9.8},
            minutes=2,
        ),
        _raw(
            triage.TicketTriaged.type,
            {
                "ticket_id": 1,
                "severity": "critical",
                "triaged_by": "tess",
                "automatic": False,
                "opened_at": _at(0),
                "triaged_at": _at(3),
                "sla_deadline": _at(240),
                "plan_deadline": _at(4000),
            },
            minutes=3,
        ),
        _raw(
            triage.BackportDecided.type,
            {"ticket_id": 1, "decision": "defer", "targets": ["release-lts/v1.4"]},
            minutes=4,
        ),
        _raw(triage.OwnerAssigned.type, {"ticket_id": 1, "owner": "ana"}, minutes=5),
        _raw(
            triage.BackportPlanned.type,
            {
                "ticket_id": 1,
                "revision": 2,
                "target_branches": ["release-lts/v1.4", "release-lts/v1.3"],
                "security_review_required": True,
                "planned_at": _at(6),
                "plan_deadline": _at(5000),
            },
            minutes=6,
        ),
        _raw(
            triage.ApprovalRecorded.type,
            {"ticket_id": 1, "approver": "quinn", "role": "qa", "comment": "tests pass"},
            minutes=7,
        ),
        _raw(triage.TriageSlaBreached.type, {"ticket_id": 1, "detected_at": _at(250)}, minutes=8),
        _raw(
            triage.PlanApproved.type,
            {"ticket_id": 1, "revision": 2, "approved_at": _at(9)},
            minutes=9,
            actor=automation("triage"),
        ),
        _raw(triage.PlanSlaBreached.type, {"ticket_id": 1, "detected_at": _at(5001)}, minutes=10),
        _raw(  # a type this build does not know, with an integer beyond 64 bits
            "lts.release.patch_released",
            {"ticket_id": "1", "score": 2**70, "deadline": _at(11), "branches": ["a", "b"]},
            minutes=11,
        ),
        _raw(intake.TicketOpened.type, {"title": "no ticket id"}, minutes=12, subject="ticket-2"),
        _raw(intake.AdvisoryWithdrawn.type, {"advisory": "OSV-1"}, minutes=13, subject="ticket-2"),
        _raw(intake.TicketLabelled.type, {"labels": ["about nothing"]}, minutes=14, subject="x"),
        # about no one ticket (its subject is the candidate): on the timeline of each it names
        release_published("1.4.1", "1.4", (1, 2, 1), at=T0 + timedelta(minutes=15)),
    ]
    for envelope in envelopes:  # incrementally, two events at a time
        await metrics.audit.record(envelope, facts_of(envelope, topic=_topic(envelope)))
        await metrics.projections.step(limit=2)
    await metrics.settle()
    incremental = await snapshot(metrics)

    replayed = await metrics.projections.rebuild(batch=4)

    assert replayed == len(envelopes)
    assert await snapshot(metrics) == incremental
    assert [row[0] for row in incremental["ticket_lifecycle"]] == [1, 2]
    released = [
        row[1] for row in incremental["ticket_timeline"] if row[0] == UUID(envelopes[-1].id)
    ]
    assert released == [1, 2]  # one row per ticket named, once each
    assert len(incremental["ticket_timeline"]) == len(envelopes) - 2 + len(released)


async def test_a_rebuild_equals_the_incremental_projection_of_events_without_an_envelope_row(
    metrics: Metrics,
) -> None:
    """An event appended to the metrics store directly has no `audit_envelopes` row: its
    stream id `<service>:<subject>` and its record time stand in, on both paths."""
    opened = audited_class(intake.TicketOpened.type, 1).model_validate(
        {"title": "appended here", "source": "report", "kind": "bug", "opened_at": _at(0)}
    )
    await metrics.store.append(
        "intake:ticket-3",
        [NewEvent.of(opened, Metadata(actor=ENGINEER))],
        expected_version=NO_STREAM,
    )
    await metrics.settle()
    incremental = await snapshot(metrics)

    await metrics.projections.rebuild(batch=4)

    assert await snapshot(metrics) == incremental
    assert [row[0] for row in incremental["ticket_lifecycle"]] == [3]
    (entry,) = incremental["ticket_timeline"]
    assert "intake" in entry

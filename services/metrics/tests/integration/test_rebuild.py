"""A rebuild from the store gives exactly the projections that were built incrementally."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lts_events.envelope import Envelope
from lts_metrics.audit import facts_of
from lts_metrics.samples import TicketStory
from sqlalchemy import text

from .conftest import Metrics

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)


async def snapshot(metrics: Metrics) -> dict[str, list[Any]]:
    s = metrics.store.schema
    async with metrics.store.engine.connect() as conn:
        return {
            table: [
                tuple(r) for r in await conn.execute(text(f"SELECT * FROM {s}.{table} ORDER BY 1"))
            ]
            for table in ("ticket_lifecycle", "ticket_timeline")
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

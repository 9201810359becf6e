"""The projections on Prometheus' /metrics, and `lts metrics rebuild` from the command line."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from lts_metrics.audit import facts_of
from lts_metrics.cli import app
from lts_metrics.prometheus import PrometheusExport
from lts_metrics.samples import TicketStory
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import text
from typer.testing import CliRunner

from .conftest import Metrics

pytestmark = pytest.mark.integration

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


async def audit(metrics: Metrics, stories: list[TicketStory]) -> None:
    for story in stories:
        for envelope in story.envelopes():
            topic = "lts.intake.events" if "intake" in envelope.type else "lts.triage.events"
            await metrics.audit.record(envelope, facts_of(envelope, topic=topic))


async def test_projections_are_exported_as_gauges_and_histograms(metrics: Metrics) -> None:
    await audit(
        metrics,
        [
            TicketStory(ticket_id=1, opened_at=T0, triaged_after=timedelta(minutes=10)),
            TicketStory(ticket_id=2, opened_at=T0, triaged_after=timedelta(hours=30)),
            TicketStory(ticket_id=3, opened_at=T0),
        ],
    )
    await metrics.settle()
    export = PrometheusExport(metrics.store.engine, schema=metrics.store.schema)
    registry = CollectorRegistry()
    registry.register(export)

    await export.refresh()
    scraped = generate_latest(registry).decode()

    assert 'lts_metrics_tickets{severity="high",state="triaged"} 2.0' in scraped
    assert 'lts_metrics_time_to_triage_seconds_bucket{le="900.0",severity="high"} 1.0' in scraped
    assert 'lts_metrics_time_to_triage_seconds_count{severity="high"} 2.0' in scraped
    assert 'lts_metrics_sla_tickets{outcome="missed",sla="triage"} 1.0' in scraped
    assert "lts_metrics_audited_events 5.0" in scraped


async def test_the_rebuild_command_replays_the_store_into_the_projections(
    metrics: Metrics, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await audit(metrics, [TicketStory(ticket_id=n, opened_at=T0) for n in range(1, 4)])
    await metrics.settle()
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LTS_METRICS_ANALYST_ROLE", metrics.analyst_role)

    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["rebuild", "--schema", metrics.store.schema]
    )

    assert result.exit_code == 0, result.output
    assert "rebuilt the projections from 3 events" in result.output
    async with metrics.store.engine.connect() as conn:
        count = await conn.execute(
            text(f"SELECT count(*) FROM {metrics.store.schema}.ticket_lifecycle")
        )
        assert count.scalar_one() == 3

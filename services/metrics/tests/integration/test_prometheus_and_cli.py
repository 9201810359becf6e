"""The projections on Prometheus' /metrics, and `lts metrics rebuild` from the command line."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lts_metrics.audit import facts_of
from lts_metrics.cli import app
from lts_metrics.prometheus import PrometheusExport
from lts_metrics.samples import TicketStory, downloads_message
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import text
from typer.testing import CliRunner

from . import release_run
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


async def test_the_release_metrics_are_exported_with_help(metrics: Metrics) -> None:
    for envelope in release_run.envelopes():
        topic = release_run.topic_of(envelope)
        await metrics.audit.record(envelope, facts_of(envelope, topic=topic))
    await metrics.inbox.on_downloads(
        # on the day 1.4.3 is published: the newest patch of its line
        downloads_message("ltsapp", "1.4.3", 3, at=release_run.T0 + release_run.DAY * 3, offset=1)
    )
    await metrics.settle()
    export = PrometheusExport(metrics.store.engine, schema=metrics.store.schema)
    registry = CollectorRegistry()
    registry.register(export)

    await export.refresh()
    scraped = generate_latest(registry).decode()

    # the release run's figures (test_release_metrics.py works them out)
    for line in [
        'lts_metrics_rollouts_started{line="1.4"} 3.0',
        'lts_metrics_rollouts_rolled_back{line="1.4"} 1.0',
        'lts_metrics_rollback_rate_ratio{line="1.3"} 1.0',
        'lts_metrics_rollbacks_overran{line="1.4"} 1.0',
        'lts_metrics_tests{line="1.4",result="passed"} 19.0',
        'lts_metrics_test_pass_ratio{line="1.4"} 0.95',
        'lts_metrics_flaky_suites{line="1.4"} 1.0',
        'lts_metrics_deployments{line="1.4"} 3.0',
        'lts_metrics_release_sla_tickets{line="1.3",outcome="missed"} 1.0',
        'lts_metrics_time_to_release_seconds_bucket{le="259200.0",line="1.4"} 2.0',
        'lts_metrics_time_to_rollback_seconds_bucket{le="1800.0",line="1.4"} 1.0',
        'lts_metrics_lead_time_median_seconds{line="1.4"} 129600.0',
        'lts_metrics_adoption_newest_share_ratio{kind="download",line="1.4",package="ltsapp"} 1.0',
    ]:
        assert line in scraped, line
    families = [m for m in scraped.splitlines() if m.startswith("# HELP lts_metrics_")]
    assert all(len(h.split(" ", 3)[3]) > 10 for h in families)  # every series has its HELP


async def test_the_weekly_report_writes_markdown_and_html_with_the_week_s_figures(
    metrics: Metrics, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for envelope in release_run.envelopes():
        topic = release_run.topic_of(envelope)
        await metrics.audit.record(envelope, facts_of(envelope, topic=topic))
    await metrics.settle()
    monkeypatch.setenv("DATABASE_URL", database_url)
    week = "2026-W45"  # Monday 2026-11-02 = the run's T0, to Sunday 2026-11-08

    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["report", "--week", week, "--schema", metrics.store.schema, "--out", str(tmp_path)],
    )

    assert result.exit_code == 0, result.output
    md = (tmp_path / f"lts-metrics-{week}.md").read_text()
    page = (tmp_path / f"lts-metrics-{week}.html").read_text()
    # only 1.4.3 (day 3) is released in the week (1.3.9 on day 7 is the next Monday): DORA
    # 1 deployment in 7 days (high), lead time 1.5 d (high), r1 rolled back (100 %, low),
    # recovery median of 30 min and 2 h (high)
    assert "| all | 1 | high | 129600.0 | high | 100.0 | low | 4500.0 | high |" in md
    assert "| 1.4 | 1 | 1 | 100.0 |" in md
    assert "| r1 | 1.4 | 1.4.3 | 2026-11-05 05:00 |" in md  # the overrun rollback
    assert "| 1.4 | 1.4.3rc1 | unit | 19 | 1 | 95.0 |" in md
    assert page.count("<svg") >= 4
    assert "week 2026-W45" in page


def test_the_weekly_report_refuses_a_week_that_is_not_iso(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "--week", "2026-49", "--out", str(tmp_path)])

    assert result.exit_code == 2
    assert "ISO week" in result.output

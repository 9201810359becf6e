"""Adoption (download counts from `lts.inbound.adoption`, telemetry pings) and the post-facto
audits of emergency fast-tracks, through the store, the projections, the views and the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from lts_events.auth import Authenticator
from lts_events.consumer import PermanentError, RawMessage
from lts_events.contracts.metrics import TelemetryPingReceived
from lts_metrics.api import router, telemetry_router
from lts_metrics.audit import facts_of
from lts_metrics.queries_release import ReleaseQueries
from lts_metrics.samples import FastTrackStory, downloads_message
from lts_metrics.samples_release import release_published, release_yanked
from lts_metrics.schema import ensure_schema
from lts_metrics.versions import line_and_patch, patch_sql
from sqlalchemy import text

from .conftest import Metrics

pytestmark = pytest.mark.integration

DAY1 = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
ANALYST = {"Authorization": "Bearer dev-analyst"}


@pytest.fixture
async def client(metrics: Metrics) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(
        router(
            metrics.queries,
            Authenticator.from_settings(),
            adoption_queries=metrics.adoption,
            release_queries=ReleaseQueries(metrics.store.engine, schema=metrics.store.schema),
            projector=metrics.projections,
        )
    )
    app.include_router(telemetry_router(metrics.inbox))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as http:
        yield http


async def published(metrics: Metrics, version: str, line: str, at: datetime) -> None:
    """`ReleasePublished` of `version` audited from the release service."""
    envelope = release_published(version, line, (), at=at)
    await metrics.audit.record(envelope, facts_of(envelope, topic="lts.release.events"))


async def test_the_share_is_of_the_newest_patch_published_by_the_end_of_each_day(
    metrics: Metrics, client: httpx.AsyncClient
) -> None:
    # 1.4.3 is downloaded from 12-01 but published on 12-02 (08:00); a republished 1.4.1 and
    # 1.3.9 (another line) on 12-02 change nothing; 1.4.4 comes after the counted days
    await published(metrics, "1.4.2", "1.4", datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    await published(metrics, "1.4.3", "1.4", datetime(2026, 12, 2, 8, 0, tzinfo=UTC))
    await published(metrics, "1.4.1", "1.4", datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    await published(metrics, "1.3.9", "1.3", datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    await published(metrics, "1.4.4", "1.4", datetime(2026, 12, 3, 0, 0, tzinfo=UTC))
    messages = [
        downloads_message("ltsapp", "1.4.2", 60, at=DAY1, offset=1),
        downloads_message("ltsapp", "1.4.3", 20, at=DAY1, offset=2),
        downloads_message("ltsapp", "1.4.2", 40, at=DAY2, offset=3),
        downloads_message("ltsapp", "1.4.3", 60, at=DAY2, offset=4),
        downloads_message("ltsapp", "1.5.0", 9, at=DAY2, offset=5),  # 1.5: nothing published
    ]
    for message in [*messages, messages[3]]:  # the last one redelivered
        await metrics.inbox.on_downloads(message)
    await metrics.settle()

    response = await client.get("/metrics/adoption?line=1.4", headers=ANALYST)
    unpublished = await client.get("/metrics/adoption?line=1.5", headers=ANALYST)
    one_day = await client.get(
        "/metrics/adoption",
        params={"from": "2026-12-02T00:00:00+00:00", "to": "2026-12-03T00:00:00+00:00"},
        headers=ANALYST,
    )

    assert response.status_code == 200
    shares = [
        (r["day"], r["newest_version"], r["on_newest"], r["total"], r["share_pct"])
        for r in response.json()
    ]
    assert shares == [
        ("2026-12-01", "1.4.2", 60, 80, 75.0),  # 60 / (60 + 20): 1.4.3 not published yet
        ("2026-12-02", "1.4.3", 60, 100, 60.0),  # 60 / (40 + 60)
    ]
    assert unpublished.json() == []  # no newest patch: no share (the counts stay counted)
    assert [(r["day"], r["line"], r["share_pct"]) for r in one_day.json()] == [
        ("2026-12-02", "1.4", 60.0)
    ]


async def test_a_yanked_patch_is_not_the_newest_from_the_day_it_is_yanked(
    metrics: Metrics, client: httpx.AsyncClient
) -> None:
    # 1.4.3 is published on 12-01 and yanked on 12-02 (10:00): on 12-02 the newest is 1.4.2 again
    await published(metrics, "1.4.2", "1.4", datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    await published(metrics, "1.4.3", "1.4", datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    yank = release_yanked("1.4.3", "1.4", at=datetime(2026, 12, 2, 10, 0, tzinfo=UTC))
    await metrics.audit.record(yank, facts_of(yank, topic="lts.release.events"))
    for offset, (version, count, at) in enumerate(
        [("1.4.2", 30, DAY1), ("1.4.3", 70, DAY1), ("1.4.2", 80, DAY2), ("1.4.3", 20, DAY2)]
    ):
        await metrics.inbox.on_downloads(
            downloads_message("ltsapp", version, count, at=at, offset=offset)
        )
    await metrics.settle()

    response = await client.get("/metrics/adoption?line=1.4", headers=ANALYST)

    assert [(r["day"], r["newest_version"], r["share_pct"]) for r in response.json()] == [
        ("2026-12-01", "1.4.3", 70.0),
        ("2026-12-02", "1.4.2", 80.0),  # 1.4.3 yanked that day: installers skip it
    ]


async def test_the_published_patch_is_read_from_a_version_as_the_counted_ones_are(
    metrics: Metrics,
) -> None:
    """`versions.patch_sql` (publications of deployments from before the `patch` column)
    and `versions.line_and_patch` (every row since) read the same patch."""
    versions = ["1.4.3", "v1.4.3", "v1.4.3-lts", "1.2.4-hotfix1", " 1.4.07 ", "1.4", "main", ""]
    async with metrics.store.engine.connect() as conn:
        in_sql = [
            (await conn.execute(text(f"SELECT {patch_sql(':v')}"), {"v": v})).scalar_one()
            for v in versions
        ]

    assert in_sql == [(line_and_patch(v) or (None, None))[1] for v in versions]
    assert in_sql == [3, 3, 3, 4, 7, None, None, None]


async def test_a_ping_is_counted_with_its_version_and_nothing_about_the_sender(
    metrics: Metrics, client: httpx.AsyncClient
) -> None:
    await published(metrics, "1.3.9", "1.3", DAY1 - timedelta(days=30))
    sent = await client.post(
        "/telemetry/ping",
        json={"package": "ltsapp", "version": "1.3.9"},
        headers={"User-Agent": "curl/8.0", "X-Forwarded-For": "203.0.113.9"},
    )
    refused = await client.post(
        "/telemetry/ping", json={"package": "ltsapp", "version": "1.3.9", "host": "db-7"}
    )
    await metrics.settle()

    async with metrics.store.engine.connect() as conn:
        stored = [
            r[0]
            for r in await conn.execute(
                text(f"SELECT data FROM {metrics.store.schema}.events WHERE type = :t"),
                {"t": TelemetryPingReceived.type},
            )
        ]
    shares = (await client.get("/metrics/adoption?line=1.3", headers=ANALYST)).json()
    assert sent.status_code == 202
    assert refused.status_code == 422  # nothing beyond package and version is taken
    assert len(stored) == 1
    assert set(stored[0]) == {"package", "version", "received_at"}
    assert "203.0.113.9" not in str(stored)
    assert "curl" not in str(stored)
    assert [(s["kind"], s["total"], s["share_pct"]) for s in shares] == [("ping", 1, 100.0)]


async def test_a_message_that_reports_no_downloads_is_refused_for_the_dead_letter_topic(
    metrics: Metrics,
) -> None:
    message = RawMessage.of(
        value=b'{"specversion":"1.0","id":"1","source":"s","type":"t","data":{"package":"p"}}',
        headers=[("content-type", b"application/cloudevents+json")],
        key=None,
        topic="lts.inbound.adoption",
        partition=0,
        offset=9,
    )

    with pytest.raises(PermanentError, match="does not report downloads"):
        await metrics.inbox.on_downloads(message)


async def test_adoption_answers_csv_with_flat_columns(
    metrics: Metrics, client: httpx.AsyncClient
) -> None:
    await published(metrics, "1.4.3", "1.4", DAY1)
    await metrics.inbox.on_downloads(downloads_message("ltsapp", "1.4.3", 5, at=DAY1, offset=1))
    await metrics.settle()

    response = await client.get("/metrics/adoption?format=csv", headers=ANALYST)

    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines() == [
        "day,kind,package,line,newest_version,on_newest,total,share_pct",
        "2026-12-01,download,ltsapp,1.4,1.4.3,5,5,100.0",
    ]


async def test_follow_ups_stay_open_until_closed_and_are_listed_overdue_after_their_due_time(
    metrics: Metrics, client: httpx.AsyncClient
) -> None:
    approved = DAY1
    closed = FastTrackStory(ticket_id=5, approved_at=approved, audit_closed_after=timedelta(days=3))
    for envelope in closed.envelopes():
        await metrics.audit.record(envelope, facts_of(envelope, topic="lts.triage.events"))
    await metrics.settle()

    async def statuses(at: datetime, status: str = "") -> list[tuple[str, str, bool]]:
        query = {"at": at.isoformat(), **({"status": status} if status else {})}
        rows = (
            await client.get("/metrics/fast-track-audits", params=query, headers=ANALYST)
        ).json()
        return [(r["follow_up"], r["status"], r["closed_late"]) for r in rows]

    assert await statuses(approved + timedelta(days=1)) == [
        ("post_facto_audit", "open", False),
        ("postmortem", "open", False),
    ]
    assert await statuses(approved + timedelta(days=4)) == [
        ("post_facto_audit", "closed", True),  # closed on day 3, due on day 2
        ("postmortem", "overdue", False),  # no event said so: its due time passed
    ]
    assert await statuses(approved + timedelta(days=4), "overdue") == [
        ("postmortem", "overdue", False)
    ]


async def test_publications_stored_before_the_patch_column_get_their_patch_at_start(
    metrics: Metrics,
) -> None:
    s, role = metrics.store.schema, metrics.analyst_role
    async with metrics.store.engine.begin() as conn:
        # a deployment from before the column (its view goes with it and comes back)
        await conn.execute(text(f"ALTER TABLE {s}.release_publications DROP COLUMN patch CASCADE"))
        await conn.execute(
            text(
                f"INSERT INTO {s}.release_publications"
                " VALUES (gen_random_uuid(), 'c1', 'v1.4.7', '1.4', now(), 0),"
                " (gen_random_uuid(), 'c2', 'nightly', NULL, now(), 0)"
            )
        )
    async with metrics.store.engine.begin() as conn:
        await ensure_schema(conn, schema=s, analyst_role=role, analyst_password=None)
        patches = await conn.execute(
            text(f"SELECT version, patch FROM {s}.release_publications ORDER BY version")
        )

        assert [tuple(r) for r in patches] == [("nightly", None), ("v1.4.7", 7)]

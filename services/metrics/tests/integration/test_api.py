"""The analysts' HTTP API over a real metrics store, through the ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from lts_events.auth import Authenticator
from lts_metrics.api import router
from lts_metrics.audit import facts_of
from lts_metrics.queries_release import ReleaseQueries
from lts_metrics.samples import TicketStory
from lts_metrics.samples_release import release_published

from .conftest import Metrics

pytestmark = pytest.mark.integration

T0 = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
ANALYST = {"Authorization": "Bearer dev-analyst"}


@pytest.fixture
async def client(metrics: Metrics) -> AsyncIterator[httpx.AsyncClient]:
    for n, hours in enumerate([2, 4, 6, 30], start=1):
        story = TicketStory(ticket_id=n, opened_at=T0, triaged_after=timedelta(hours=hours))
        for envelope in story.envelopes():
            topic = "lts.intake.events" if "intake" in envelope.type else "lts.triage.events"
            await metrics.audit.record(envelope, facts_of(envelope, topic=topic))
    await metrics.settle()
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
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as http:
        yield http


async def test_time_to_triage_answers_count_percentiles_and_compliance(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/metrics/time-to-triage", headers=ANALYST)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4
    assert body["p50"] == 5 * 3600.0
    assert body["max"] == 30 * 3600.0
    assert body["sla_compliance_pct"] == 75.0


async def test_filters_are_applied(client: httpx.AsyncClient) -> None:
    params = {"from": "2026-04-01T00:00:00Z", "to": "2026-04-02T00:00:00Z", "severity": "high"}

    response = await client.get("/metrics/time-to-triage", params=params, headers=ANALYST)

    assert response.json()["count"] == 4


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-04-02T00:00:00Z", "to": "2026-04-01T00:00:00Z"},
        {"severity": "catastrophic"},
        {"from": "yesterday"},
        {"from": "2026-04-01T00:00:00"},
    ],
)
async def test_bad_parameters_are_refused_with_422(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get("/metrics/time-to-triage", params=params, headers=ANALYST)

    assert response.status_code == 422


async def test_an_anonymous_caller_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics/time-to-triage")

    assert response.status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/metrics/time-to-plan",
        "/metrics/time-to-approval",
        "/metrics/sla-compliance",
        "/metrics/backlog",
        "/metrics/projections",
    ],
)
async def test_every_metric_endpoint_answers(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path, headers={"Authorization": "Bearer dev-qa"})

    assert response.status_code == 200


async def test_timeline_of_a_ticket_lists_its_events_and_404s_for_an_unknown_one(
    client: httpx.AsyncClient,
) -> None:
    known = await client.get("/tickets/1/timeline", headers=ANALYST)
    unknown = await client.get("/tickets/999/timeline", headers=ANALYST)

    assert [i["event_type"] for i in known.json()] == [
        "lts.intake.ticket_opened",
        "lts.triage.ticket_triaged",
    ]
    assert unknown.status_code == 404


async def test_a_release_shows_on_the_timeline_of_every_ticket_it_ships(
    client: httpx.AsyncClient, metrics: Metrics
) -> None:
    published = release_published("1.4.1", "1.4", (1, 2), at=T0 + timedelta(days=1))
    await metrics.audit.record(published, facts_of(published, topic="lts.release.events"))
    await metrics.settle()

    timelines = [
        (await client.get(f"/tickets/{ticket}/timeline", headers=ANALYST)).json()
        for ticket in (1, 2, 3)
    ]

    shown = [[i["event_id"] for i in t if i["event_type"] == published.type] for t in timelines]
    assert shown == [[published.id], [published.id], []]
    assert timelines[0][-1]["summary"].startswith("release_published")


async def test_projection_status_says_when_everything_is_projected(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/metrics/projections", headers=ANALYST)

    assert response.json() == {
        "audited_events": 8,
        "projected_events": 8,
        "pending_events": 0,
        "caught_up": True,
    }

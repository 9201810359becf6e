"""Intake's shell as `build(context)` makes it, on the in-memory store and broker: alerts on the
inbound topic go through the service's own subscription (decode, claims, decide, appends with
the processed message) and open one ticket per fingerprint; a redelivery changes nothing; a
release heard on release's topic shortly before an alert started is named a possible
regression. Its routes, on the same store: an Alertmanager webhook opens or updates the same
tickets, and the ticket views show them."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import KafkaBroker, TestKafkaBroker
from lts_devtools.in_memory_service import deliver, in_memory_context, subscribed_service
from lts_events.auth import Authenticator
from lts_events.clock import FrozenClock
from lts_events.contracts.common import ticket_stream
from lts_events.contracts.intake import AlertOccurrenceRecorded, TicketEnriched, TicketOpened
from lts_events.contracts.release.publication import ReleasePublished
from lts_events.problems import install_problem_answers
from lts_events.store.port import Checkpoint, ProcessedMessage
from lts_intake.kafka import CONSUMER, INBOUND_ALERTS
from lts_intake.main import build

T0 = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


async def publish_alert(
    broker: KafkaBroker, fingerprint: str, *, starts: str, event_id: str | None = None
) -> str:
    """An alert as an upstream monitor sends it: a CloudEvent in binary mode; its id."""
    event_id = event_id or str(uuid.uuid4())
    alert = {
        "status": "firing",
        "labels": {"alertname": "DiskFull", "severity": "critical", "instance": fingerprint},
        "annotations": {"summary": f"disk full on {fingerprint}"},
        "startsAt": starts,
        "fingerprint": fingerprint,
    }
    headers = {
        "ce_specversion": "1.0",
        "ce_id": event_id,
        "ce_source": "//monitoring.example.org",
        "ce_type": "org.prometheus.alert.firing",
        "content-type": "application/json",
    }
    await broker.publish(
        json.dumps(alert).encode(), INBOUND_ALERTS, key=fingerprint.encode(), headers=headers
    )
    return event_id


async def test_alerts_open_one_ticket_per_fingerprint_through_the_built_services_subscription() -> (
    None
):
    context, store = subscribed_service("intake", build, clock=FrozenClock(T0))

    async with TestKafkaBroker(context.broker) as broker:
        first = await publish_alert(broker, "fp-disk", starts="2026-11-18T09:00:00Z")
        await publish_alert(broker, "fp-cpu", starts="2026-11-18T09:10:00Z")
        again = await publish_alert(broker, "fp-disk", starts="2026-11-18T09:30:00Z")
        await publish_alert(broker, "fp-disk", starts="2026-11-18T09:00:00Z", event_id=first)

    recorded = await store.read_all(after=Checkpoint.start())
    opened = [r.event for r in recorded if isinstance(r.event, TicketOpened)]
    assert [(o.ticket_id, o.alert_fingerprint) for o in opened] == [(1, "fp-disk"), (2, "fp-cpu")]
    fired_again = (await store.read_stream(ticket_stream(1))).events[-1]
    assert isinstance(fired_again.event, AlertOccurrenceRecorded)
    assert fired_again.metadata.causation_id == again
    assert await store.is_processed(ProcessedMessage(CONSUMER, first))
    assert [r.stream_id for r in recorded if r.metadata.causation_id == first] == [
        ticket_stream(1)  # its TicketOpened only: the redelivery appended nothing
    ]


async def test_a_release_published_shortly_before_an_alert_started_is_a_possible_regression() -> (
    None
):
    context, store = subscribed_service("intake", build, clock=FrozenClock(T0))
    published = ReleasePublished(
        candidate_id="cand-1",
        version="1.4.3",
        line="1.4",
        tag="v1.4.3",
        channels=("pypi",),
        artifacts=(),
        ticket_ids=(7,),
        previous_safe_version="1.4.2",
        published_by="rita",
        published_at=datetime(2026, 11, 18, 8, 30, tzinfo=UTC),
    )

    async with TestKafkaBroker(context.broker) as broker:
        await deliver(
            broker,
            "lts.release.events",
            published,
            subject="release-1.4.3",
            source="release",
            at=T0,
        )
        await publish_alert(broker, "fp-disk", starts="2026-11-18T09:00:00Z")

    enriched = [e.event for e in (await store.read_stream(ticket_stream(1))).events]
    assert isinstance(enriched[-1], TicketEnriched), enriched
    assert [r.version for r in enriched[-1].possible_regressions] == ["1.4.3"]


async def test_the_built_services_routes_open_and_show_tickets_on_the_in_memory_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LTS_ENVIRONMENT", "local")  # the dev tokens
    monkeypatch.delenv("LTS_AUTH_TOKENS", raising=False)
    context, _ = in_memory_context("intake", clock=FrozenClock(T0))
    context = dataclasses.replace(context, authenticator=Authenticator.from_settings())
    app = FastAPI()
    install_problem_answers(app)  # as the host does
    for router in build(context).routers:
        app.include_router(router)
    webhook = {"Authorization": "Bearer dev-alert-webhook-token"}
    analyst = {"Authorization": "Bearer dev-analyst"}

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://intake"
    ) as client:
        first = await client.post(
            "/webhooks/alertmanager",
            json=notification(("fp-disk", "09:00"), ("fp-cpu", "09:10")),
            headers=webhook,
        )
        again = await client.post(
            "/webhooks/alertmanager", json=notification(("fp-disk", "09:30")), headers=webhook
        )
        ticket = await client.get("/tickets/1", headers=analyst)
        listed = await client.get("/tickets", params={"state": "open"}, headers=analyst)

    assert [(r["ticket_id"], r["outcome"]) for r in first.json()["results"]] == [
        (1, "opened"),
        (2, "opened"),
    ]
    assert [(r["ticket_id"], r["outcome"]) for r in again.json()["results"]] == [(1, "updated")]
    assert ticket.status_code == 200, ticket.text
    assert (ticket.json()["occurrences"], ticket.headers["ETag"]) == (2, '"2"')
    assert [t["alert_fingerprint"] for t in listed.json()["tickets"]] == ["fp-disk", "fp-cpu"]


def notification(*alerts: tuple[str, str]) -> dict[str, object]:
    """An Alertmanager webhook notification (version 4) of firing alerts (fingerprint, start)."""
    return {
        "version": "4",
        "status": "firing",
        "receiver": "lts-intake",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "DiskFull",
                    "severity": "critical",
                    "instance": fingerprint,
                },
                "startsAt": f"2026-11-18T{start}:00Z",
                "fingerprint": fingerprint,
            }
            for fingerprint, start in alerts
        ],
    }

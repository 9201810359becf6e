"""Intake's shell as `build(context)` makes it, on the in-memory store and broker: alerts on the
inbound topic go through the service's own subscription (decode, claims, decide, appends with
the processed message) and open one ticket per fingerprint; a redelivery changes nothing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from faststream.kafka import KafkaBroker, TestKafkaBroker
from lts_devtools.in_memory_service import subscribed_service
from lts_events.clock import FrozenClock
from lts_events.contracts.common import ticket_stream
from lts_events.contracts.intake import AlertOccurrenceRecorded, TicketOpened
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

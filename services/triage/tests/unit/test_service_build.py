"""Triage's shell as `build(context)` makes it, on the in-memory store and broker: a ticket
opened on intake's topic is received by the service's own subscriptions."""

from __future__ import annotations

from datetime import UTC, datetime

from faststream.kafka import TestKafkaBroker
from lts_devtools.in_memory_service import deliver, subscribed_service
from lts_events.clock import FrozenClock
from lts_events.contracts.common import TicketSource, ticket_stream
from lts_events.contracts.intake import TicketKind, TicketOpened
from lts_events.contracts.triage import SeverityProposed, TicketReceived
from lts_events.store.port import ProcessedMessage
from lts_triage.main import build

T0 = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


async def test_a_ticket_opened_on_intakes_topic_is_received_by_the_built_service() -> None:
    context, store = subscribed_service("triage", build, clock=FrozenClock(T0))
    opened = TicketOpened(
        ticket_id=41,
        title="Session fixation in login",
        source=TicketSource.REPORT,
        kind=TicketKind.SECURITY,
        affected_versions=["1.4.2"],
        opened_at=T0,
    )

    async with TestKafkaBroker(context.broker) as broker:
        message_id = await deliver(
            broker, "lts.intake.events", opened, subject=ticket_stream(41), source="intake", at=T0
        )

    history = (await store.read_stream(ticket_stream(41))).events
    assert [type(r.event) for r in history] == [TicketReceived, SeverityProposed]
    assert {r.metadata.causation_id for r in history} == {message_id}
    assert await store.is_processed(ProcessedMessage("triage", message_id))

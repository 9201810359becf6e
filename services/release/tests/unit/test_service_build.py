"""Release's shell as `build(context)` makes it (`main.service_parts`), on the in-memory store
and broker: a ticket received on triage's topic is noted by the service's own subscriptions."""

from __future__ import annotations

from faststream.kafka import TestKafkaBroker
from lts_devtools.in_memory_service import deliver, subscribed_service
from lts_events.clock import FrozenClock
from lts_events.contracts.common import ticket_stream
from lts_events.contracts.triage import TicketReceived
from lts_release.main import service_parts

from ..integration.triage_feed import approved_plan
from .builders import T0

TICKET = 77


async def test_a_ticket_received_on_triages_topic_is_noted_by_the_built_service() -> None:
    context, store = subscribed_service("release", service_parts, clock=FrozenClock(T0))
    received = approved_plan(TICKET, T0)[0]
    assert isinstance(received, TicketReceived)

    async with TestKafkaBroker(context.broker) as broker:
        message_id = await deliver(
            broker,
            "lts.triage.events",
            received,
            subject=ticket_stream(TICKET),
            source="triage",
            at=T0,
        )

    history = (await store.read_stream(ticket_stream(TICKET))).events
    assert [r.type for r in history] == ["lts.release.ticket_noted"]
    assert history[0].metadata.causation_id == message_id

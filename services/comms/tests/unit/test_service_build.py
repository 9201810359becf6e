"""Comms' shell as `build(context)` makes it, on the in-memory store and broker: a ticket
opened on intake's topic has its facts noted by the service's own subscriptions."""

from __future__ import annotations

from comms_builders import T0
from faststream.kafka import TestKafkaBroker
from lts_comms.main import build
from lts_devtools.in_memory_service import deliver, subscribed_service
from lts_events.clock import FrozenClock
from lts_events.contracts.common import TicketSource, ticket_stream
from lts_events.contracts.comms.facts import TicketFactsNoted
from lts_events.contracts.intake import TicketKind, TicketOpened
from lts_events.store.port import Checkpoint

TICKET = 42


async def test_a_ticket_opened_on_intakes_topic_has_its_facts_noted_by_the_built_service() -> None:
    context, store = subscribed_service("comms", build, clock=FrozenClock(T0))
    opened = TicketOpened(
        ticket_id=TICKET,
        title="Session fixation in login",
        source=TicketSource.REPORT,
        kind=TicketKind.SECURITY,
        affected_versions=["1.4.2"],
        opened_at=T0,
    )

    async with TestKafkaBroker(context.broker) as broker:
        message_id = await deliver(
            broker,
            "lts.intake.events",
            opened,
            subject=ticket_stream(TICKET),
            source="intake",
            at=T0,
        )

    appended = await store.read_all(after=Checkpoint.start())
    assert [type(r.event) for r in appended] == [TicketFactsNoted]
    noted = appended[0].event
    assert isinstance(noted, TicketFactsNoted)
    assert (noted.ticket_id, noted.title) == (TICKET, "Session fixation in login")
    assert appended[0].metadata.causation_id == message_id

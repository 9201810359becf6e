"""Metrics' audit consumer as `build(context)` makes it, on the in-memory store and broker: an
event on another service's topic is copied once into the audit log, by the service's own
subscription; a redelivery changes nothing. (The projections, the analysts' API and the
Prometheus export are SQL: they are built on the PostgreSQL store only.)"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from faststream.kafka import TestKafkaBroker
from lts_devtools.in_memory_service import deliver, subscribed_service
from lts_events.clock import FrozenClock
from lts_events.contracts.common import TicketSource, ticket_stream
from lts_events.contracts.intake import TicketKind, TicketOpened
from lts_events.store.port import Checkpoint
from lts_metrics.main import build

T0 = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


async def test_an_event_on_intakes_topic_is_audited_once_by_the_built_service() -> None:
    context, store = subscribed_service("metrics", build, clock=FrozenClock(T0))
    opened = TicketOpened(
        ticket_id=41,
        title="Session fixation in login",
        source=TicketSource.REPORT,
        kind=TicketKind.SECURITY,
        opened_at=T0,
    )

    async with TestKafkaBroker(context.broker) as broker:
        message_id = await deliver(
            broker, "lts.intake.events", opened, subject=ticket_stream(41), source="intake", at=T0
        )
        await deliver(  # redelivered
            broker,
            "lts.intake.events",
            opened,
            subject=ticket_stream(41),
            source="intake",
            at=T0,
            message_id=message_id,
        )

    [copy] = await store.read_all(after=Checkpoint.start())
    assert (copy.stream_id, copy.event_id, copy.event) == (
        "intake:ticket-41",
        UUID(message_id),
        opened,
    )
    assert copy.metadata.actor.id == "lts-intake"

"""Every message of an intake batch is recorded as processed in triage's store, in the
transaction of its decision, also when the decision adds no event: a redelivery is then known
as one without deciding again. On real PostgreSQL (the rows themselves are read)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from lts_events.clock import FrozenClock
from lts_events.consumer import Inbound
from lts_events.contracts.common import ticket_stream
from lts_events.contracts.intake import TicketLabelled
from lts_events.envelope import Envelope
from lts_events.event import Event
from lts_events.store.postgres import PostgresEventStore
from lts_triage.handlers import TriageHandlers
from lts_triage.policy import LtsLine, Policy
from sqlalchemy import text

from .conftest import ticket_opened

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
POLICY = Policy(lines=(LtsLine("1.4", date(2028, 12, 31)),))


def inbound(event: Event, offset: int) -> Inbound[Event]:
    envelope = Envelope(
        id=str(uuid.uuid4()),
        source="lts-flow/intake",
        type=event.type,
        subject=ticket_stream(getattr(event, "ticket_id", 0)),
        data=event.to_data(),
    )
    return Inbound(envelope, event, "triage", "lts.intake.events", 0, offset)


async def test_every_message_of_an_intake_batch_leaves_its_processed_row(
    database_url: str, drop_schemas: list[str], ticket_id: int
) -> None:
    schema = f"triage_processed_{uuid.uuid4().hex[:10]}"
    drop_schemas.append(schema)
    store = await PostgresEventStore.connect(database_url, schema=schema)
    handlers = TriageHandlers(store, policy=POLICY, clock=FrozenClock(T0))
    first, second = ticket_id, ticket_id + 1
    relabelled = TicketLabelled(ticket_id=first, labels=["regression"], reason="a human")
    batch = [
        inbound(ticket_opened(first, T0), 1),  # appended with the batch's new tickets
        inbound(relabelled, 2),  # decided on the stream, one by one
        inbound(ticket_opened(second, T0), 3),
        inbound(ticket_opened(second, T0), 4),  # opened again (another id): decides nothing
        inbound(relabelled, 5),  # labels already there: decides nothing
    ]

    try:
        await handlers.on_intake_batch(batch)
        async with store.engine.connect() as connection:
            rows = await connection.execute(
                text(f'SELECT consumer, message_id FROM "{schema}".processed_messages')
            )
            recorded = {(row[0], row[1]) for row in rows}
    finally:
        await store.close()

    assert recorded == {("triage", message.envelope.id) for message in batch}

"""Real Kafka and PostgreSQL for the triage integration tests: addresses from the environment or
the `infra` fixture (`lts_devtools.testing`); unique topics, schemas and ticket ids per test."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from datetime import datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from lts_events.actors import Role
from lts_events.contracts.common import TicketSource, ticket_stream
from lts_events.contracts.intake import AdvisoryWithdrawn, TicketKind, TicketOpened
from lts_events.envelope import Envelope
from lts_events.relay import envelope_record


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def ticket_id() -> int:
    return random.randint(10_000_000, 2_000_000_000)


def ticket_opened(ticket_id: int, opened_at: datetime, **overrides: object) -> TicketOpened:
    values: dict[str, object] = {
        "ticket_id": ticket_id,
        "title": "Session fixation in login",
        "source": TicketSource.REPORT,
        "kind": TicketKind.SECURITY,
        "affected_versions": ["1.4.2", "1.3.7"],
        "opened_at": opened_at,
    }
    values.update(overrides)
    return TicketOpened(**values)  # type: ignore[arg-type]


async def publish(
    kafka: str, topic: str, event: TicketOpened | AdvisoryWithdrawn, *, version: int = 1
) -> str:
    """Publish like the intake relay does: CloudEvents binary mode, key = stream id."""
    at = event.opened_at if isinstance(event, TicketOpened) else event.withdrawn_at
    envelope = Envelope(
        id=str(uuid.uuid4()),
        source="lts-flow/intake",
        type=event.type,
        subject=ticket_stream(event.ticket_id),
        time=at,
        data=event.to_data(),
        actorid="lts-intake",
        actorrole=Role.AUTOMATION,
        streamversion=version,
    )
    _, value, headers = envelope_record(envelope)
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, value, key=ticket_stream(event.ticket_id).encode(), headers=headers
        )
    finally:
        await producer.stop()
    return envelope.id


Predicate = Callable[[list[Envelope]], bool]


async def consume_until(
    kafka: str, topic: str, subject: str, done: Predicate, *, within: float = 60.0
) -> list[Envelope]:
    """Envelopes of one stream on `topic`, read from the beginning until `done` holds."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    seen: list[Envelope] = []
    try:
        async with asyncio.timeout(within):
            while not done(seen):
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        envelope = Envelope.from_kafka(record.value, list(record.headers))
                        if envelope.subject == subject:
                            seen.append(envelope)
    finally:
        await consumer.stop()
    return seen


def types(envelopes: list[Envelope]) -> list[str]:
    return [envelope.type for envelope in envelopes]

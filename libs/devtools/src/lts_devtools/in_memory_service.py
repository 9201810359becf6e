"""A service's shell in process, for unit tests: its `build(context)` on the in-memory store and
a Kafka broker that never connects. Wrap the broker in faststream's `TestKafkaBroker` and
`deliver` a message: the service's subscriptions handle it as they would from Kafka (decode,
lanes, processed ids, dead letters), and the test reads what was appended from the store."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from faststream.kafka import KafkaBroker
from lts_events.actors import Role
from lts_events.auth import Authenticator
from lts_events.auth_tokens import TokenTable
from lts_events.clock import Clock
from lts_events.envelope import Envelope
from lts_events.event import Event
from lts_events.relay import envelope_record
from lts_events.service import ServiceContext, ServiceParts
from lts_events.settings import RuntimeSettings
from lts_events.store.memory import InMemoryEventStore


def in_memory_context(name: str, *, clock: Clock) -> tuple[ServiceContext, InMemoryEventStore]:
    """The context of service `name` on a fresh in-memory store (no `database`: intake and
    metrics' audit log keep their tables in memory then, metrics' figures are not built), a
    broker to wrap in `TestKafkaBroker`, and no HTTP tokens."""
    store = InMemoryEventStore()
    context = ServiceContext(
        name=name,
        store=store,
        broker=KafkaBroker(),
        clock=clock,
        authenticator=Authenticator(TokenTable({})),
        settings=RuntimeSettings.for_service(name),
    )
    return context, store


def subscribed_service(
    name: str, build: Callable[[ServiceContext], ServiceParts], *, clock: Clock
) -> tuple[ServiceContext, InMemoryEventStore]:
    """`in_memory_context` with the service built by `build` and its subscriptions attached
    to the context's broker, ready for `deliver`."""
    context, store = in_memory_context(name, clock=clock)
    subscriptions = build(context).subscriptions
    if subscriptions is None:
        raise ValueError(f"{name}'s build makes no subscriptions to deliver to")
    subscriptions.attach(context.broker)
    return context, store


async def deliver(
    broker: KafkaBroker,
    topic: str,
    event: Event,
    *,
    subject: str,
    source: str,
    at: datetime,
    message_id: str | None = None,
) -> str:
    """Publish `event` on `topic` as another service's relay does (CloudEvents binary mode,
    key = subject); its message id (`message_id` again: a redelivery)."""
    envelope = Envelope(
        id=message_id or str(uuid.uuid4()),
        source=f"lts-flow/{source}",
        type=event.type,
        subject=subject,
        time=at,
        data=event.to_data(),
        actorid=f"lts-{source}",
        actorrole=Role.AUTOMATION,
        streamversion=1,
    )
    key, value, headers = envelope_record(envelope)
    await broker.publish(
        value, topic, key=key, headers={name: raw.decode() for name, raw in headers}
    )
    return envelope.id

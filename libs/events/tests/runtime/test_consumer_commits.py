"""A consumer commits a batch's Kafka offsets only after its handlers' transactions committed,
so a batch a member did not finish is delivered again, to whichever member of the group then
holds the partition. Real broker, real PostgreSQL; the group's committed offsets are read with
Kafka's admin API."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import ClassVar

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import RecordMetadata
from faststream.kafka import KafkaBroker
from lts_events.actors import automation
from lts_events.consumer import Inbound, Subscriptions
from lts_events.envelope import Envelope, NewEvent
from lts_events.event import Event
from lts_events.kafka import ensure_topics
from lts_events.relay import envelope_record
from lts_events.store.port import ANY
from lts_events.store.postgres import PostgresEventStore

pytestmark = pytest.mark.integration

LABELS = ("first", "blocking", "last")


class EntryLogged(Event):
    type: ClassVar[str] = "lts.rtcommit.entry_logged"
    label: str


class EntryCopied(Event):
    type: ClassVar[str] = "lts.rtcommit.entry_copied"
    label: str


@pytest.fixture
async def topic(kafka: str, unique: Callable[[str], str]) -> str:
    name = unique("rt-commit")
    await ensure_topics(kafka, [name])
    return name


async def send_entries(kafka: str, topic: str) -> list[RecordMetadata]:
    """LABELS as one stream's events (one key, so one partition, in this order)."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sent = []
        for label in LABELS:
            envelope = Envelope(
                id=str(uuid.uuid4()),
                source="lts-flow/test",
                type=EntryLogged.type,
                subject="entries",
                data={"label": label},
            )
            _, value, headers = envelope_record(envelope)
            sent.append(await producer.send_and_wait(topic, value, key=b"entries", headers=headers))
    finally:
        await producer.stop()
    return sent


class Copier:
    """A consumer's handler that copies each entry in its own transaction (events + processed
    message) and, while `hold` is clear, stops in the middle of the batch at "blocking"."""

    def __init__(self, store: PostgresEventStore, *, block: bool) -> None:
        self.store = store
        self.handled: list[str] = []
        self.blocked = asyncio.Event()
        self.hold = asyncio.Event()
        if not block:
            self.hold.set()

    async def on_entry_logged(self, inbound: Inbound[EntryLogged]) -> None:
        self.handled.append(inbound.event.label)
        if inbound.event.label == "blocking":
            self.blocked.set()
            await self.hold.wait()
        await self.store.append(
            "copies",
            [
                NewEvent.of(
                    EntryCopied(label=inbound.event.label),
                    inbound.follow_up(actor=automation("rtcommit")),
                )
            ],
            expected_version=ANY,
            processed=inbound.processed,
        )

    def subscriptions(self, group: str, topic: str) -> Subscriptions:
        return Subscriptions(group, store=self.store, topics={"lts.rtcommit.events": topic}).on(
            EntryLogged, self.on_entry_logged
        )


async def committed_offset(kafka: str, group: str, topic: str, partition: int) -> int:
    """The group's committed offset of the partition (the next offset it would read), 0 when
    it committed none."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    found = [
        meta.offset
        for tp, meta in offsets.items()
        if (tp.topic, tp.partition) == (topic, partition)
    ]
    return max([*found, 0])


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 45) -> None:
    async with asyncio.timeout(within):
        while True:
            if await check():
                return
            await asyncio.sleep(0.1)


async def copied(store: PostgresEventStore) -> Sequence[str]:
    return [e.data["label"] for e in (await store.read_stream("copies")).events]


async def test_nothing_of_a_batch_is_committed_while_one_of_its_handlers_still_works(
    store: PostgresEventStore, kafka: str, topic: str, unique: Callable[[str], str]
) -> None:
    sent = await send_entries(kafka, topic)
    partition, blocking_offset = sent[1].partition, sent[1].offset
    group = unique("rt-commit-group")
    copier = Copier(store, block=True)
    broker = KafkaBroker(kafka)
    copier.subscriptions(group, topic).attach(broker)

    async with broker:
        await broker.start()
        await asyncio.wait_for(copier.blocked.wait(), timeout=45)
        while_blocked = await committed_offset(kafka, group, topic, partition)
        copier.hold.set()

        async def all_committed() -> bool:
            return await committed_offset(kafka, group, topic, partition) == sent[-1].offset + 1

        await eventually(all_committed)

    assert while_blocked <= blocking_offset  # at most the batches before it
    assert await copied(store) == list(LABELS)


async def test_a_batch_a_member_did_not_finish_is_handled_by_the_member_taking_over(
    store: PostgresEventStore, kafka: str, topic: str, unique: Callable[[str], str]
) -> None:
    sent = await send_entries(kafka, topic)
    partition = sent[1].partition
    group = unique("rt-commit-group")
    dying, taking_over = Copier(store, block=True), Copier(store, block=False)
    first = KafkaBroker(kafka, graceful_timeout=None)  # stopped like a killed process: at once
    dying.subscriptions(group, topic).attach(first)
    second = KafkaBroker(kafka)
    taking_over.subscriptions(group, topic).attach(second)

    async with first:
        await first.start()
        await asyncio.wait_for(dying.blocked.wait(), timeout=45)
    async with second:
        await second.start()

        async def all_committed() -> bool:
            return await committed_offset(kafka, group, topic, partition) == sent[-1].offset + 1

        await eventually(all_committed)

    assert dying.handled == ["first", "blocking"]
    assert taking_over.handled == ["blocking", "last"]  # "first" was recorded as processed
    assert await copied(store) == list(LABELS)

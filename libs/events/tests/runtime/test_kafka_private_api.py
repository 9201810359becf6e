"""aiokafka's and FastStream's private API, read in one place (`lts_events.kafka`), still does
what the runtime relies on: the partition `key_partitioner` computes for a key is the one the
producer's public `send` chooses on the real broker, `batch_without_header_dicts` makes the
message FastStream's batch parser makes, less its header dicts, `adapt_fetches` changes
what the consumer's next fetch asks the real broker for, and `batches_without_naps` takes
FastStream's nap out of its batch subscriber's loop. Fails when an upgrade renames or
changes the private parts; then re-check the wrappers and move the pins in
libs/events/pyproject.toml."""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from collections.abc import Callable
from importlib.metadata import requires, version
from typing import ClassVar

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.protocol.fetch import FetchRequest
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaAckableMessage, KafkaMessage
from faststream.kafka.parser import AioKafkaBatchParser
from lts_events.consumer import Inbound, Subscriptions
from lts_events.event import Event
from lts_events.kafka import (
    adapt_fetches,
    batch_without_header_dicts,
    batches_without_naps,
    ensure_topics,
    key_partitioner,
)
from lts_events.store.memory import InMemoryEventStore
from packaging.requirements import Requirement

pytestmark = pytest.mark.integration

KEYS = [b"ticket-1", b"ticket-2", b"release-1.4", b"", b"\xff\x00binary", "é".encode() * 40]


@pytest.mark.parametrize("package", ["aiokafka", "faststream"])
def test_the_installed_library_is_in_the_range_the_wrapper_was_checked_against(
    package: str,
) -> None:
    [pinned] = [
        Requirement(line)
        for line in requires("lts-events") or []
        if Requirement(line).name == package
    ]

    assert pinned.specifier.contains(version(package))
    assert str(pinned.specifier) != ""  # a range, not any version


async def test_the_private_partitioner_takes_what_the_wrapper_passes(kafka: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka)

    partitioner = producer._partitioner

    assert list(inspect.signature(partitioner.__call__).parameters) == [
        "key",
        "all_partitions",
        "available",
    ]


async def test_the_wrappers_partition_of_a_key_is_where_send_puts_it(
    kafka: str, unique: Callable[[str], str]
) -> None:
    topic = unique("rt-partitioner")
    await ensure_topics(kafka, [topic], partitions=5)
    producer = AIOKafkaProducer(bootstrap_servers=kafka, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        partition_of = await key_partitioner(producer, topic)

        sent = {key: await producer.send_and_wait(topic, b"{}", key=key) for key in KEYS}
    finally:
        await producer.stop()

    assert {key: partition_of(key) for key in KEYS} == {key: m.partition for key, m in sent.items()}
    assert len({m.partition for m in sent.values()}) > 1  # the keys spread: a real check


class Consumer:
    """What a parser hands its messages for `ack` and `nack` (the subscriber's Kafka consumer)."""

    async def commit(self) -> None:
        pass

    def seek(self, partition: object, offset: int) -> None:
        pass


def a_record(offset: int, value: bytes | None) -> ConsumerRecord[bytes, bytes]:
    headers = [("ce_id", f"id-{offset}".encode()), ("content-type", b"application/json")]
    return ConsumerRecord(
        "lts.triage.events",
        2,
        offset,
        1_700_000_000_000 + offset,
        0,
        b"k",
        value,
        None,
        1,
        2,
        headers,
    )


async def test_a_batch_message_without_header_dicts_is_faststreams_message_less_the_dicts() -> None:
    parser = AioKafkaBatchParser(msg_class=KafkaAckableMessage, regex=None)
    consumer = Consumer()
    parser._setup(consumer)
    records = (a_record(7, b"{}"), a_record(8, None), a_record(9, b'{"a":1}'))

    theirs = await parser.parse_batch(records)
    ours = await batch_without_header_dicts(records, parser.parse_batch)

    assert type(ours) is type(theirs) is KafkaAckableMessage
    assert (ours.body, ours.raw_message, ours.message_id, ours.path, ours.consumer) == (
        theirs.body,
        theirs.raw_message,
        theirs.message_id,
        theirs.path,
        theirs.consumer,
    )
    assert (ours.committed, ours.reply_to, ours.content_type) == (None, "", None)
    assert theirs.batch_headers
    assert not ours.batch_headers  # the dicts left out: the point


async def test_a_pattern_subscriptions_batch_gets_faststreams_own_message() -> None:
    parser = AioKafkaBatchParser(msg_class=KafkaMessage, regex=re.compile("lts[.].*"))
    records = (a_record(1, b"{}"),)

    message = await batch_without_header_dicts(records, parser.parse_batch)

    assert message.batch_headers  # the path is FastStream's to match


BUSY_MIN_BYTES, BUSY_WAIT_MS, IDLE_WAIT_MS = 65_536, 20, 300


async def test_an_adapted_consumer_asks_seldom_when_idle_and_for_batches_when_busy(
    kafka: str, unique: Callable[[str], str]
) -> None:
    """Idle: a fetch every IDLE_WAIT_MS, not every BUSY_WAIT_MS, and the first message comes at
    once all the same. Busy: the fetch after one that brought messages waits for a batch."""
    topic = unique("rt-fetches")
    await ensure_topics(kafka, [topic], partitions=1)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka,
        auto_offset_reset="earliest",
        fetch_min_bytes=BUSY_MIN_BYTES,
        fetch_max_wait_ms=BUSY_WAIT_MS,
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
    fetches: list[tuple[float, int]] = []  # (when sent, the min bytes it asked for)
    await consumer.start()
    await producer.start()
    try:
        adapt_fetches(
            consumer,
            busy_min_bytes=BUSY_MIN_BYTES,
            busy_max_wait_ms=BUSY_WAIT_MS,
            idle_max_wait_ms=IDLE_WAIT_MS,
        )
        send = consumer._client.send

        fetch_sent = asyncio.Event()

        async def counted(node_id: int, request: object, **kwargs: object) -> object:
            if isinstance(request, FetchRequest):
                fetches.append((time.monotonic(), request._min_bytes))
                fetch_sent.set()
            return await send(node_id, request, **kwargs)

        consumer._client.send = counted
        idle_from = time.monotonic()
        await asyncio.sleep(1.5)
        idle_fetches = sum(1 for at, _ in fetches if at >= idle_from)

        fetch_sent.clear()
        await fetch_sent.wait()  # a fetch just went out: it would hold a message longest
        sent_at = time.monotonic()
        await producer.send_and_wait(topic, b"first after a quiet spell")
        first = await asyncio.wait_for(consumer.getone(), 10)
        first_after = time.monotonic() - sent_at
        await producer.send_and_wait(topic, b"second")
        await asyncio.wait_for(consumer.getone(), 10)
    finally:
        await producer.stop()
        await consumer.stop()

    assert idle_fetches <= 1.5 / (IDLE_WAIT_MS / 1000) + 2  # 75 at BUSY_WAIT_MS
    assert first.value == b"first after a quiet spell"
    assert first_after < IDLE_WAIT_MS / 1000 / 2  # answered at the first byte
    assert BUSY_MIN_BYTES in {min_bytes for at, min_bytes in fetches if at >= sent_at}


async def test_a_batch_subscriber_without_naps_takes_a_message_after_a_quiet_spell_at_once(
    kafka: str, unique: Callable[[str], str]
) -> None:
    """FastStream's own loop, after a wait of `batch_timeout_ms` that brought nothing, sleeps as
    long again: a message sent 1.5 s after the last one came would wait ~0.5 s for that nap
    to end. Without the nap it is taken as soon as it is there."""
    topic = unique("rt-naps")
    await ensure_topics(kafka, [topic], partitions=1)
    broker = KafkaBroker(kafka)
    arrived: dict[bytes, float] = {}
    came = asyncio.Event()
    subscriber = broker.subscriber(
        topic,
        group_id=unique("rt-naps-group"),
        auto_offset_reset="earliest",
        batch=True,
        batch_timeout_ms=1000,
        max_records=10,
    )

    @subscriber
    async def handle(bodies: list[bytes]) -> None:
        for body in bodies:
            arrived[body] = time.monotonic()
        came.set()

    batches_without_naps(subscriber, max_records=10, wait_ms=1000)
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
    await broker.start()
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"first")
        await asyncio.wait_for(came.wait(), 30)
        came.clear()
        await asyncio.sleep(1.5)  # FastStream's loop: 1 s of waiting in vain, then its nap
        sent_at = time.monotonic()
        await producer.send_and_wait(topic, b"after a quiet spell")
        await asyncio.wait_for(came.wait(), 10)
    finally:
        await producer.stop()
        await broker.stop()

    assert arrived[b"after a quiet spell"] - sent_at < 0.25


class FetchProbe(Event):
    type: ClassVar[str] = "lts.rtfetch.probe"
    n: int


async def test_the_runtime_s_subscriptions_adapt_their_consumer_s_fetches(
    kafka: str, unique: Callable[[str], str]
) -> None:
    """`Subscriptions.attach` wires `adapt_fetches` into the consumer FastStream starts: idle,
    it asks the broker every IDLE_WAIT_MS, not every BUSY_WAIT_MS."""
    topic = unique("rt-wired")
    await ensure_topics(kafka, [topic], partitions=1)

    async def ignore(inbound: Inbound[FetchProbe]) -> None:
        pass

    subscriptions = Subscriptions(
        unique("rt-wired-group"),
        store=InMemoryEventStore(),
        topics={"lts.rtfetch.events": topic},
    ).on(FetchProbe, ignore)
    broker = KafkaBroker(kafka)
    subscriptions.attach(
        broker,
        fetch_min_bytes=BUSY_MIN_BYTES,
        fetch_max_wait_ms=BUSY_WAIT_MS,
        fetch_idle_wait_ms=IDLE_WAIT_MS,
    )
    fetches: list[float] = []
    async with broker:
        await broker.start()
        consumer = subscriptions._subscriber.consumer  # type: ignore[attr-defined]
        send = consumer._client.send

        async def counted(node_id: int, request: object, **kwargs: object) -> object:
            if isinstance(request, FetchRequest):
                fetches.append(time.monotonic())
            return await send(node_id, request, **kwargs)

        consumer._client.send = counted
        await asyncio.sleep(1.0)  # joined the group and idle
        idle_from = time.monotonic()
        await asyncio.sleep(1.5)

    assert sum(1 for at in fetches if at >= idle_from) <= 1.5 / (IDLE_WAIT_MS / 1000) + 2

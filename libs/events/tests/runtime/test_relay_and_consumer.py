"""The relay and the consumer runtime against the real Kafka broker and real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from faststream.kafka import KafkaBroker
from lts_events.actors import Actor, Role, automation
from lts_events.consumer import (
    EXHAUSTED,
    PERMANENT,
    UNDECODABLE,
    UNKNOWN_TYPE,
    Inbound,
    PermanentError,
    RetryPolicy,
    Subscriptions,
)
from lts_events.envelope import Envelope, Metadata, NewEvent
from lts_events.event import Event
from lts_events.kafka import ensure_topics, header
from lts_events.relay import Relay, envelope_record
from lts_events.store.port import ANY, Checkpoint
from lts_events.store.postgres import PostgresEventStore

pytestmark = pytest.mark.integration

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
ALICE = Actor(id="alice", role=Role.MAINTAINER)


class ItemAdded(Event):
    type: ClassVar[str] = "lts.rtint.item_added"
    item_id: str
    label: str


class ItemCopied(Event):
    type: ClassVar[str] = "lts.rtint.item_copied"
    item_id: str


async def add_items(store: PostgresEventStore, stream: str, *labels: str) -> None:
    for label in labels:
        event = ItemAdded(item_id=f"{stream}/{label}", label=label)
        metadata = Metadata(actor=ALICE, reason="test", traceparent=TRACEPARENT)
        await store.append(stream, [NewEvent.of(event, metadata)], expected_version=ANY)


async def read_topic(kafka: str, topic: str, count: int, *, within: float = 30) -> list[Any]:
    """Every record of `topic`, once at least `count` are there: read up to the end offsets
    the broker gives then, so that a record beyond `count` already sent is seen too."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(within):
            while len(records) < count:
                batch = await consumer.getmany(timeout_ms=500)
                for partition_records in batch.values():
                    records.extend(partition_records)
            ends = await consumer.end_offsets(list(consumer.assignment()))
            while any([await consumer.position(tp) < end for tp, end in ends.items()]):
                for partition_records in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 45) -> None:
    async with asyncio.timeout(within):
        while True:
            if await check():
                return
            await asyncio.sleep(0.2)


async def publish(relay: Relay, expected: int, *, within: float = 30) -> int:
    """Publish until `expected` events went out. The store's transaction-id barrier holds events
    back while any transaction that started earlier (in the shared database) is still open."""
    total = 0
    async with asyncio.timeout(within):
        while total < expected:
            total += await relay.publish_pending()
            if total < expected:
                await asyncio.sleep(0.1)
    return total


class CrashesBeforeCheckpoint:
    """The real store, except that the process "dies" when saving the relay checkpoint: events
    reached Kafka but the checkpoint did not move."""

    def __init__(self, store: PostgresEventStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def save_checkpoint(self, name: str, checkpoint: Checkpoint) -> None:
        raise SystemError("killed between publishing and checkpointing")


@pytest.fixture
async def topic(kafka: str, unique: Callable[[str], str]) -> str:
    name = unique("rt-topic")
    await ensure_topics(kafka, [name])
    return name


async def test_relay_publishes_stored_events_as_binary_cloudevents_keyed_by_stream(
    store: PostgresEventStore, kafka: str, topic: str
) -> None:
    await add_items(store, "item-a", "one", "two")
    await add_items(store, "item-b", "three")
    relay = Relay(store, bootstrap_servers=kafka, topic=topic, source="lts-flow/rtint")

    async with relay:
        published = await publish(relay, 3)
        again = await relay.publish_pending()

    records = await read_topic(kafka, topic, 3)
    assert (published, again, len(records)) == (3, 0, 3)
    stored = {str(e.event_id): e for e in await store.read_all(after=Checkpoint.start())}
    for record in records:
        event = stored[header(record.headers, "ce_id") or ""]
        assert record.key == event.stream_id.encode()
        assert json.loads(record.value) == event.data
        assert header(record.headers, "ce_type") == ItemAdded.type
        assert header(record.headers, "ce_source") == "lts-flow/rtint"
        assert header(record.headers, "ce_subject") == event.stream_id
        assert header(record.headers, "ce_streamversion") == str(event.stream_version)
        assert header(record.headers, "ce_specversion") == "1.0"
        assert header(record.headers, "ce_time") is not None
        assert header(record.headers, "ce_actorid") == "alice"
        assert header(record.headers, "content-type") == "application/json"
        assert "4bf92f3577b34da6a3ce929d0e0e4736" in (header(record.headers, "traceparent") or "")
    last = max(stored.values(), key=lambda e: (e.transaction_id, e.position))
    checkpoint = await store.load_checkpoint(relay.checkpoint_name)
    assert checkpoint == Checkpoint(last.transaction_id, last.position)


async def test_events_republished_after_a_crash_are_applied_once_by_the_consumer(
    schemas: Callable[[str], Awaitable[PostgresEventStore]],
    kafka: str,
    topic: str,
    unique: Callable[[str], str],
) -> None:
    producer_store = await schemas(unique("rt_producer"))
    consumer_store = await schemas(unique("rt_consumer"))
    await add_items(producer_store, "item-1", "a", "b", "c")
    crashing = Relay(
        CrashesBeforeCheckpoint(producer_store),
        bootstrap_servers=kafka,
        topic=topic,
        source="lts-flow/rtint",
    )
    with pytest.raises(SystemError):
        async with crashing:
            await publish(crashing, 3)

    async with Relay(
        producer_store, bootstrap_servers=kafka, topic=topic, source="lts-flow/rtint"
    ) as restarted:
        republished = await publish(restarted, 3)
        await add_items(producer_store, "item-1", "sentinel")
        await publish(restarted, 1)

    calls: list[str] = []

    async def on_item_added(inbound: Inbound[ItemAdded]) -> None:
        calls.append(inbound.envelope.id)
        await consumer_store.append(
            "copies",
            [
                NewEvent.of(
                    ItemCopied(item_id=inbound.event.item_id),
                    inbound.follow_up(actor=automation("rtint")),
                )
            ],
            expected_version=ANY,
            processed=inbound.processed,
        )

    subscriptions = Subscriptions(
        unique("rt-group"), store=consumer_store, topics={"lts.rtint.events": topic}
    ).on(ItemAdded, on_item_added)
    broker = KafkaBroker(kafka)
    subscriptions.attach(broker)
    async with broker:
        await broker.start()

        async def sentinel_copied() -> bool:
            copies = await consumer_store.read_stream("copies")
            return any(e.data["item_id"] == "item-1/sentinel" for e in copies.events)

        await eventually(sentinel_copied)

    copies = (await consumer_store.read_stream("copies")).events
    assert republished == 3
    assert [e.data["item_id"] for e in copies] == [
        "item-1/a",
        "item-1/b",
        "item-1/c",
        "item-1/sentinel",
    ]
    assert len(calls) == 4  # the three republished events were skipped, not handled again
    assert len(await read_topic(kafka, topic, 7)) == 7


async def _send(
    kafka: str, topic: str, messages: Sequence[tuple[bytes, list[tuple[str, bytes]]]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for value, headers in messages:
            await producer.send_and_wait(topic, value, key=b"item-9", headers=headers)
    finally:
        await producer.stop()


def _item(label: str, *, event_id: str) -> tuple[bytes, list[tuple[str, bytes]]]:
    envelope = Envelope(
        id=event_id,
        source="lts-flow/test",
        type=ItemAdded.type,
        subject="item-9",
        data={"item_id": f"item-9/{label}", "label": label},
    )
    _, value, headers = envelope_record(envelope)
    return value, headers


async def test_messages_that_cannot_be_processed_land_in_the_dlq_and_the_next_one_is_processed(
    store: PostgresEventStore, kafka: str, topic: str, unique: Callable[[str], str]
) -> None:
    dlq = unique("rt-dlq")
    group = unique("rt-group")
    await ensure_topics(kafka, [dlq])
    unknown = Envelope(
        id="u1", source="lts-flow/test", type="lts.rtint.never_heard_of", data={"a": 1}
    )
    malformed = (
        b"{this is not json",
        [("ce_id", b"m1"), ("ce_source", b"x"), ("ce_type", ItemAdded.type.encode())],
    )
    await _send(
        kafka,
        topic,
        [
            malformed,
            envelope_record(unknown)[1:],
            _item("always-fails", event_id="f1"),
            _item("forbidden", event_id="p1"),
            _item("good", event_id="g1"),
        ],
    )
    attempts: dict[str, int] = {}

    async def on_item_added(inbound: Inbound[ItemAdded]) -> None:
        attempts[inbound.event.label] = attempts.get(inbound.event.label, 0) + 1
        if inbound.event.label == "always-fails":
            raise RuntimeError("downstream is broken")
        if inbound.event.label == "forbidden":
            raise PermanentError("label is forbidden")
        await store.append(
            "processed",
            [
                NewEvent.of(
                    ItemCopied(item_id=inbound.event.item_id),
                    inbound.follow_up(actor=automation("rtint")),
                )
            ],
            expected_version=ANY,
            processed=inbound.processed,
        )

    subscriptions = Subscriptions(
        group,
        store=store,
        dlq_topic=dlq,
        retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05),
        topics={"lts.rtint.events": topic},
    ).on(ItemAdded, on_item_added)
    broker = KafkaBroker(kafka)
    subscriptions.attach(broker)
    async with broker:
        await broker.start()

        async def good_processed() -> bool:
            return (await store.read_stream("processed")).version == 1

        await eventually(good_processed)

    dead = await read_topic(kafka, dlq, 4)
    by_reason = {header(r.headers, "dlq_reason"): r for r in dead}
    assert set(by_reason) == {UNDECODABLE, UNKNOWN_TYPE, EXHAUSTED, PERMANENT}
    assert len(dead) == 4
    assert by_reason[UNDECODABLE].value == b"{this is not json"
    assert header(by_reason[UNDECODABLE].headers, "ce_id") == "m1"
    assert header(by_reason[UNKNOWN_TYPE].headers, "ce_type") == "lts.rtint.never_heard_of"
    assert header(by_reason[EXHAUSTED].headers, "dlq_error_type") == "RuntimeError"
    assert header(by_reason[PERMANENT].headers, "dlq_error") == "label is forbidden"
    for record in dead:
        assert record.key == b"item-9"
        assert header(record.headers, "dlq_source_topic") == topic
        assert header(record.headers, "dlq_consumer") == group
        assert header(record.headers, "dlq_source_partition") is not None
        assert header(record.headers, "dlq_source_offset") is not None
        assert header(record.headers, "dlq_failed_at") is not None
    assert attempts == {"always-fails": 3, "forbidden": 1, "good": 1}


async def test_batched_records_land_where_the_producers_send_puts_their_key_in_order(
    kafka: str, unique: Callable[[str], str]
) -> None:
    from lts_events.relay import send_records

    batched, sent = unique("rt-batched"), unique("rt-sent")
    await ensure_topics(kafka, [batched, sent])
    records = [
        (f"stream-{n % 7}".encode(), f"{n}".encode() * (n % 50 + 1), [("n", str(n).encode())])
        for n in range(400)
    ]
    producer = AIOKafkaProducer(bootstrap_servers=kafka, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await (await send_records(producer, batched, records))
        for key, value, headers in records:
            await producer.send(sent, value, key=key, headers=headers)
        await producer.flush()
    finally:
        await producer.stop()

    def placed(found: list[Any]) -> dict[bytes, tuple[set[int], list[bytes]]]:
        by_key: dict[bytes, tuple[set[int], list[bytes]]] = {}
        for record in sorted(found, key=lambda r: (r.partition, r.offset)):
            partitions, values = by_key.setdefault(record.key, (set(), []))
            partitions.add(record.partition)
            values.append(record.value)
        return by_key

    ours = placed(await read_topic(kafka, batched, len(records)))
    theirs = placed(await read_topic(kafka, sent, len(records)))
    assert ours == theirs
    assert all(len(partitions) == 1 for partitions, _ in ours.values())
    assert sum(len(values) for _, values in ours.values()) == len(records)

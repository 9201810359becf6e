"""The I/O of `lts dlq`: read the DLQ topic from its beginning to its end (no consumer group, no
commits), send messages back to their source topic, and record each replay as a
`DeadLetterReplayed` event in the `ops` store, whose streams say what was replayed already."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.engine import make_url

from lts_events.actors import Actor
from lts_events.contracts.ops import DeadLetterReplayed, dead_letter_stream
from lts_events.dlq.messages import DeadLetterRecord, DlqRef, Replay, ReplayPlan
from lts_events.envelope import Metadata, NewEvent
from lts_events.infra import Found
from lts_events.store.port import ANY, NO_STREAM, ConcurrencyError, EventStore
from lts_events.store.postgres import PostgresEventStore

OPS_SCHEMA = "ops"
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 120.0  # reading the whole DLQ; a broker gone meanwhile must not hang the command
# A server that answers but will not let us in: starting up, wrong user, no such database.
_REFUSED_BY_POSTGRES = (
    asyncpg.CannotConnectNowError,
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.InvalidCatalogNameError,
)


class Unreachable(RuntimeError):
    """Kafka or PostgreSQL did not answer; the message names which and where it was found."""


@asynccontextmanager
async def ops_store(postgres: Found, *, schema: str = OPS_SCHEMA) -> AsyncIterator[EventStore]:
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            store = await PostgresEventStore.connect(postgres.address, schema=schema, pool_size=2)
    except (OSError, TimeoutError, *_REFUSED_BY_POSTGRES) as error:
        shown = make_url(postgres.address).render_as_string(hide_password=True)
        detail = str(error) or type(error).__name__
        raise Unreachable(_unreachable("PostgreSQL", shown, postgres, detail)) from error
    try:
        yield store
    finally:
        await store.close()


async def read_dead_letters(kafka: Found, topic: str) -> list[DeadLetterRecord]:
    """Every record of `topic`, from each partition's beginning to its end as of now."""
    partitions = [TopicPartition(topic, p) for p in await _partitions(kafka, topic)]
    if not partitions:
        return []
    # `earliest`: with aiokafka's default (`latest`), the reset it starts on `assign` can win the
    # race with `seek_to_beginning` and skip every record
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.address,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await _start(consumer, kafka)
    try:
        consumer.assign(partitions)
        ends: Mapping[TopicPartition, int] = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[DeadLetterRecord] = []
        try:
            async with asyncio.timeout(READ_TIMEOUT_S):
                while [p for p in partitions if await consumer.position(p) < ends[p]]:
                    fetched = await consumer.getmany(*partitions, timeout_ms=500)
                    for part, batch in fetched.items():
                        records += [_record(r) for r in batch if r.offset < ends[part]]
        except TimeoutError as error:
            detail = f"stopped answering while {topic} was read ({len(records)} records)"
            raise Unreachable(_unreachable("Kafka", kafka.address, kafka, detail)) from error
        return records
    finally:
        await consumer.stop()


async def _partitions(kafka: Found, topic: str) -> list[int]:
    """The partitions of `topic`; none when it does not exist (it is not created)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.address)
    await _start(admin, kafka)
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(
        p["partition"] for t in described if t["error_code"] == 0 for p in t["partitions"]
    )


def _record(raw: Any) -> DeadLetterRecord:
    """A DeadLetterRecord of an aiokafka ConsumerRecord."""
    return DeadLetterRecord(
        ref=DlqRef(raw.partition, raw.offset),
        key=raw.key,
        value=raw.value,
        headers=tuple((str(k), bytes(v or b"")) for k, v in raw.headers or ()),
        timestamp=datetime.fromtimestamp(raw.timestamp / 1000, UTC),
    )


async def recorded_replays(
    store: EventStore, dlq_topic: str, refs: Sequence[DlqRef]
) -> dict[DlqRef, list[Replay]]:
    """The replays recorded for each of `refs` (empty for none), oldest first."""
    streams = {dead_letter_stream(dlq_topic, *ref): ref for ref in refs}
    histories = await store.read_streams(list(streams))
    return {
        ref: [
            Replay(e.recorded_at, e.metadata.actor.id, bool(e.data.get("forced")))
            for e in histories[stream].events
            if e.type == DeadLetterReplayed.type
        ]
        for stream, ref in streams.items()
    }


@dataclass
class ReplayReport:
    sent: list[tuple[DeadLetterRecord, DlqRef]] = field(default_factory=list)
    """Each message sent, with where it landed on its source topic (partition:offset)."""
    raced: list[DeadLetterRecord] = field(default_factory=list)
    """Sent, but another run recorded its replay first (consumers skip the duplicate)."""


async def replay(
    plan: ReplayPlan,
    *,
    kafka: Found,
    store: EventStore,
    dlq_topic: str,
    actor: Actor,
    note: str | None,
    force: bool,
) -> ReplayReport:
    """Send `plan.send` back, each with its original key, value and headers (its `ce_id` among
    them) to the partition it was read from, and record each replay once Kafka acknowledged it.
    Recorded after sending: a crash in between leaves a replay unrecorded, which a second run
    repeats harmlessly (the consumers' processed-message records make it a no-op), whereas
    recording first could mark as replayed a message that never went out."""
    report = ReplayReport()
    if not plan.send:
        return report
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.address, enable_idempotence=True, acks="all"
    )
    await _start(producer, kafka)
    try:
        for record in plan.send:
            assert record.source_topic is not None
            sent = await producer.send_and_wait(
                record.source_topic,
                record.value,
                key=record.key,
                partition=record.source_partition,
                headers=list(record.original_headers),
            )
            landed = DlqRef(sent.partition, sent.offset)
            try:
                await _record_replay(store, record, landed, dlq_topic, actor, note, force)
            except ConcurrencyError:
                report.raced.append(record)
            else:
                report.sent.append((record, landed))
    finally:
        await producer.stop()
    return report


async def _record_replay(
    store: EventStore,
    record: DeadLetterRecord,
    landed: DlqRef,
    dlq_topic: str,
    actor: Actor,
    note: str | None,
    force: bool,
) -> None:
    assert record.source_topic is not None
    event = DeadLetterReplayed(
        dlq_topic=dlq_topic,
        dlq_partition=record.ref.partition,
        dlq_offset=record.ref.offset,
        source_topic=record.source_topic,
        source_partition=record.source_partition,
        source_offset=record.source_offset,
        consumer=record.consumer,
        reason=record.reason,
        message_id=record.message_id,
        replayed_partition=landed.partition,
        replayed_offset=landed.offset,
        forced=force,
    )
    await store.append(
        dead_letter_stream(dlq_topic, *record.ref),
        [NewEvent.of(event, Metadata(actor=actor, reason=note))],
        expected_version=ANY if force else NO_STREAM,
    )


async def _start(
    client: AIOKafkaConsumer | AIOKafkaProducer | AIOKafkaAdminClient, kafka: Found
) -> None:
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            await client.start()
    except Exception as error:
        await (client.close() if isinstance(client, AIOKafkaAdminClient) else client.stop())
        # aiokafka's message repeats the address as a tuple; its type says enough
        raise Unreachable(
            _unreachable("Kafka", kafka.address, kafka, type(error).__name__)
        ) from error


def _unreachable(what: str, address: str, found: Found, detail: str) -> str:
    return f"{what} at {address} (from {found.origin}) does not answer: {detail}"

"""`lts dlq list` and `lts dlq replay` on the real broker and database: a real consumer
dead-letters a message, the operator finds it with filters, replays it once it can be processed,
and the replay is audited and not repeated without --force."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faststream.kafka import KafkaBroker
from lts_events.actors import Actor, Role, automation
from lts_events.cli import app
from lts_events.consumer import (
    EXHAUSTED,
    PERMANENT,
    DeadLetter,
    Inbound,
    PermanentError,
    RawMessage,
    RetryPolicy,
    Subscriptions,
    dlq_headers,
)
from lts_events.contracts.ops import DeadLetterReplayed, dead_letter_stream
from lts_events.dlq.messages import plan_replay
from lts_events.dlq.replay import read_dead_letters, replay
from lts_events.envelope import Envelope, NewEvent
from lts_events.event import Event
from lts_events.infra import Found
from lts_events.kafka import ensure_topics, header
from lts_events.relay import envelope_record
from lts_events.store.port import ANY, ProcessedMessage
from lts_events.store.postgres import PostgresEventStore
from typer.testing import CliRunner, Result

from .test_relay_and_consumer import _send, eventually

pytestmark = pytest.mark.integration


class ParcelSent(Event):
    type: ClassVar[str] = "lts.dlqtest.parcel_sent"
    label: str


class ParcelCopied(Event):
    type: ClassVar[str] = "lts.dlqtest.parcel_copied"
    label: str


def parcel(label: str, *, event_id: str) -> tuple[bytes, list[tuple[str, bytes]]]:
    envelope = Envelope(
        id=event_id, source="lts-flow/test", type=ParcelSent.type, data={"label": label}
    )
    _, value, headers = envelope_record(envelope)
    return value, headers


async def lts(kafka: str, database_url: str, *args: str) -> Result:
    """The `lts` command as an operator runs it, with the stack named by the environment."""
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka, "DATABASE_URL": database_url}

    def invoke() -> Result:
        return CliRunner().invoke(app, list(args), env=env)

    return await asyncio.to_thread(invoke)


async def records_of(kafka: str, topic: str) -> list[Any]:
    """Every record of `topic` up to its current end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(3)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        found: list[Any] = []
        while [p for p in partitions if await consumer.position(p) < ends[p]]:
            for batch in (await consumer.getmany(*partitions, timeout_ms=500)).values():
                found += batch
        return found
    finally:
        await consumer.stop()


def with_id(records: Sequence[Any], event_id: str) -> list[Any]:
    return [r for r in records if header(r.headers, "ce_id") == event_id]


async def test_a_dead_lettered_message_is_listed_replayed_once_and_audited(
    schemas: Callable[[str], Awaitable[PostgresEventStore]],
    kafka: str,
    database_url: str,
    unique: Callable[[str], str],
) -> None:
    topic, dlq, group = unique("dlq-src"), unique("dlq-dlq"), unique("dlq-group")
    store = await schemas(unique("dlq_consumer"))
    ops = await schemas(unique("dlq_ops"))
    await ensure_topics(kafka, [topic, dlq])
    cli = ("--dlq-topic", dlq, "--schema", ops.schema)
    failing = {"flaky"}  # the handler's downstream refuses these until "fixed"
    calls: list[str] = []

    async def on_parcel_sent(inbound: Inbound[ParcelSent]) -> None:
        calls.append(inbound.event.label)
        if inbound.event.label in failing:
            raise RuntimeError("downstream is down")
        if inbound.event.label == "forbidden":
            raise PermanentError("label is forbidden")
        copied = ParcelCopied(label=inbound.event.label)
        metadata = inbound.follow_up(actor=automation("dlqtest"))
        await store.append(
            "copies",
            [NewEvent.of(copied, metadata)],
            expected_version=ANY,
            processed=inbound.processed,
        )

    async def copies_of(label: str) -> int:
        events = (await store.read_stream("copies")).events
        return sum(1 for e in events if e.data["label"] == label)

    subscriptions = Subscriptions(
        group,
        store=store,
        dlq_topic=dlq,
        retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02),
        topics={"lts.dlqtest.events": topic},
    ).on(ParcelSent, on_parcel_sent)
    broker = KafkaBroker(kafka)
    subscriptions.attach(broker)
    async with broker:
        await broker.start()
        await _send(
            kafka,
            topic,
            [
                parcel("flaky", event_id="flaky-1"),
                parcel("forbidden", event_id="forbidden-1"),
                parcel("good", event_id="good-1"),
            ],
        )

        async def both_dead_lettered() -> bool:
            return len(await records_of(kafka, dlq)) == 2 and await copies_of("good") == 1

        await eventually(both_dead_lettered)

        # list: filters by reason, source topic, consumer and time
        listed = await lts(kafka, database_url, "dlq", "list", "--json", *cli)
        assert listed.exit_code == 0, listed.output
        assert {m["message_id"] for m in json.loads(listed.stdout)} == {"flaky-1", "forbidden-1"}
        exhausted = await lts(
            kafka,
            database_url,
            "dlq",
            "list",
            "--json",
            "--reason",
            EXHAUSTED,
            "--topic",
            topic,
            "--consumer",
            group,
            "--since",
            "1h",
            *cli,
        )
        [flaky] = json.loads(exhausted.stdout)
        assert (flaky["message_id"], flaky["source_topic"], flaky["consumer"]) == (
            "flaky-1",
            topic,
            group,
        )
        assert flaky["error"] == "downstream is down"
        assert flaky["replays"] == []
        for no_match in (["--topic", "lts.elsewhere"], ["--until", "1h"], ["--consumer", "x"]):
            empty = await lts(kafka, database_url, "dlq", "list", "--json", *no_match, *cli)
            assert json.loads(empty.stdout) == [], no_match
        table = await lts(kafka, database_url, "dlq", "list", "--reason", PERMANENT, *cli)
        assert "forbidden-1" in table.stdout
        assert "flaky-1" not in table.stdout
        ref = f"{flaky['dlq_partition']}:{flaky['dlq_offset']}"
        source_before = await records_of(kafka, topic)

        # a dry run sends and records nothing
        dry = await lts(kafka, database_url, "dlq", "replay", ref, "--dry-run", *cli)
        assert dry.exit_code == 0, dry.output
        assert f"would replay {ref} -> {topic}" in dry.stdout
        assert len(await records_of(kafka, topic)) == len(source_before)

        # the downstream is fixed: the replay reaches the consumer with the original id
        failing.clear()
        replayed = await lts(
            kafka, database_url, "dlq", "replay", ref, "--by", "alice", "--note", "db fixed", *cli
        )
        assert replayed.exit_code == 0, replayed.output
        assert f"replayed {ref} -> {topic}" in replayed.stdout

        async def flaky_copied() -> bool:
            return await copies_of("flaky") == 1

        await eventually(flaky_copied)
        assert await store.is_processed(ProcessedMessage(group, "flaky-1"))
        original, replay = with_id(await records_of(kafka, topic), "flaky-1")
        assert (replay.key, replay.value) == (original.key, original.value)
        assert [h for h in replay.headers if h[0].startswith("dlq_")] == []
        assert set(original.headers) <= set(replay.headers)

        # audited once, by whom, why and where the copy landed
        [audit] = (await ops.read_stream(dead_letter_stream(dlq, *map(int, ref.split(":"))))).events
        assert audit.type == DeadLetterReplayed.type
        assert (audit.metadata.actor.id, audit.metadata.actor.role) == ("alice", Role.SRE)
        assert audit.metadata.reason == "db fixed"
        assert audit.data["message_id"] == "flaky-1"
        assert audit.data["reason"] == EXHAUSTED
        assert (audit.data["replayed_partition"], audit.data["replayed_offset"]) == (
            replay.partition,
            replay.offset,
        )
        assert audit.data["forced"] is False

        # a second replay is refused, by reference and by filter
        sent_so_far = len(await records_of(kafka, topic))
        again = await lts(kafka, database_url, "dlq", "replay", ref, *cli)
        assert again.exit_code == 1
        assert f"refused  {ref}: replayed" in again.stderr
        by_filter = await lts(kafka, database_url, "dlq", "replay", "--reason", EXHAUSTED, *cli)
        assert by_filter.exit_code == 0, by_filter.output
        assert "replayed 0, refused 1" in by_filter.stderr
        assert len(await records_of(kafka, topic)) == sent_so_far
        listed_after = await lts(kafka, database_url, "dlq", "list", "--json", "--pending", *cli)
        assert [m["message_id"] for m in json.loads(listed_after.stdout)] == ["forbidden-1"]

        # --force sends it again, audited as forced; the consumer skips the duplicate
        forced = await lts(kafka, database_url, "dlq", "replay", ref, "--force", *cli)
        assert forced.exit_code == 0, forced.output
        await _send(kafka, topic, [parcel("sentinel", event_id="sentinel-1")])

        async def sentinel_copied() -> bool:
            return await copies_of("sentinel") == 1

        await eventually(sentinel_copied)

    assert len(with_id(await records_of(kafka, topic), "flaky-1")) == 3
    assert await copies_of("flaky") == 1
    assert calls.count("flaky") == 3  # two failed attempts, then the first replay
    audits = (await ops.read_stream(dead_letter_stream(dlq, *map(int, ref.split(":"))))).events
    assert [a.data["forced"] for a in audits] == [False, True]


async def test_an_unreachable_broker_fails_in_one_line_naming_where_it_was_found(
    database_url: str,
) -> None:
    result = await lts("127.0.0.1:1", database_url, "dlq", "list")

    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "Kafka at 127.0.0.1:1 (from KAFKA_BOOTSTRAP_SERVERS) does not answer: KafkaConnectionError"
    ]


async def test_an_unreachable_database_fails_in_one_line_naming_where_it_was_found(
    kafka: str,
) -> None:
    result = await lts(kafka, "postgresql://postgres:secret@127.0.0.1:1/postgres", "dlq", "list")

    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(
        "PostgreSQL at postgresql://postgres:***@127.0.0.1:1/postgres (from DATABASE_URL) "
        "does not answer"
    )


async def test_two_replays_racing_for_one_message_record_it_once(
    schemas: Callable[[str], Awaitable[PostgresEventStore]],
    kafka: str,
    unique: Callable[[str], str],
) -> None:
    topic, dlq = unique("dlq-src"), unique("dlq-dlq")
    ops = await schemas(unique("dlq_ops"))
    await ensure_topics(kafka, [topic, dlq])
    value, headers = parcel("raced", event_id="raced-1")
    failed = RawMessage.of(
        value=value, headers=headers, key=b"k", topic=topic, partition=0, offset=0
    )
    facts = dlq_headers(
        failed,
        DeadLetter(PERMANENT, "PermanentError", "no"),
        consumer="c",
        failed_at=datetime.now(UTC),
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(dlq, value, key=b"k", headers=facts)
    finally:
        await producer.stop()
    kafka_found = Found(kafka, "the test")
    [record] = await read_dead_letters(kafka_found, dlq)
    plan = plan_replay([record], {}, force=False)  # both runs planned before either recorded

    reports = await asyncio.gather(
        *(
            replay(
                plan,
                kafka=kafka_found,
                store=ops,
                dlq_topic=dlq,
                actor=Actor(id=name, role=Role.SRE),
                note=None,
                force=False,
            )
            for name in ("alice", "bob")
        )
    )

    assert sorted((len(r.sent), len(r.raced)) for r in reports) == [(0, 1), (1, 0)]
    audits = (await ops.read_stream(dead_letter_stream(dlq, *record.ref))).events
    assert len(audits) == 1

"""Reading what the run left: the services' stores (PostgreSQL) and the consumer groups and the
dead-letter topic (Kafka). Reads only; the judging is in `checks.py`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from lts_events.dlq.messages import DeadLetterRecord
from lts_events.dlq.replay import read_dead_letters
from lts_events.infra import Found
from lts_events.kafka import DLQ_TOPIC, events_topic
from lts_intake.kafka import INBOUND_ALERTS

PIPELINE = ("intake", "triage", "metrics")
"""The services a scenario runs unless it names them all (`scenarios.Scenario.services`)."""
NOT_RELAYED = ("metrics",)
"""Stores whose events are not published (metrics' audit log copies the others')."""


def relayed(services: Sequence[str]) -> tuple[str, ...]:
    return tuple(s for s in services if s not in NOT_RELAYED)


def consumes(services: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The topics of the run each consumer group reads (the others it subscribes stay empty):
    each service the events of those before it that it listens to, metrics every service's."""
    published = {s: events_topic(s) for s in relayed(services)}
    inputs = {
        "intake": (INBOUND_ALERTS,),
        "triage": (published["intake"],),
        "release": tuple(published[s] for s in ("triage", "release") if s in published),
        "comms": tuple(
            published[s] for s in ("intake", "triage", "release", "comms") if s in published
        ),
        "metrics": tuple(published.values()),
    }
    return {group: inputs[group] for group in services}


@dataclass(frozen=True)
class Snapshot:
    """What quiescence is judged on."""

    events: tuple[int, ...]
    """Events in each service's store (in the order of the run's services)."""
    relays_behind: tuple[str, ...]
    """The relayed stores whose relay checkpoint is not at the store's head."""
    lag: int
    """Messages of the pipeline's topics not yet committed by their consumer group."""


async def store_snapshot(
    database_url: str, services: Sequence[str]
) -> tuple[tuple[int, ...], tuple[str, ...]]:
    conn = await asyncpg.connect(database_url)
    try:
        counts = tuple([await conn.fetchval(f"SELECT count(*) FROM {s}.events") for s in services])
        behind = tuple([s for s in relayed(services) if not await _relay_at_head(conn, s)])
    finally:
        await conn.close()
    return counts, behind


async def _relay_at_head(conn: asyncpg.Connection, schema: str) -> bool:
    head = await conn.fetchrow(
        f"SELECT transaction_id::text::bigint AS xid, position FROM {schema}.events "
        "ORDER BY transaction_id DESC, position DESC LIMIT 1"
    )
    if head is None:
        return True
    relays = await conn.fetch(
        f"SELECT transaction_id, position FROM {schema}.checkpoints WHERE name LIKE 'relay:%'"
    )
    return bool(relays) and all(
        (r["transaction_id"], r["position"]) == (head["xid"], head["position"]) for r in relays
    )


async def consumer_lag(bootstrap_servers: str, namespace: str, services: Sequence[str]) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    await admin.start()
    await reader.start()
    try:
        lag = 0
        for group, topics in consumes(services).items():
            partitions = await topic_partitions(admin, [namespace + t for t in topics])
            committed = await admin.list_consumer_group_offsets(namespace + group)
            ends = await reader.end_offsets(partitions) if partitions else {}
            for tp, end in ends.items():
                done = committed.get(tp)
                lag += end - (done.offset if done is not None and done.offset >= 0 else 0)
        return lag
    finally:
        await reader.stop()
        await admin.close()


async def topic_partitions(
    admin: AIOKafkaAdminClient, topics: Sequence[str]
) -> list[TopicPartition]:
    described = await admin.describe_topics(list(topics))
    return [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        for partition in topic["partitions"]
    ]


async def snapshot(
    database_url: str, bootstrap_servers: str, namespace: str, services: Sequence[str]
) -> Snapshot:
    (events, behind), lag = await asyncio.gather(
        store_snapshot(database_url, services),
        consumer_lag(bootstrap_servers, namespace, services),
    )
    return Snapshot(events, behind, lag)


async def dead_letters(bootstrap_servers: str, namespace: str) -> list[DeadLetterRecord]:
    """The DLQ messages that came from this run's topics (the DLQ topic is not namespaced)."""
    kafka = Found(bootstrap_servers, origin="the chaos run's own broker")
    return [
        record
        for record in await read_dead_letters(kafka, DLQ_TOPIC)
        if (record.source_topic or "").startswith(namespace)
    ]

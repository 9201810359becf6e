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

STORES = ("intake", "triage", "metrics")
RELAYED = ("intake", "triage")
CONSUMES = {
    "intake": (INBOUND_ALERTS,),
    "triage": (events_topic("intake"),),
    "metrics": (events_topic("intake"), events_topic("triage")),
}
"""The topics of the pipeline each consumer group reads (the others it subscribes stay empty)."""


@dataclass(frozen=True)
class Snapshot:
    """What quiescence is judged on."""

    events: tuple[int, ...]
    """Events in each store (`STORES` order)."""
    relays_behind: tuple[str, ...]
    """The relayed stores whose relay checkpoint is not at the store's head."""
    lag: int
    """Messages of the pipeline's topics not yet committed by their consumer group."""


async def store_snapshot(database_url: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
    conn = await asyncpg.connect(database_url)
    try:
        counts = tuple([await conn.fetchval(f"SELECT count(*) FROM {s}.events") for s in STORES])
        behind = tuple([s for s in RELAYED if not await _relay_at_head(conn, s)])
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


async def consumer_lag(bootstrap_servers: str, namespace: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    await admin.start()
    await reader.start()
    try:
        lag = 0
        for group, topics in CONSUMES.items():
            partitions = await _partitions(admin, [namespace + t for t in topics])
            committed = await admin.list_consumer_group_offsets(namespace + group)
            ends = await reader.end_offsets(partitions) if partitions else {}
            for tp, end in ends.items():
                done = committed.get(tp)
                lag += end - (done.offset if done is not None and done.offset >= 0 else 0)
        return lag
    finally:
        await reader.stop()
        await admin.close()


async def _partitions(admin: AIOKafkaAdminClient, topics: Sequence[str]) -> list[TopicPartition]:
    described = await admin.describe_topics(list(topics))
    return [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        for partition in topic["partitions"]
    ]


async def snapshot(database_url: str, bootstrap_servers: str, namespace: str) -> Snapshot:
    (events, behind), lag = await asyncio.gather(
        store_snapshot(database_url), consumer_lag(bootstrap_servers, namespace)
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

"""relay_publish: events/s from the store to Kafka through the relay, against a raw aiokafka
producer (same idempotence/acks/linger settings) sending the same payloads and headers to another
fresh topic on the same broker, in the same run."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import ClassVar

from aiokafka import AIOKafkaProducer
from lts_devtools.infra.topics import delete_topics
from lts_events.actors import automation
from lts_events.contracts.common import ticket_stream
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.kafka import ensure_topics
from lts_events.relay import Record, Relay, kafka_records
from lts_events.store.port import ANY, Checkpoint, StoredRow
from lts_events.store.postgres import PostgresEventStore
from sqlalchemy import text

EVENTS = 20_000
STREAMS = 200
BATCH = 500
ROUNDS = 3
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class BenchEventRecorded(Event):
    type: ClassVar[str] = "lts.bench.event_recorded"
    sequence: int
    ticket_id: str
    summary: str


async def _fill(store: PostgresEventStore) -> None:
    """Each event with metadata of its own, as in triage, where every decision carries its own
    reason (and the relay cannot reuse one event's decoded metadata for the next)."""
    per_stream = EVENTS // STREAMS
    for stream in range(STREAMS):
        correlation = str(uuid.uuid4())
        events = [
            NewEvent.of(
                BenchEventRecorded(
                    sequence=stream * per_stream + i,
                    ticket_id=ticket_stream(stream),
                    summary="kernel regression in the LTS branch, backport candidate " * 2,
                ),
                Metadata(
                    actor=automation("bench"),
                    reason=f"bench decision {i}: severity high, CVSS 8.1 on an exposed service",
                    correlation_id=correlation,
                    causation_id=str(uuid.uuid4()),
                    traceparent=TRACEPARENT,
                ),
            )
            for i in range(per_stream)
        ]
        await store.append(ticket_stream(stream), events, expected_version=ANY)


async def _time_relay(relay: Relay) -> tuple[float, float]:
    """Wall-clock seconds and this process's CPU seconds to publish every event."""
    await relay.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    published = 0
    while published < EVENTS:
        published += await relay.publish_pending()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    await relay.close()
    return elapsed, cpu


async def _stored_records(store: PostgresEventStore) -> list[Record]:
    rows: list[StoredRow] = []
    checkpoint = Checkpoint.start()
    while len(rows) < EVENTS:
        batch = await store.read_all_rows(after=checkpoint, limit=5000)
        if batch:
            rows.extend(batch)
            checkpoint = Checkpoint(batch[-1].transaction_id, batch[-1].position)
    return kafka_records(rows, source="lts-flow/bench")


async def _time_raw(bootstrap: str, topic: str, records: list[Record]) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    started = time.perf_counter()
    for offset in range(0, len(records), BATCH):
        futures = [
            await producer.send(topic, value, key=key, headers=headers)
            for key, value, headers in records[offset : offset + BATCH]
        ]
        await asyncio.gather(*futures)
    elapsed = time.perf_counter() - started
    await producer.stop()
    return elapsed


async def _cleanup(store: PostgresEventStore, bootstrap: str, topics: list[str]) -> None:
    async with store.engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{store.schema}" CASCADE'))
    await store.close()
    with contextlib.suppress(Exception):  # leftover bench topics are harmless
        await delete_topics(bootstrap, topics)


async def main(*, kafka_bootstrap_servers: str, database_url: str) -> list[dict[str, object]]:
    """ROUNDS alternating rounds of each side, each to a fresh topic (the relay under a fresh
    checkpoint name, so it publishes all events again); the best round of each side counts,
    which keeps the ratio stable on a machine shared with other work."""
    run = uuid.uuid4().hex[:8]
    topics = [f"bench.{side}.{run}.{i}" for side in ("relay", "raw") for i in range(ROUNDS)]
    await ensure_topics(kafka_bootstrap_servers, topics)
    store = await PostgresEventStore.connect(database_url, schema=f"bench_relay_{run}")
    relay_rates: list[float] = []
    relay_cpu: list[float] = []  # µs of this process's CPU per event published
    raw_rates: list[float] = []
    try:
        fill_started = time.perf_counter()
        await _fill(store)
        fill_seconds = time.perf_counter() - fill_started
        records = await _stored_records(store)
        for i in range(ROUNDS):
            relay = Relay(
                store,
                bootstrap_servers=kafka_bootstrap_servers,
                topic=f"bench.relay.{run}.{i}",
                source="lts-flow/bench",
                name=f"bench-round-{i}",
                batch_size=BATCH,
            )
            elapsed, cpu = await _time_relay(relay)
            relay_rates.append(EVENTS / elapsed)
            relay_cpu.append(cpu / EVENTS * 1e6)
            raw_seconds = await _time_raw(kafka_bootstrap_servers, f"bench.raw.{run}.{i}", records)
            raw_rates.append(EVENTS / raw_seconds)
    finally:
        await _cleanup(store, kafka_bootstrap_servers, topics)
    ours, baseline = max(relay_rates), max(raw_rates)
    return [
        {
            "bench": "relay_publish",
            "ours": round(ours, 1),
            "baseline": round(baseline, 1),
            "ratio": round(ours / baseline, 3),
            "unit": "events/s",
            "events": EVENTS,
            "batch_size": BATCH,
            "target_ratio": 0.5,
            "rounds": ROUNDS,
            "ours_rounds": [round(r, 1) for r in relay_rates],
            "baseline_rounds": [round(r, 1) for r in raw_rates],
            "ours_cpu_us_per_event": round(min(relay_cpu), 1),
            "ours_cpu_us_per_event_rounds": [round(c, 1) for c in relay_cpu],
            "fill_seconds": round(fill_seconds, 2),
            "what": "store -> Kafka through the relay (read, CloudEvents headers, idempotent "
            "acks=all send, checkpoint; each event with its own metadata, as in triage; no "
            "tracer provider installed, so the stored traceparent is forwarded without a "
            "producer span) vs a raw aiokafka producer, same records; CPU is the relay "
            "process's (process_time) per event",
        }
    ]


if __name__ == "__main__":
    import json
    import os

    results = asyncio.run(
        main(
            kafka_bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
            database_url=os.environ["DATABASE_URL"],
        )
    )
    for result in results:
        print(json.dumps(result))

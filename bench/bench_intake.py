"""intake_alerts: alerts/s from CloudEvents on `lts.inbound.alerts` to stored and published
`TicketOpened` / `AlertOccurrenceRecorded` events on the intake topic, through the real service
(the `SPEC` in the shared host: FastStream subscriber, consumer runtime, dedup claim and sequential
ids, decide, PostgreSQL append with the processed message, read model, relay).

A burst of alerts (4 in 5 new fingerprints, 1 in 5 re-firing an earlier one with a new start,
keyed by fingerprint) is produced at once; the clock runs from the first send to the receipt of
the last resulting event. Baseline, same run and broker: a raw aiokafka consume-and-produce
passthrough of the same messages (one output record per input), measured the same way."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from asgi_lifespan import LifespanManager
from lts_events.kafka import ensure_topics
from lts_events.service import build_app
from lts_events.settings import RuntimeSettings
from lts_events.store.postgres import asyncpg_url
from lts_intake.main import SPEC
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

ALERTS = int(os.environ.get("BENCH_INTAKE_ALERTS", "2000"))
COUNTED = {b"lts.intake.ticket_opened", b"lts.intake.alert_occurrence_recorded"}
Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


def _alerts(count: int, run: str) -> list[Record]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    records: list[Record] = []
    fresh = 0
    for index in range(count):
        if index % 5 == 4 and fresh:
            number = fresh - 1  # re-fire the latest new alert
            starts = start + timedelta(hours=1 + index)
        else:
            number, fresh = fresh, fresh + 1
            starts = start
        fingerprint = f"{run}-{number:06d}"
        alert = {
            "status": "firing",
            "labels": {
                "alertname": "HighErrorRate",
                "service": f"api-{number % 7}",
                "severity": "critical" if number % 3 == 0 else "warning",
                "version": "1.4.2",
            },
            "annotations": {"summary": "5xx ratio above 5%", "description": "error budget burning"},
            "startsAt": starts.isoformat(),
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": fingerprint,
        }
        headers = [
            ("ce_specversion", b"1.0"),
            ("ce_id", f"{run}-{index}".encode()),
            ("ce_source", b"//bench/alertmanager"),
            ("ce_type", b"org.prometheus.alert.firing"),
            ("content-type", b"application/json"),
        ]
        records.append((fingerprint.encode(), json.dumps(alert).encode(), headers))
    return records


async def _watch(
    bootstrap: str,
    topic: str,
    expected: int,
    counted: set[bytes] | None,
    ready: asyncio.Event,
    done: asyncio.Event,
    last: list[float],
) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen = 0
    try:
        ready.set()
        while seen < expected:
            batch = await consumer.getmany(timeout_ms=100, max_records=5000)
            for records in batch.values():
                for record in records:
                    kind = dict(record.headers).get("ce_type") if counted is not None else None
                    if counted is None or kind in counted:
                        seen += 1
            if seen:
                last[:] = [time.perf_counter()]
        done.set()
    finally:
        await consumer.stop()


async def _produce(bootstrap: str, topic: str, records: list[Record]) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        started = time.perf_counter()
        for key, value, headers in records:
            await producer.send(topic, value, key=key, headers=headers)
        await producer.flush()
        return started
    finally:
        await producer.stop()


async def _measure(
    bootstrap: str,
    *,
    source: str,
    sink: str,
    records: list[Record],
    counted: set[bytes] | None,
    within: float,
) -> float:
    ready, done, last = asyncio.Event(), asyncio.Event(), [0.0]
    watcher = asyncio.create_task(_watch(bootstrap, sink, len(records), counted, ready, done, last))
    await asyncio.wait_for(ready.wait(), 30)
    started = await _produce(bootstrap, source, records)
    try:
        await asyncio.wait_for(done.wait(), within)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    return len(records) / (last[0] - started)


async def _passthrough(bootstrap: str, source: str, sink: str, stop: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=f"pass-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, acks="all", enable_idempotence=True
    )
    await consumer.start()
    await producer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100, max_records=500)
            for records in batch.values():
                for record in records:
                    await producer.send(
                        sink, record.value, key=record.key, headers=list(record.headers)
                    )
            if batch:
                await producer.flush()
                await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


async def _drop_schema(database_url: str, name: str) -> None:
    engine = create_async_engine(asyncpg_url(database_url))
    async with engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    await engine.dispose()


async def _delete_topics(bootstrap: str, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        with contextlib.suppress(Exception):
            await admin.delete_topics(topics)
    finally:
        await admin.close()


async def _ours(bootstrap: str, database_url: str, records: list[Record], run: str) -> float:
    name = f"intake_bench_{run}"
    inbound = f"lts.inbound.alerts_bench_{run}"
    with _env(
        LTS_INTAKE_INBOUND_ALERTS_TOPIC=inbound,
        LTS_INTAKE_RELEASE_TOPIC=f"lts.release_bench_{run}.events",
    ):
        app = build_app(
            dataclasses.replace(SPEC, name=name),
            RuntimeSettings(kafka_bootstrap_servers=bootstrap, database_url=database_url),
        )
        try:
            async with LifespanManager(app, startup_timeout=90, shutdown_timeout=30):
                return await _measure(
                    bootstrap,
                    source=inbound,
                    sink=f"lts.{name}.events",
                    records=records,
                    counted=COUNTED,
                    within=120,
                )
        finally:
            await _drop_schema(database_url, name)
            topics = [inbound, f"lts.{name}.events", f"lts.release_bench_{run}.events"]
            await _delete_topics(bootstrap, topics)


async def _baseline(bootstrap: str, records: list[Record], run: str) -> float:
    source, sink = f"lts.bench.pass_in_{run}", f"lts.bench.pass_out_{run}"
    await ensure_topics(bootstrap, [source, sink])
    stop = asyncio.Event()
    task = asyncio.create_task(_passthrough(bootstrap, source, sink, stop))
    try:
        return await _measure(
            bootstrap, source=source, sink=sink, records=records, counted=None, within=120
        )
    finally:
        stop.set()
        await task
        await _delete_topics(bootstrap, [source, sink])


async def main(*, kafka_bootstrap_servers: str, database_url: str) -> list[dict[str, object]]:
    run = uuid.uuid4().hex[:8]
    records = _alerts(ALERTS, run)
    baseline = await _baseline(kafka_bootstrap_servers, records, run)
    ours = await _ours(kafka_bootstrap_servers, database_url, records, run)
    return [
        {
            "bench": "intake_alerts",
            "ours": round(ours, 1),
            "baseline": round(baseline, 1),
            "ratio": round(ours / baseline, 3),
            "unit": "alerts/s",
            "alerts": ALERTS,
            "new_tickets": sum(1 for i in range(ALERTS) if not (i % 5 == 4 and i)),
            "target": ">= 1000 alerts/s",
        }
    ]


if __name__ == "__main__":
    print(
        asyncio.run(
            main(
                kafka_bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
                database_url=os.environ["DATABASE_URL"],
            )
        )
    )

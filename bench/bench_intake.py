"""intake_alerts: alerts/s from CloudEvents on `lts.inbound.alerts` to stored and published
`TicketOpened` / `AlertOccurrenceRecorded` events on the intake topic, through the real service
(the `SPEC` in the shared host: FastStream subscriber, consumer runtime, dedup claim and sequential
ids, decide, PostgreSQL append with the processed message, read model, relay).

After a warm-up, a burst of alerts (4 in 5 new fingerprints, 1 in 5 re-firing an earlier one
with a new start, keyed by fingerprint) is produced at once; the clock runs from the first send
to the receipt of the last resulting event, and the process CPU time over the same window is
reported per alert. Baseline, same run and broker: a raw aiokafka consume-and-produce
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
from asgi_lifespan import LifespanManager
from lts_devtools.infra.topics import delete_topics
from lts_events.contracts.intake import AlertOccurrenceRecorded, TicketOpened
from lts_events.kafka import ensure_topics
from lts_events.service import build_app
from lts_events.settings import RuntimeSettings
from lts_events.store.postgres import asyncpg_url
from lts_intake.main import SPEC
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

ALERTS = int(os.environ.get("BENCH_INTAKE_ALERTS", "6000"))
WARM_UP = 500  # alerts sent and awaited before the clock starts (first-use costs, connections)
COUNTED = {TicketOpened.type.encode(), AlertOccurrenceRecorded.type.encode()}
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


@dataclasses.dataclass
class Watch:
    """What arrived on the sink so far: how many counted records, and when the latest came."""

    seen: int = 0
    last: float = 0.0
    ready: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    moved: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    async def until(self, count: int, within: float) -> None:
        async with asyncio.timeout(within):
            while self.seen < count:
                self.moved.clear()
                await self.moved.wait()


async def _watch(bootstrap: str, topic: str, counted: set[bytes] | None, watch: Watch) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        watch.ready.set()
        while True:
            batch = await consumer.getmany(timeout_ms=100, max_records=5000)
            for records in batch.values():
                for record in records:
                    kind = dict(record.headers).get("ce_type") if counted is not None else None
                    if counted is None or kind in counted:
                        watch.seen += 1
                        watch.last = time.perf_counter()
            watch.moved.set()
    finally:
        await consumer.stop()


async def _produce(producer: AIOKafkaProducer, topic: str, records: list[Record]) -> None:
    for key, value, headers in records:
        await producer.send(topic, value, key=key, headers=headers)
    await producer.flush()


@dataclasses.dataclass(frozen=True)
class Measured:
    per_second: float
    cpu_ms_per_alert: float  # this process (service + bench client), during the burst


async def _measure(
    bootstrap: str,
    *,
    source: str,
    sink: str,
    records: list[Record],
    counted: set[bytes] | None,
    within: float,
) -> Measured:
    """Send a warm-up share of `records` and wait for its results; then time the rest as a
    burst, from its first send (the producer is already connected) to the receipt of its last
    result."""
    warm, burst = records[:WARM_UP], records[WARM_UP:]
    watch = Watch()
    watcher = asyncio.create_task(_watch(bootstrap, sink, counted, watch))
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        await asyncio.wait_for(watch.ready.wait(), 30)
        await _produce(producer, source, warm)
        await watch.until(len(warm), within)
        started, cpu = time.perf_counter(), time.process_time()
        await _produce(producer, source, burst)
        await watch.until(len(records), within)
        cpu = time.process_time() - cpu
    finally:
        await producer.stop()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    return Measured(len(burst) / (watch.last - started), 1000 * cpu / len(burst))


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
    with contextlib.suppress(Exception):  # leftover bench topics are harmless
        await delete_topics(bootstrap, topics)


async def _ours(bootstrap: str, database_url: str, records: list[Record], run: str) -> Measured:
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


async def _baseline(bootstrap: str, records: list[Record], run: str) -> Measured:
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
            "ours": round(ours.per_second, 1),
            "baseline": round(baseline.per_second, 1),
            "ratio": round(ours.per_second / baseline.per_second, 3),
            "unit": "alerts/s",
            "alerts": ALERTS - WARM_UP,
            "warm_up_alerts": WARM_UP,
            "new_tickets": sum(1 for i in range(WARM_UP, ALERTS) if not (i % 5 == 4 and i)),
            "cpu_ms_per_alert": round(ours.cpu_ms_per_alert, 3),
            "baseline_cpu_ms_per_alert": round(baseline.cpu_ms_per_alert, 3),
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

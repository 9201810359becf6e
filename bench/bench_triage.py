"""triage_pipeline: tickets/s from a `TicketOpened` published on the intake topic to the
published `TicketTriaged` on the triage topic, through the real path: the consumer runtime
(`Subscriptions` on FastStream, idempotent append with the processed message), the triage decide
(severity proposal from a CVSS vector, SLA, risk, decision, owner, plan: 7 events per ticket in one
transaction, with 3 durable timers), the PostgreSQL store, and the relay. Tickets carry a CVSS
vector, so they take the automatic triage path (`LTS_TRIAGE_AUTO_TRIAGE=evidence`).

Two phases after a warm-up: bursts (every ticket published at once: sustained throughput) and a
paced run at 200 tickets/s (per-ticket latency p50/p99, from the producer's send to the consumer's
receipt of the TicketTriaged). ROUNDS bursts, one after another; the median counts and every round
is listed (this machine is shared: one burst can land on another process's busy seconds).
Baseline, same run, same broker: a raw aiokafka consume-and-produce passthrough (consume the
TicketOpened, produce one record per ticket), measured the same way.

The tickets are produced and the results watched by a harness in a child process (as intake and
metrics would be: the watcher alone reads all 7 events of every ticket), so this process runs
only what is measured: the consumer runtime, the handler, the store client and the relay (or the
passthrough). The clock starts at the harness's first send, with its producer connected and its
watcher positioned (no start-up cost in any measured window); the burst is long enough (BURST
tickets, several seconds) for fixed costs not to weigh on it. `cpu_ms_per_ticket` is the CPU time
of this process (`time.process_time()`) during the burst per ticket: when cpu_ms_per_ticket x
tickets/s comes near 1000 ms per second, the process is busy all the time (CPU-bound, one core
under the GIL); far below, it waits on Kafka, PostgreSQL or the other processes sharing the
cores."""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faststream.kafka import KafkaBroker
from lts_events.actors import Role
from lts_events.clock import system_clock
from lts_events.consumer import Inbound, Subscriptions
from lts_events.contracts.common import TicketSource, ticket_id_of, ticket_stream
from lts_events.contracts.intake import TicketKind, TicketOpened
from lts_events.contracts.triage import TicketTriaged
from lts_events.envelope import Envelope
from lts_events.kafka import ensure_topics
from lts_events.relay import Relay, envelope_record
from lts_events.service import restore_gc, settle_gc
from lts_events.store.memory import InMemoryEventStore
from lts_events.store.postgres import PostgresEventStore
from lts_triage.config import Settings
from lts_triage.handlers import TriageHandlers
from lts_triage.kafka import triage_subscriptions
from sqlalchemy import text

from bench.bench_intake import _delete_topics

BURST = int(os.environ.get("BENCH_TRIAGE_BURST", "3000"))
ROUNDS = 3
WARM_UP = 200
PACED_RATE = 200
PACED_SECONDS = 5
CVSS = (
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N",
)

Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


def _records(first_id: int, count: int) -> list[tuple[int, Record]]:
    now = datetime.now(UTC)
    out = []
    for ticket_id in range(first_id, first_id + count):
        event = TicketOpened(
            ticket_id=ticket_id,
            title=f"bench ticket {ticket_id}",
            source=TicketSource.OSV,
            kind=TicketKind.SECURITY,
            affected_versions=["1.4.2", "1.3.7"],
            cvss_vectors=[CVSS[ticket_id % len(CVSS)]],
            opened_at=now,
        )
        envelope = Envelope(
            id=str(uuid.uuid4()),
            source="lts-flow/intake",
            type=event.type,
            subject=ticket_stream(ticket_id),
            time=now,
            data=event.to_data(),
            actorid="lts-intake",
            actorrole=Role.AUTOMATION,
        )
        _, value, headers = envelope_record(envelope)
        out.append((ticket_id, (ticket_stream(ticket_id).encode(), value, headers)))
    return out


@dataclass
class Tracker:
    """Send and receipt times per ticket id."""

    sent: dict[int, float] = field(default_factory=dict)
    received: dict[int, float] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0

    def receive(self, ticket_id: int) -> None:
        if ticket_id in self.sent and ticket_id not in self.received:
            self.received[ticket_id] = time.perf_counter()
            if len(self.received) >= self.expected:
                self.done.set()

    def latencies_ms(self) -> list[float]:
        return [(self.received[t] - self.sent[t]) * 1000 for t in self.received]


Matcher = Callable[[list[tuple[str, bytes]], bytes], int | None]


async def _assigned(consumer: AIOKafkaConsumer) -> None:
    for _ in range(600):
        if consumer.assignment():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("no partitions assigned")


async def _watch(
    bootstrap: str, topic: str, tracker: Tracker, match: Matcher, ready: asyncio.Event
) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        await _assigned(consumer)
        for partition in consumer.assignment():
            await consumer.position(partition)
        ready.set()
        while not tracker.done.is_set():
            batch = await consumer.getmany(timeout_ms=100, max_records=2000)
            for records in batch.values():
                for record in records:
                    ticket_id = match(list(record.headers), record.key or b"")
                    if ticket_id is not None:
                        tracker.receive(ticket_id)
    finally:
        await consumer.stop()


def _triaged(headers: list[tuple[str, bytes]], key: bytes) -> int | None:
    for name, value in headers:
        if name == "ce_type":
            if value.decode() != TicketTriaged.type:
                return None
            return ticket_id_of(key.decode())
    return None


def _passed(headers: list[tuple[str, bytes]], key: bytes) -> int | None:
    return ticket_id_of(key.decode())


def _producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=2, acks="all", enable_idempotence=True
    )


async def _produce(
    producer: AIOKafkaProducer,
    topic: str,
    records: list[tuple[int, Record]],
    tracker: Tracker,
    *,
    rate: float | None,
) -> None:
    started = time.perf_counter()
    for index, (ticket_id, (key, value, headers)) in enumerate(records):
        if rate is not None:
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        tracker.sent[ticket_id] = time.perf_counter()
        await producer.send(topic, value, key=key, headers=headers)
    await producer.flush()


# -- the harness (child process): produce tickets, watch for results ---------------------------

MATCHERS: dict[str, Matcher] = {"triaged": _triaged, "passed": _passed}


async def _harness_step(producer: AIOKafkaProducer, bootstrap: str, step: dict[str, Any]) -> None:
    """One command: produce `count` tickets to `source` (at `rate`/s or at once), and unless
    `sink` is None wait until each one's result is on `sink`. Writes `@start <perf_counter>`
    just before the first send, then `@result <json>`."""
    tracker = Tracker(expected=step["count"])
    watcher = None
    if step["sink"] is not None:
        ready = asyncio.Event()
        match = MATCHERS[step["match"]]
        watcher = asyncio.create_task(_watch(bootstrap, step["sink"], tracker, match, ready))
        await asyncio.wait_for(ready.wait(), 30)
    records = _records(step["first_id"], step["count"])
    started = time.perf_counter()
    print(f"@start {started!r}", flush=True)
    await _produce(producer, step["source"], records, tracker, rate=step["rate"])
    result: dict[str, Any] = {"count": len(records)}
    if watcher is not None:
        try:
            await asyncio.wait_for(tracker.done.wait(), timeout=180)
        finally:
            tracker.done.set()
            await watcher
        latencies = sorted(tracker.latencies_ms())
        result = {
            "count": len(tracker.received),
            "per_second": len(tracker.received) / (max(tracker.received.values()) - started),
            "p50_ms": statistics.median(latencies),
            "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)],
        }
    print(f"@result {json.dumps(result)}", flush=True)


async def _harness_main(bootstrap: str) -> None:
    """Read one JSON command per line from stdin until it closes."""
    producer = _producer(bootstrap)
    await producer.start()
    loop = asyncio.get_running_loop()
    try:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            await _harness_step(producer, bootstrap, json.loads(line))
    finally:
        await producer.stop()


class Harness:
    """The harness process, seen from the measured one."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @classmethod
    async def start(cls, bootstrap: str) -> Harness:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.bench_triage",
            "harness",
            bootstrap,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def run(self, **step: Any) -> tuple[float, float, dict[str, Any]]:
        """Send a command; returns (perf_counter of the first send, CPU seconds this process
        spent from then until the result came, the result)."""
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(step).encode() + b"\n")
        await self._process.stdin.drain()
        started = float(await self._expect("@start "))
        cpu = time.process_time()
        result = json.loads(await self._expect("@result "))
        return started, time.process_time() - cpu, result

    async def _expect(self, prefix: str) -> str:
        assert self._process.stdout is not None
        while True:
            line = await asyncio.wait_for(self._process.stdout.readline(), timeout=300)
            if not line:
                raise RuntimeError("the bench harness exited")
            text = line.decode().rstrip("\n")
            if text.startswith(prefix):
                return text.removeprefix(prefix)

    async def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        await self._process.wait()


# -- the measured process ------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    per_second: float
    p50_ms: float
    p99_ms: float
    count: int
    cpu_ms_per_ticket: float


async def _phase(
    harness: Harness,
    *,
    source: str,
    sink: str,
    match: str,
    first_id: int,
    count: int,
    rate: float | None,
) -> Phase:
    _, cpu, result = await harness.run(
        source=source, sink=sink, match=match, first_id=first_id, count=count, rate=rate
    )
    return Phase(
        per_second=result["per_second"],
        p50_ms=result["p50_ms"],
        p99_ms=result["p99_ms"],
        count=result["count"],
        cpu_ms_per_ticket=cpu * 1000 / result["count"],
    )


async def _passthrough(
    bootstrap: str, source: str, sink: str, stop: asyncio.Event, ready: asyncio.Event
) -> None:
    """The baseline: consume, then produce one record per consumed message (no store)."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=f"raw-{sink}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=2, acks="all", enable_idempotence=True
    )
    await consumer.start()
    await producer.start()
    ready.set()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=50, max_records=500)
            sends = [
                await producer.send(sink, r.value, key=r.key, headers=list(r.headers))
                for records in batch.values()
                for r in records
            ]
            await asyncio.gather(*sends)
            if sends:
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


async def _with_triage(
    bootstrap: str,
    database_url: str,
    run: str,
    source: str,
    sink: str,
    measure: Callable[[], Awaitable[list[Phase]]],
) -> list[Phase]:
    schema = f"bench_triage_{run}"
    store = await PostgresEventStore.connect(database_url, schema=schema)
    handlers = TriageHandlers(
        store, policy=Settings().policy(), clock=system_clock, consumer=schema
    )
    broker = KafkaBroker(bootstrap, logger=None)
    triage_subscriptions(
        handlers,
        consumer=schema,
        store=store,
        intake_topic=source,
    ).attach(broker)
    relay = Relay(
        store, bootstrap_servers=bootstrap, topic=sink, source="lts-flow/triage", poll_interval=0.02
    )
    stop = asyncio.Event()
    settle_gc()  # as the service host does once started
    await broker.start()
    relaying = asyncio.create_task(relay.run(stop))
    try:
        return await measure()
    finally:
        restore_gc()  # for whatever runs in this process next
        stop.set()
        await broker.stop()
        await relaying
        async with store.engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await store.close()


async def _with_passthrough(
    bootstrap: str, source: str, sink: str, measure: Callable[[], Awaitable[list[Phase]]]
) -> list[Phase]:
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(_passthrough(bootstrap, source, sink, stop, ready))
    await ready.wait()
    settle_gc()  # measured the same way as ours
    try:
        return await measure()
    finally:
        restore_gc()
        stop.set()
        await task


def _phases(
    harness: Harness, source: str, sink: str, match: str, first_id: int
) -> Callable[[], Awaitable[list[Phase]]]:
    async def measure() -> list[Phase]:
        phases = [
            await _phase(
                harness,
                source=source,
                sink=sink,
                match=match,
                first_id=first_id + offset,
                count=count,
                rate=rate,
            )
            for offset, count, rate in (
                (0, WARM_UP, None),
                *((10_000 * (1 + n), BURST, None) for n in range(ROUNDS)),
                (1_000_000, PACED_RATE * PACED_SECONDS, PACED_RATE),
            )
        ]
        return phases[1:]  # the warm-up is not reported

    return measure


def _median(bursts: list[Phase]) -> Phase:
    """The burst of median throughput (its own latency and CPU figures with it)."""
    return sorted(bursts, key=lambda burst: burst.per_second)[len(bursts) // 2]


async def _runtime_ceiling(harness: Harness, bootstrap: str, topic: str, first_id: int) -> float:
    """Tickets/s through the consumer runtime alone (`Subscriptions`, in-memory store, a handler
    that does nothing): the ceiling any service on this runtime can reach per consumer."""
    handled, warm, done = 0, asyncio.Event(), asyncio.Event()

    async def count(inbound: Inbound[TicketOpened]) -> None:
        nonlocal handled
        handled += 1
        if handled >= WARM_UP:
            warm.set()
        if handled >= BURST + WARM_UP:
            done.set()

    broker = KafkaBroker(bootstrap, logger=None)
    Subscriptions(
        f"ceiling-{topic}", store=InMemoryEventStore(), topics={"lts.intake.events": topic}
    ).on(TicketOpened, count).attach(broker)
    await broker.start()
    try:
        produce = {"source": topic, "sink": None, "match": None, "rate": None}
        await harness.run(first_id=first_id, count=WARM_UP, **produce)
        await asyncio.wait_for(warm.wait(), timeout=60)
        started, _, _ = await harness.run(first_id=first_id + WARM_UP, count=BURST, **produce)
        await asyncio.wait_for(done.wait(), timeout=120)
        return BURST / (time.perf_counter() - started)
    finally:
        await broker.stop()


async def main(*, kafka_bootstrap_servers: str, database_url: str) -> list[dict[str, object]]:
    bootstrap, run = kafka_bootstrap_servers, uuid.uuid4().hex[:8]
    names = ("intake", "triage", "raw_in", "raw_out", "ceiling")
    topics = [f"bench.{name}.{run}" for name in names]
    await ensure_topics(bootstrap, topics)
    base = random.randint(100_000_000, 1_000_000_000)
    harness = await Harness.start(bootstrap)
    try:
        ours = await _with_triage(
            bootstrap,
            database_url,
            run,
            topics[0],
            topics[1],
            _phases(harness, topics[0], topics[1], "triaged", base),
        )
        raw = await _with_passthrough(
            bootstrap, topics[2], topics[3], _phases(harness, topics[2], topics[3], "passed", base)
        )
        ceiling = await _runtime_ceiling(harness, bootstrap, topics[4], base + 50_000)
    finally:
        await harness.close()
        await _delete_topics(bootstrap, topics)
    *bursts, paced = ours
    *raw_bursts, raw_paced = raw
    burst, raw_burst = _median(bursts), _median(raw_bursts)
    return [
        {
            "bench": "triage_pipeline",
            "ours": round(burst.per_second, 1),
            "baseline": round(raw_burst.per_second, 1),
            "ratio": round(burst.per_second / raw_burst.per_second, 3),
            "unit": "tickets/s",
            "tickets": burst.count,
            "target": ">= 1000 tickets/s",
            "ours_rounds": [round(b.per_second) for b in bursts],
            "baseline_rounds": [round(b.per_second) for b in raw_bursts],
            "burst_p50_ms": round(burst.p50_ms, 1),
            "burst_p99_ms": round(burst.p99_ms, 1),
            "cpu_ms_per_ticket": round(burst.cpu_ms_per_ticket, 3),
            "cpu_ms_per_ticket_rounds": [round(b.cpu_ms_per_ticket, 3) for b in bursts],
            "baseline_cpu_ms_per_ticket": round(raw_burst.cpu_ms_per_ticket, 3),
            "consumer_runtime_ceiling_per_s": round(ceiling, 1),
            "what": "TicketOpened on Kafka -> consumer -> decide (auto triage: proposal, SLA, "
            "risk, decision, owner, plan) -> PostgreSQL -> relay -> TicketTriaged on Kafka, vs "
            "a raw aiokafka consume-and-produce passthrough",
        },
        {
            "bench": "triage_pipeline_latency_at_200_per_s",
            "ours": round(paced.p99_ms, 1),
            "baseline": round(raw_paced.p99_ms, 1),
            "ratio": round(paced.p99_ms / raw_paced.p99_ms, 3),
            "unit": "ms p99",
            "p50_ms": round(paced.p50_ms, 1),
            "baseline_p50_ms": round(raw_paced.p50_ms, 1),
            "tickets": paced.count,
            "achieved_rate": round(paced.per_second, 1),
            "target": "p99 < 500 ms",
        },
    ]


if __name__ == "__main__" and sys.argv[1:2] == ["harness"]:
    asyncio.run(_harness_main(sys.argv[2]))
elif __name__ == "__main__":
    results = asyncio.run(
        main(
            kafka_bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
            database_url=os.environ["DATABASE_URL"],
        )
    )
    for result in results:
        print(json.dumps(result))

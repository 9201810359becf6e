"""`pipeline_e2e`: the pipeline as a user feels it, every stage a real process as in `make dev`.

Intake, triage and metrics run as their own processes (harness/stack.py) on a database of their
own and a Kafka namespace of their own on the bench's broker and server. Distinct alerts go as
CloudEvents onto `lts.inbound.alerts`; each one becomes a ticket (intake), is triaged, scored,
decided and planned (triage: a critical alert on an LTS version is planned automatically), and
every event is audited by metrics. An alert is done when metrics has audited its
`BackportPlanned`.

- `pipeline_e2e` (alerts/s): N alerts offered at once; the sustained rate from the first send to
  the last alert done, against the target (no baseline can stand for a whole pipeline; each
  stage's own ratio is in its bench). Also CPU seconds per 1,000 alerts of each service process
  (user + system, from /proc), which says where the time goes.
- `pipeline_e2e_latency` (ms): alerts offered at a steady 200/s; for each, from the moment its
  chunk was sent to the moment metrics recorded its `BackportPlanned`: p50, p99, max."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from lts_events.contracts.intake import TicketOpened
from lts_events.contracts.triage import BackportPlanned
from lts_intake.kafka import INBOUND_ALERTS
from lts_metrics.percentiles import percentile_cont

from chaos.load import Delivery, alert
from harness.database import create_database, drop_database
from harness.stack import Stack, build_stack

SUSTAINED = 4000
TARGET_RATE = 800  # alerts/s on this 2-core machine (issue: scale out)
OFFERED_RATE = 200.0
OFFERED_SECONDS = 15.0
CHUNK_SECONDS = 0.1
DONE_TIMEOUT = 300.0

_DONE = "SELECT count(*) FROM metrics.events WHERE type = $1 AND stream_id LIKE 'triage:%'"
_LATENCY = """
SELECT o.data->>'alert_fingerprint' AS fingerprint, m.recorded_at
FROM intake.events o
JOIN metrics.events m
  ON m.stream_id = 'triage:ticket-' || (o.data->>'ticket_id') AND m.type = $2
WHERE o.type = $1 AND o.data->>'alert_fingerprint' = ANY($3::text[])
"""


def _alerts(run: str, n: int) -> list[Delivery]:
    starts_at = datetime.now(UTC).replace(microsecond=0)
    return [alert(run, number, starts_at=starts_at) for number in range(n)]


async def _send(
    producer: AIOKafkaProducer, topic: str, load: Sequence[Delivery], *, rate: float | None
) -> dict[str, float]:
    """Send `load` (at `rate`/s in chunks every 0.1 s, or all at once); the wall-clock time each
    alert's chunk was handed to the producer, by fingerprint."""
    size = len(load) if rate is None else max(1, round(rate * CHUNK_SECONDS))
    sent_at: dict[str, float] = {}
    next_at = time.monotonic()
    for start in range(0, len(load), size):
        chunk = load[start : start + size]
        now = time.time()
        futures = [
            await producer.send(topic, d.value, key=d.key, headers=list(d.headers)) for d in chunk
        ]
        for d in chunk:
            sent_at[d.key.decode()] = now
        await asyncio.gather(*futures)
        if rate is not None:
            next_at += CHUNK_SECONDS
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    return sent_at


async def _wait_done(conn: asyncpg.Connection, planned_in_all: int) -> float:
    """Poll until metrics audited `planned_in_all` plans in the run's database (cheap: one
    count); the wall-clock time it was seen done."""
    deadline = time.monotonic() + DONE_TIMEOUT
    while time.monotonic() < deadline:
        if await conn.fetchval(_DONE, BackportPlanned.type) >= planned_in_all:
            return time.time()
        await asyncio.sleep(0.1)
    raise TimeoutError(f"the pipeline did not plan {planned_in_all} alerts in all")


async def _done_times(conn: asyncpg.Connection, fingerprints: Sequence[str]) -> dict[str, float]:
    rows = await conn.fetch(_LATENCY, TicketOpened.type, BackportPlanned.type, list(fingerprints))
    return {r["fingerprint"]: r["recorded_at"].timestamp() for r in rows}


def _percentile(values: Sequence[float], fraction: float) -> float:
    found = percentile_cont(values, fraction)
    assert found is not None, "no latencies measured"
    return round(found, 1)


def _cpu_seconds(stack: Stack) -> dict[str, float]:
    """User + system CPU seconds of each service process so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for name, service in stack.services.items():
        assert service.process is not None
        fields = Path(f"/proc/{service.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        used[name] = (int(fields[11]) + int(fields[12])) / ticks
    return used


async def main(*, kafka_bootstrap_servers: str, database_url: str) -> list[dict[str, object]]:
    tag = uuid.uuid4().hex[:6]
    database, namespace = f"bench_pipeline_{tag}", f"bench-{tag}."
    topic = namespace + INBOUND_ALERTS
    logs = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    url = await asyncio.to_thread(create_database, database_url, database)
    stack = build_stack(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=url,
        database=database,
        logs=logs,
        namespace=namespace,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap_servers, enable_idempotence=True, acks="all"
    )
    conn: asyncpg.Connection | None = None
    try:
        await asyncio.to_thread(stack.start)
        await producer.start()
        conn = await asyncpg.connect(url)
        warm = _alerts(f"warm-{tag}", 200)
        await _send(producer, topic, warm, rate=None)
        await _wait_done(conn, len(warm))

        burst = _alerts(f"burst-{tag}", SUSTAINED)
        cpu_before = _cpu_seconds(stack)
        started = time.time()
        await _send(producer, topic, burst, rate=None)
        finished = await _wait_done(conn, len(warm) + SUSTAINED)
        cpu = {k: v - cpu_before[k] for k, v in _cpu_seconds(stack).items()}
        rate = SUSTAINED / (finished - started)

        steady = _alerts(f"steady-{tag}", int(OFFERED_RATE * OFFERED_SECONDS))
        sent_at = await _send(producer, topic, steady, rate=OFFERED_RATE)
        await _wait_done(conn, len(warm) + SUSTAINED + len(steady))
        done_at = await _done_times(conn, list(sent_at))
        latencies = sorted((done_at[k] - sent_at[k]) * 1000 for k in sent_at)
    except Exception:
        print(stack.tail())
        raise
    finally:
        with contextlib.suppress(Exception):
            await producer.stop()
        if conn is not None:
            await conn.close()
        await asyncio.to_thread(stack.stop)
        await asyncio.to_thread(drop_database, database_url, database)
        shutil.rmtree(logs, ignore_errors=True)
    return [
        {
            "bench": "pipeline_e2e",
            "ours": round(rate, 1),
            "target": TARGET_RATE,
            "ratio_to_target": round(rate / TARGET_RATE, 3),
            "unit": "alerts/s",
            "alerts": SUSTAINED,
            "cpu_s_per_1000_alerts": {k: round(v / SUSTAINED * 1000, 2) for k, v in cpu.items()},
        },
        {
            "bench": "pipeline_e2e_latency",
            "offered_per_s": OFFERED_RATE,
            "alerts": len(latencies),
            "p50_ms": _percentile(latencies, 0.5),
            "p99_ms": _percentile(latencies, 0.99),
            "max_ms": round(latencies[-1], 1),
            "target_p99_ms": 300,
            "unit": "ms",
        },
    ]

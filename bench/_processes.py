"""What the benches that run services as processes share (bench_pipeline, bench_replicas): a
database and a Kafka namespace of their own for a stack of harness/stack.py, distinct alerts sent
onto its `lts.inbound.alerts`, and the CPU time from /proc of each service process and of the
PostgreSQL backends serving the run's database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from lts_events.infra import KAFKA_MARKER, kafka_bootstrap, state
from lts_intake.kafka import INBOUND_ALERTS

from chaos.load import Delivery, alert
from harness.database import create_database, drop_database
from harness.stack import SERVICES, Stack, build_stack

CHUNK_SECONDS = 0.1
POLL_SECONDS = 0.1


@dataclass
class RunningStack:
    """A started stack, a producer onto its inbound alerts topic and a connection to its
    database; `tag` is the run's own (for alerts distinct from any other run's)."""

    tag: str
    stack: Stack
    producer: AIOKafkaProducer
    conn: asyncpg.Connection
    topic: str

    async def send(self, load: Sequence[Delivery], *, rate: float | None) -> dict[str, float]:
        """Send `load` (at `rate`/s in chunks every 0.1 s, or all at once); the wall-clock time
        each alert's chunk was handed to the producer, by fingerprint."""
        size = len(load) if rate is None else max(1, round(rate * CHUNK_SECONDS))
        sent_at: dict[str, float] = {}
        next_at = time.monotonic()
        for start in range(0, len(load), size):
            chunk = load[start : start + size]
            now = time.time()
            futures = [
                await self.producer.send(self.topic, d.value, key=d.key, headers=list(d.headers))
                for d in chunk
            ]
            for d in chunk:
                sent_at[d.key.decode()] = now
            await asyncio.gather(*futures)
            if rate is not None:
                next_at += CHUNK_SECONDS
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        return sent_at

    async def wait_count(self, query: str, *args: object, at_least: int, within: float) -> float:
        """Poll `query` (one count) until it reaches `at_least`; the wall-clock time it was seen
        there."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if await self.conn.fetchval(query, *args) >= at_least:
                return time.time()
            await asyncio.sleep(POLL_SECONDS)
        raise TimeoutError(f"fewer than {at_least} after {within:.0f}s: {query}")

    def cpu_seconds(self) -> dict[str, float]:
        """User + system CPU seconds of each service process so far, by process label
        (`triage`, `triage-2`, ...)."""
        used = {}
        for name, service in self.stack.services.items():
            assert service.process is not None
            seconds = process_cpu_seconds(service.process.pid)
            assert seconds is not None, f"{name} is not running"
            used[name] = seconds
        return used

    async def backends_cpu_seconds(self) -> dict[int, float] | None:
        """User + system CPU seconds so far of each PostgreSQL backend connected to the run's
        database (the services' pools; not this bench's own connection), by pid; None when
        the server's processes are not visible from here (it runs elsewhere)."""
        pids = await self.conn.fetch(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        used = {}
        for (pid,) in pids:
            seconds = process_cpu_seconds(pid)
            if seconds is None:
                return None
            used[pid] = seconds
        return used


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process `pid` so far (None when it is not visible here)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


_TICKS = os.sysconf("SC_CLK_TCK")


def cores_bound(cpu_ms_per_item: float) -> float:
    """Items/s that every core of this machine, busy all along, would sustain at
    `cpu_ms_per_item` of CPU per item (all processes together): a ceiling, whatever the
    batching."""
    return (os.cpu_count() or 1) * 1000 / cpu_ms_per_item


def local_broker_pid(kafka_bootstrap_servers: str) -> int | None:
    """The process id of the broker at `kafka_bootstrap_servers` when it is the local one `lts
    infra up` started on this machine (its recorded port and a live `kafka.Kafka` process);
    None for any other broker, whose CPU is not visible from here."""
    recorded = state.load("kafka")
    if recorded is None or kafka_bootstrap(recorded) != kafka_bootstrap_servers:
        return None
    pid = int(recorded.get("pid", -1))
    return pid if state.pid_alive(pid, marker=KAFKA_MARKER) else None


def alerts(run: str, n: int) -> list[Delivery]:
    """`n` distinct alerts, each planned automatically by triage (critical, on an LTS line)."""
    starts_at = datetime.now(UTC).replace(microsecond=0)
    return [alert(run, number, starts_at=starts_at) for number in range(n)]


def cpu_per_1000(
    before: Mapping[str, float], after: Mapping[str, float], items: int
) -> dict[str, float]:
    """CPU seconds each process spent per 1,000 `items` between two `cpu_seconds()`."""
    return {name: round((after[name] - before[name]) / items * 1000, 2) for name in after}


def backends_cpu_per_1000(
    before: Mapping[int, float] | None, after: Mapping[int, float] | None, items: int
) -> float | None:
    """CPU seconds the backends spent per 1,000 `items` between two `backends_cpu_seconds()`
    (a backend connected meanwhile counts whole; one gone meanwhile is not counted: the pools
    keep theirs through a run)."""
    if before is None or after is None:
        return None
    spent = sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())
    return round(spent / items * 1000, 2)


@contextlib.asynccontextmanager
async def running_stack(
    *,
    kafka_bootstrap_servers: str,
    database_url: str,
    prefix: str,
    services: Sequence[str] = SERVICES,
    replicas: int = 1,
    extra_env: Mapping[str, str] | None = None,
) -> AsyncIterator[RunningStack]:
    """`services` (`replicas` processes each) on a database and a Kafka namespace of their own,
    ready; everything stopped and dropped on the way out (the logs' tails printed on an
    error)."""
    tag = uuid.uuid4().hex[:6]
    database, namespace = f"{prefix}_{tag}", f"bench-{tag}."
    logs = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    url = await asyncio.to_thread(create_database, database_url, database)
    stack = build_stack(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=url,
        database=database,
        logs=logs,
        namespace=namespace,
        services=services,
        replicas=replicas,
        extra_env=extra_env,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap_servers, enable_idempotence=True, acks="all"
    )
    cleanup: list[Callable[[], Awaitable[object]]] = []
    try:
        await asyncio.to_thread(stack.start)
        await producer.start()
        cleanup.append(producer.stop)
        conn = await asyncpg.connect(url)
        cleanup.append(conn.close)
        yield RunningStack(tag, stack, producer, conn, namespace + INBOUND_ALERTS)
    except Exception:
        print(stack.tail())
        raise
    finally:
        for close in reversed(cleanup):
            with contextlib.suppress(Exception):
                await close()
        await asyncio.to_thread(stack.stop)
        await asyncio.to_thread(drop_database, database_url, database)
        shutil.rmtree(logs, ignore_errors=True)

"""The load: N distinct alerts as CloudEvents (binary mode, keyed by fingerprint) on the inbound
alerts topic, each delivered twice (the same CloudEvent: an at-least-once upstream), in a
shuffled order, at a steady rate. Like an upstream that must not lose alerts, the sender retries
until Kafka acknowledged every delivery, whatever the broker does meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)

INBOUND_ALERTS = "lts.inbound.alerts"
CHUNK_SECONDS = 0.1


@dataclass(frozen=True)
class Delivery:
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def fingerprint(run: str, number: int) -> str:
    return f"{run}-{number:06d}"


def alert(run: str, number: int, *, starts_at: datetime) -> Delivery:
    """One distinct alert: its own fingerprint and CloudEvent id, the same shape for every one
    (a critical alert on an LTS version), so every ticket gets the same triage decisions."""
    body = {
        "status": "firing",
        "labels": {"alertname": "ChaosLoad", "severity": "critical", "version": "1.4.2"},
        "annotations": {"summary": f"chaos load alert {number}"},
        "startsAt": starts_at.isoformat(),
        "fingerprint": fingerprint(run, number),
    }
    return cloudevent(
        fingerprint(run, number),
        f"{run}-alert-{number}",
        "org.prometheus.alert.firing",
        body,
        source="//chaos.lts-flow.test/alertmanager",
    )


def cloudevent(
    key: str, event_id: str, kind: str, data: dict[str, Any], *, source: str
) -> Delivery:
    """A CloudEvent in Kafka's binary mode (attributes as `ce_*` headers, the data as JSON)."""
    headers = (
        ("ce_specversion", b"1.0"),
        ("ce_id", event_id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", kind.encode()),
        ("content-type", b"application/json"),
    )
    return Delivery(key.encode(), json.dumps(data).encode(), headers)


def deliveries(run: str, n: int, *, seed: int) -> list[Delivery]:
    """Every alert twice, shuffled (a duplicate may come first, or right after, or much later)."""
    starts_at = datetime.now(UTC).replace(microsecond=0)
    each = [alert(run, number, starts_at=starts_at) for number in range(n)]
    twice = each + each
    random.Random(seed).shuffle(twice)
    return twice


class Progress:
    """How many deliveries Kafka acknowledged; fault injectors wait on it."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.acknowledged = 0
        self._changed = asyncio.Condition()

    async def advance(self, count: int) -> None:
        async with self._changed:
            self.acknowledged += count
            self._changed.notify_all()

    async def reached(self, fraction: float) -> None:
        wanted = min(self.total, int(self.total * fraction))
        async with self._changed:
            await self._changed.wait_for(lambda: self.acknowledged >= wanted)


async def _producer(bootstrap_servers: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        request_timeout_ms=10_000,
    )
    await producer.start()
    return producer


async def _send_chunk(producer: AIOKafkaProducer, topic: str, chunk: Sequence[Delivery]) -> None:
    futures = [
        await producer.send(topic, d.value, key=d.key, headers=list(d.headers)) for d in chunk
    ]
    await asyncio.gather(*futures)


async def send(
    bootstrap_servers: str,
    topic: str,
    load: Sequence[Delivery],
    *,
    rate: float,
    progress: Progress,
) -> None:
    """Send `load` at `rate` deliveries/s, a chunk every 0.1 s; a chunk that fails is sent again
    (a redelivery more) on a new producer. After an outage the pace resumes, it does not burst."""
    size = max(1, round(rate * CHUNK_SECONDS))
    producer: AIOKafkaProducer | None = None
    next_at = time.monotonic()
    try:
        for start in range(0, len(load), size):
            chunk = load[start : start + size]
            while True:
                try:
                    producer = producer or await _producer(bootstrap_servers)
                    await _send_chunk(producer, topic, chunk)
                    break
                except (KafkaError, OSError) as error:
                    log.info(
                        "load: send failed (%s), sending the chunk again", type(error).__name__
                    )
                    await _close(producer)
                    producer = None
                    await asyncio.sleep(1.0)
            await progress.advance(len(chunk))
            next_at = max(next_at + CHUNK_SECONDS, time.monotonic() - CHUNK_SECONDS)
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    finally:
        await _close(producer)


async def _close(producer: AIOKafkaProducer | None) -> None:
    """Stop a producer; during an outage its flush may never end, so it is bounded."""
    if producer is None:
        return
    with contextlib.suppress(Exception):
        await asyncio.wait_for(producer.stop(), timeout=15.0)

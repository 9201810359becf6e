"""The relay: the store is the outbox. It tails one service's store in commit order and publishes
every event to the service's topic, advancing its checkpoint only after Kafka acknowledged the
whole batch. Killed at any point it resumes from the checkpoint: nothing is lost, and the events
published after the last checkpoint are published again (consumers absorb duplicates)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from types import TracebackType

from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from lts_events.envelope import RecordedEvent
from lts_events.kafka import replace_header
from lts_events.store.port import Checkpoint, EventStore
from lts_events.telemetry import context_from, current_traceparent

log = logging.getLogger(__name__)
tracer = trace.get_tracer("lts_events.relay")

Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


def kafka_record(event: RecordedEvent, *, source: str) -> Record:
    """(key, value, headers) of a stored event: CloudEvents binary mode, key = stream id."""
    value, headers = event.to_envelope(source=source).to_kafka()
    return event.stream_id.encode(), value, headers


class Relay:
    def __init__(
        self,
        store: EventStore,
        *,
        bootstrap_servers: str,
        topic: str,
        source: str,
        name: str = "relay",
        batch_size: int = 500,
        poll_interval: float = 0.1,
        linger_ms: int = 5,
    ) -> None:
        self._store = store
        self._bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.source = source
        self.checkpoint_name = f"{name}:{topic}"
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._linger_ms = linger_ms
        self._producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self.caught_up = False
        self.published = 0
        self.last_error: str | None = None

    async def __aenter__(self) -> Relay:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        if self._producer is not None:
            return
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap_servers,
            enable_idempotence=True,
            acks="all",
            linger_ms=self._linger_ms,
            max_batch_size=256 * 1024,
        )
        await producer.start()
        self._producer = producer

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    def wake(self) -> None:
        """Ask a running relay to look for new events now instead of at the next poll."""
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish everything currently readable after the checkpoint; returns how many."""
        await self.start()
        checkpoint = await self._store.load_checkpoint(self.checkpoint_name)
        total = 0
        while True:
            batch = await self._store.read_all(after=checkpoint, limit=self._batch_size)
            if not batch:
                self.caught_up = True
                return total
            await self._publish(batch)
            last = batch[-1]
            checkpoint = Checkpoint(last.transaction_id, last.position)
            await self._store.save_checkpoint(self.checkpoint_name, checkpoint)
            total += len(batch)
            self.published += len(batch)

    async def _publish(self, batch: Sequence[RecordedEvent]) -> None:
        producer = self._producer
        assert producer is not None, "relay not started"
        futures = []
        for event in batch:
            key, value, headers = self._traced_record(event)
            futures.append(await producer.send(self.topic, value, key=key, headers=headers))
        await asyncio.gather(*futures)

    def _traced_record(self, event: RecordedEvent) -> Record:
        key, value, headers = kafka_record(event, source=self.source)
        parent = event.metadata.traceparent
        if parent is None:
            return key, value, headers
        with tracer.start_as_current_span(
            f"{self.topic} publish",
            context=context_from(parent, event.metadata.tracestate),
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": self.topic,
                "messaging.message.id": str(event.event_id),
                "messaging.kafka.message.key": event.stream_id,
            },
        ):
            traceparent = current_traceparent() or parent
        headers = replace_header(headers, "ce_traceparent", traceparent)
        return key, value, replace_header(headers, "traceparent", traceparent)

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set, polling every `poll_interval` (or sooner on `wake`).
        Failures (Kafka or database down) are logged and retried with a growing pause."""
        failures = 0
        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    await self.publish_pending()
                    failures, self.last_error = 0, None
                except Exception as error:
                    failures += 1
                    self.caught_up = False
                    self.last_error = f"{type(error).__name__}: {error}"
                    log.exception("relay failed; retrying", extra={"topic": self.topic})
                    await self._reset_producer()
                await self._pause(stop, min(self._poll_interval * 2**failures, 5.0))
        finally:
            await self.close()

    async def _reset_producer(self) -> None:
        with contextlib.suppress(Exception):
            await self.close()

    async def _pause(self, stop: asyncio.Event, seconds: float) -> None:
        waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())}
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

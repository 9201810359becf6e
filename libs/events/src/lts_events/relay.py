"""The relay: the store is the outbox. It tails one service's store in commit order and publishes
every event to the service's topic, advancing its checkpoint only after Kafka acknowledged the
whole batch. Killed at any point it resumes from the checkpoint: nothing is lost, and the events
published after the last checkpoint are published again (consumers absorb duplicates).

It reads the store's rows undecoded (`read_all_rows`: data as JSON text, metadata as its
fields) and builds the records of a batch from them (`kafka_records`, CloudEvents 1.0 in binary
mode): the one builder of our Kafka records. A single event is a batch of one
(`envelope_record` makes an envelope's record through it, for tests and tools that play a
producer), so what a consumer reads is what the relay sends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from types import TracebackType
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind
from pydantic_core import from_json, to_json, to_jsonable_python

from lts_events._fast import gc_paused
from lts_events.envelope import JSON, SPEC_VERSION, Envelope
from lts_events.faults import Outage, is_transient
from lts_events.kafka import key_partitioner
from lts_events.store.port import Checkpoint, EventStore, StoredRow
from lts_events.telemetry import context_from, spans_exported

log = logging.getLogger(__name__)
tracer = trace.get_tracer("lts_events.relay")

Header = tuple[str, bytes]
Headers = list[Header]
Record = tuple[bytes, bytes, Headers]
_CONTENT_TYPE = ("content-type", JSON.encode())
_SPEC_VERSION = ("ce_specversion", SPEC_VERSION.encode())


# -- the one CloudEvents record builder: stored rows (`EventStore.read_all_rows`) as records ----

# The traceparent of a row's record, given its stored trace context (the relay's producer span).
ProducerSpan = Callable[[StoredRow], str | None]
_ORJSON_ERRORS = (orjson.JSONDecodeError, orjson.JSONEncodeError)


def kafka_value(data: str) -> bytes:
    """The value of a stored event whose data is the JSON text `data`: `to_json(from_json(data))`
    (compact JSON of the parsed data, pydantic's form of the decoded event's data), byte for
    byte (property tests hold them equal). orjson makes the same bytes faster, except where it
    refuses the text (nesting deeper than 254, numbers beyond a double's range) or reads an
    integer beyond 64 bits as a float, which it then writes with an exponent (`e+`, as every
    float from 1e16 up): those take the reference way. (Data nested 202 to 254 levels deep, which
    the reference refuses, is sent as orjson writes it instead of stopping the relay.)"""
    try:
        value = orjson.dumps(orjson.loads(data))
    except _ORJSON_ERRORS:
        return to_json(from_json(data))
    if b"e+" in value:
        return to_json(from_json(data))
    return value


def kafka_records(
    rows: Sequence[StoredRow], *, source: str, producer_span: ProducerSpan | None = None
) -> list[Record]:
    """The relay's (key, value, headers) records of stored rows: key = stream id, value = the
    data, every CloudEvents attribute a `ce_` header (absent optional ones not sent), then
    `content-type` and, when the row carries a trace context, a plain `traceparent` header.
    `producer_span` (when spans are exported) gives the traceparent that replaces a stored one.
    The record time is formatted once per run of rows sharing it (events appended together
    do)."""
    records: list[Record] = []
    add, value_of, headers_of = records.append, kafka_value, _headers
    source_header = ("ce_source", source.encode())
    at_text: str | None = None
    time_header = ("ce_time", b"")
    for row in rows:
        if row.recorded_at != at_text:
            time_header, at_text = ("ce_time", _ce_time(row.recorded_at)), row.recorded_at
        key = row.stream_id.encode()
        headers = headers_of(row, key, source_header, time_header, producer_span)
        add((key, value_of(row.data), headers))
    return records


def _headers(
    row: StoredRow,
    key: bytes,
    source_header: Header,
    time_header: Header,
    producer_span: ProducerSpan | None,
) -> Headers:
    """The CloudEvents headers in the order of `Envelope`'s attributes, then the plain
    `traceparent` when there is a trace context."""
    headers = [
        _SPEC_VERSION,
        ("ce_id", row.event_id.encode()),
        source_header,
        ("ce_type", row.type.encode()),
        ("ce_subject", key),
        time_header,
        ("ce_correlationid", row.correlation_id.encode()),
    ]
    add = headers.append
    if row.causation_id is not None:
        add(("ce_causationid", row.causation_id.encode()))
    add(("ce_streamversion", b"%d" % row.stream_version))
    add(("ce_schemaversion", b"%d" % row.schema_version))
    add(("ce_actorid", row.actor_id.encode()))
    add(("ce_actorrole", row.actor_role.encode()))
    if row.reason is not None:
        add(("ce_reason", row.reason.encode()))
    _add_trace_context(add, row, producer_span)
    return headers


def _add_trace_context(
    add: Callable[[Header], None], row: StoredRow, producer_span: ProducerSpan | None
) -> None:
    """ce_traceparent?, ce_tracestate?, content-type, then traceparent? (the same context, for
    consumers that know W3C trace context but not CloudEvents)."""
    traceparent = row.traceparent
    if traceparent is None:
        if row.tracestate is not None:
            add(("ce_tracestate", row.tracestate.encode()))
        add(_CONTENT_TYPE)
        return
    if producer_span is not None:
        traceparent = producer_span(row) or traceparent
    encoded = traceparent.encode()
    add(("ce_traceparent", encoded))
    if row.tracestate is not None:
        add(("ce_tracestate", row.tracestate.encode()))
    add(_CONTENT_TYPE)
    add(("traceparent", encoded))


def _ce_time(recorded_at: str) -> bytes:
    """The record time as `Envelope.time` writes it (pydantic's JSON form of the datetime)."""
    at: str = to_jsonable_python(datetime.fromisoformat(recorded_at))
    return at.encode()


def envelope_record(envelope: Envelope) -> Record:
    """The record of `envelope` as the relay sends it: `kafka_records` of a batch of one, for
    tests and tools that play a service's relay or another producer. Attributes the envelope
    lacks are not sent (the relay always has them); its extension attributes follow the
    others as `ce_` headers, and its content type replaces the relay's. The key is the subject
    (empty without one)."""
    at = envelope.time or datetime.fromtimestamp(0, UTC)
    row = StoredRow(
        position=0,
        transaction_id=0,
        stream_id=envelope.subject or "",
        stream_version=envelope.streamversion or 0,
        event_id=envelope.id,
        type=envelope.type,
        schema_version=envelope.schemaversion,
        data=to_json(envelope.data).decode(),
        recorded_at=at.isoformat(),
        actor_id=envelope.actorid or "",
        actor_role=envelope.actorrole or "",
        reason=envelope.reason,
        correlation_id=envelope.correlationid or "",
        causation_id=envelope.causationid,
        traceparent=envelope.traceparent,
        tracestate=envelope.tracestate,
    )
    [(key, value, headers)] = kafka_records([row], source=envelope.source)
    absent = {f"ce_{name}" for name in _ROW_ATTRIBUTES if getattr(envelope, name) is None}
    extensions = [(f"ce_{k}", str(v).encode()) for k, v in (envelope.model_extra or {}).items()]
    content_type = headers.index(_CONTENT_TYPE)
    kept = [h for h in headers[:content_type] if h[0] not in absent]
    content = ("content-type", envelope.datacontenttype.encode())
    return key, value, [*kept, *extensions, content, *headers[content_type + 1 :]]


# The envelope attributes a row always has, so `kafka_records` always sends them.
_ROW_ATTRIBUTES = ("subject", "time", "correlationid", "streamversion", "actorid", "actorrole")


async def send_records(
    producer: AIOKafkaProducer, topic: str, records: Sequence[Record]
) -> asyncio.Future[Any]:
    """Hand records to the producer as record batches, one run per partition in the records'
    order; the returned future completes when Kafka acknowledged all of them."""
    partition_of = await key_partitioner(producer, topic)
    return await send_batches(producer, topic, record_batches(producer, records, partition_of))


def record_batches(
    producer: AIOKafkaProducer, records: Iterable[Record], partition_of: Callable[[bytes], int]
) -> list[tuple[int, BatchBuilder]]:
    """Records as (partition, filled batch) in the order to send them: each partition's
    records in their order. `partition_of` (`kafka.key_partitioner`) is the partition
    `producer.send` would choose, so a stream's events stay on one partition; building the
    batches here saves `send`'s per-record bookkeeping, which is most of the relay's cost."""
    runs: dict[int, list[Record]] = {}
    for record in records:
        runs.setdefault(partition_of(record[0]), []).append(record)
    batches: list[tuple[int, BatchBuilder]] = []
    for partition, run in runs.items():
        builder = producer.create_batch()
        for key, value, headers in run:
            if builder.append(timestamp=None, key=key, value=value, headers=headers) is None:
                batches.append((partition, builder))
                builder = producer.create_batch()
                if builder.append(timestamp=None, key=key, value=value, headers=headers) is None:
                    raise ValueError(f"a record of {len(value)} bytes fits no batch")
        if builder.record_count():
            batches.append((partition, builder))
    return batches


async def send_batches(
    producer: AIOKafkaProducer, topic: str, batches: Sequence[tuple[int, BatchBuilder]]
) -> asyncio.Future[Any]:
    """Hand filled batches to the producer in order; the returned future completes when Kafka
    acknowledged all of them."""
    futures = [await producer.send_batch(batch, topic, partition=p) for p, batch in batches]
    return asyncio.gather(*futures)


@lru_cache(maxsize=1024)
def _parent(traceparent: str, tracestate: str | None) -> Context:
    return context_from(traceparent, tracestate)


def _traceparent_of(span: trace.Span) -> str | None:
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def checkpoint_name(topic: str, *, name: str = "relay") -> str:
    """The store checkpoint of the relay publishing to `topic`: the events at or before it
    were acknowledged by Kafka."""
    return f"{name}:{topic}"


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
        self.checkpoint_name = checkpoint_name(topic, name=name)
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._linger_ms = linger_ms
        self._producer: AIOKafkaProducer | None = None
        # The checkpoint as this relay last loaded or saved it: the one writer of it while it
        # leads, so a wake-up reads only the events after it (loading it each time was a
        # round trip per wake-up, most of which find nothing new). Forgotten at each `run`
        # and after a failure: another replica may have led meanwhile, a save may be unknown.
        self._checkpoint: Checkpoint | None = None
        self._wake = asyncio.Event()
        self.caught_up = False
        self.published = 0
        self.last_error: str | None = None
        self.outage = Outage(f"relay to {topic}: Kafka or the database", log)

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
        """Publish everything readable after the checkpoint; returns how many. A batch shorter
        than the batch size is taken as the end: what settles after its read waits for the
        next call (`run` makes it when this process commits, or at the next poll).

        Pipelined: batch N+1 is read and handed to the producer while batch N awaits its
        acknowledgements; the checkpoint of batch N is saved only once all of batch N (and so
        everything before it) is acknowledged."""
        await self.start()
        checkpoint = self._checkpoint
        if checkpoint is None:
            checkpoint = self._checkpoint = await self._store.load_checkpoint(self.checkpoint_name)
        total = 0
        in_flight: tuple[asyncio.Future[Any], Checkpoint, int] | None = None
        try:
            while True:
                batch = await self._store.read_all_rows(after=checkpoint, limit=self._batch_size)
                if not batch:
                    break
                delivered = await self._send(batch)
                last = batch[-1]
                checkpoint = Checkpoint(last.transaction_id, last.position)
                if in_flight is not None:
                    total += await self._settle(*in_flight)
                in_flight = (delivered, checkpoint, len(batch))
                if len(batch) < self._batch_size:
                    # All that was readable: a read now would mostly find nothing (it was a
                    # third of the relay's statements in intake_http). What commits meanwhile
                    # wakes `run` again (it counts commits from before this round).
                    break
            if in_flight is not None:
                total += await self._settle(*in_flight)
                in_flight = None
        finally:
            if in_flight is not None:
                in_flight[0].cancel()
        self.caught_up = True
        return total

    async def _settle(self, delivered: asyncio.Future[Any], checkpoint: Checkpoint, n: int) -> int:
        await delivered
        await self._store.save_checkpoint(self.checkpoint_name, checkpoint)
        self._checkpoint = checkpoint
        self.published += n
        return n

    async def _send(self, batch: Sequence[StoredRow]) -> asyncio.Future[Any]:
        """Hand a batch to the producer, in order, before anything else is sent; the returned
        future completes when Kafka acknowledged all of it."""
        producer = self._producer
        assert producer is not None, "relay not started"
        partition_of = await key_partitioner(producer, self.topic)
        producer_span = self._producer_span if spans_exported() else None
        # A record is a dozen tracked objects (headers list and tuples) and no cycle: left on,
        # the cyclic collector ran every few dozen records and carried each batch into its
        # oldest generation (a fifth of the relay's time in the bench). Paused while the records
        # are made and written into the producer's batches, after which they are freed unseen
        # by it. Nothing else runs meanwhile (no await).
        with gc_paused():
            records = kafka_records(batch, source=self.source, producer_span=producer_span)
            batches = record_batches(producer, records, partition_of)
            records.clear()  # freed now, while the collector is off
        return await send_batches(producer, self.topic, batches)

    def _producer_span(self, row: StoredRow) -> str | None:
        """Record a producer span continuing the row's stored trace context; its traceparent."""
        assert row.traceparent is not None
        span = tracer.start_span(
            f"{self.topic} publish",
            context=_parent(row.traceparent, row.tracestate),
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": self.topic,
                "messaging.message.id": row.event_id,
            },
        )
        span.end()
        return _traceparent_of(span)

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set, looking again as soon as this process commits events
        to the store (`EventStore.commits`) or on `wake`, and at the latest every
        `poll_interval` (another replica's commits, events the barrier held back). Failures are
        retried with a growing pause; an outage of Kafka or the database (see
        `faults`) is logged once when it starts and once when it ends, other errors each time."""
        failures = 0
        self._checkpoint = None  # a new term: another replica may have moved it
        try:
            while not stop.is_set():
                self._wake.clear()
                # Noted before reading: a commit made while the store is read ends the pause at
                # once. One that the read found (or that the barrier holds back) is consumed:
                # finding nothing, the relay waits for the next one, never spins.
                seen = self._store.commits.count
                try:
                    await self.publish_pending()
                    failures, self.last_error = 0, None
                    self.outage.recovered()
                except Exception as error:
                    failures += 1
                    self.caught_up = False
                    self._checkpoint = None  # whether the last save was stored is unknown
                    self.last_error = f"{type(error).__name__}: {error}"
                    if is_transient(error):
                        pause = self.outage.failed(error)
                    else:
                        log.exception("relay failed; retrying", extra={"topic": self.topic})
                        pause = min(self._poll_interval * 2**failures, 5.0)
                    await self._reset_producer()
                    await self._pause(stop, pause)
                    continue
                await self._pause(stop, self._poll_interval, commits_after=seen)
        finally:
            await self.close()

    async def _reset_producer(self) -> None:
        with contextlib.suppress(Exception):
            await self.close()

    async def _pause(
        self, stop: asyncio.Event, seconds: float, *, commits_after: int | None = None
    ) -> None:
        """Wait `seconds`, less if stopped, woken, or (given `commits_after`) once the store
        counts more commits than that (not after a failure: an outage keeps its back-off)."""
        waiters: set[asyncio.Future[Any]] = {
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._wake.wait()),
        }
        if commits_after is not None:
            waiters.add(asyncio.ensure_future(self._store.commits.wait(after=commits_after)))
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

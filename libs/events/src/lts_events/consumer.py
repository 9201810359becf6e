"""The idempotent consumption runtime: FastStream subscribers that decode CloudEvents, skip what
was already processed, call the service's handler with retries, send what can never be processed
to the dead-letter topic, and commit the Kafka offset only once the handler's transaction (events
+ processed-message row) has committed or the message is safely in the DLQ."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Generic, TypeVar

from faststream.kafka import KafkaBroker, Topic
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from opentelemetry import trace
from opentelemetry.context import Context, attach, detach
from opentelemetry.trace import SpanKind, Status, StatusCode

from lts_events.actors import Actor
from lts_events.dlq import messages as dlq
from lts_events.envelope import Envelope, Metadata
from lts_events.event import REGISTRY, Event, UnknownEventType
from lts_events.faults import Outage, is_transient
from lts_events.kafka import (
    DEFAULT_PARTITIONS,
    DLQ_TOPIC,
    ParseBatch,
    adapt_fetches,
    batch_without_header_dicts,
    batches_without_naps,
    header,
    topic_for_type,
)
from lts_events.store.port import EventStore, ProcessedMessage
from lts_events.telemetry import (
    batch_parent,
    context_from,
    current_traceparent,
    spans_exported,
    traceparent_from_headers,
    with_traceparent,
)

log = logging.getLogger(__name__)
tracer = trace.get_tracer("lts_events.consumer")

E = TypeVar("E", bound=Event)
E_co = TypeVar("E_co", bound=Event, covariant=True)
T = TypeVar("T")


class PermanentError(Exception):
    """Raised by a handler for input that can never be processed: no retry, straight to the DLQ."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`attempts` calls in all, pausing base_delay, 2*base_delay, ... (capped) between them."""

    attempts: int = 5
    base_delay: float = 0.1
    max_delay: float = 5.0

    def delays(self) -> tuple[float, ...]:
        return tuple(
            min(self.max_delay, self.base_delay * 2**attempt)
            for attempt in range(max(self.attempts - 1, 0))
        )


@dataclass(frozen=True)
class Inbound(Generic[E_co]):
    """A decoded event delivered to a handler, with where it came from."""

    envelope: Envelope
    event: E_co
    consumer: str
    topic: str
    partition: int
    offset: int

    @property
    def processed(self) -> ProcessedMessage:
        """Pass as `processed=` to the append so a redelivery becomes a no-op."""
        return ProcessedMessage(self.consumer, self.envelope.id)

    def follow_up(self, *, actor: Actor, reason: str | None = None) -> Metadata:
        """Metadata for events appended in answer to this one: same correlation, caused by it,
        in the current trace."""
        return Metadata(
            actor=actor,
            reason=reason,
            correlation_id=self.envelope.correlationid or self.envelope.id,
            causation_id=self.envelope.id,
            traceparent=current_traceparent() or self.envelope.traceparent,
            tracestate=self.envelope.tracestate,
        )


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A Kafka message as received, for handlers of foreign (non-CloudEvents) payloads."""

    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    key: bytes | None
    topic: str
    partition: int
    offset: int
    message_id: str

    @staticmethod
    def of(
        *,
        value: bytes | None,
        headers: Any,
        key: bytes | None,
        topic: str,
        partition: int,
        offset: int,
    ) -> RawMessage:
        pairs = _header_pairs(headers)
        message_id = header(pairs, "ce_id") or f"{topic}:{partition}:{offset}"
        return RawMessage(value, pairs, key, topic, partition, offset, message_id)


def _header_pairs(headers: Any) -> tuple[tuple[str, bytes], ...]:
    """`headers` as (str, bytes) pairs (a null value as b""). aiokafka gives them so already:
    checked, they are kept as they are (rebuilding each pair cost half of `RawMessage.of`, which
    runs for every message consumed)."""
    pairs = tuple(headers) if headers else ()
    for key, value in pairs:
        if type(key) is not str or type(value) is not bytes:
            return tuple((str(k), bytes(v) if v is not None else b"") for k, v in pairs)
    return pairs


EventHandler = Callable[[Inbound[E]], Awaitable[None]]
RawHandler = Callable[[RawMessage], Awaitable[None]]
# Gets a batch's messages in (partition, offset) order; returns, for each, None (done) or the
# PermanentError that sends it to the DLQ. Raising fails the whole batch (retried, then split).
RawBatchHandler = Callable[[Sequence[RawMessage]], Awaitable[Sequence["PermanentError | None"]]]
# The same for decoded events: the batch's events of the registered types, in that order.
EventBatchHandler = Callable[[Sequence[Inbound[Any]]], Awaitable[Sequence["PermanentError | None"]]]


# -- dead letters -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Why a message can never be processed: it goes to the dead-letter topic with these facts."""

    reason: str
    error_type: str
    detail: str

    @staticmethod
    def of(reason: str, error: BaseException) -> DeadLetter:
        return DeadLetter(reason, type(error).__name__, str(error)[:2000])


UNDECODABLE = "undecodable"
UNKNOWN_TYPE = "unknown_type"
INVALID = "invalid_event"
PERMANENT = "permanent_error"
EXHAUSTED = "retries_exhausted"


def dlq_headers(
    message: RawMessage, failure: DeadLetter, *, consumer: str, failed_at: datetime
) -> list[tuple[str, bytes]]:
    """The original headers followed by the DLQ facts (any old `dlq_*` headers replaced)."""
    facts = {
        dlq.REASON: failure.reason,
        dlq.ERROR_TYPE: failure.error_type,
        dlq.ERROR: failure.detail,
        dlq.SOURCE_TOPIC: message.topic,
        dlq.SOURCE_PARTITION: str(message.partition),
        dlq.SOURCE_OFFSET: str(message.offset),
        dlq.CONSUMER: consumer,
        dlq.FAILED_AT: failed_at.isoformat(),
    }
    kept = [(k, v) for k, v in message.headers if not k.startswith(dlq.DLQ_PREFIX)]
    return kept + [(k, v.encode()) for k, v in facts.items()]


def _parent_context(headers: Sequence[tuple[str, bytes]]) -> Context | None:
    """The message's trace context, to continue; see `_unless_active`."""
    parent, state = traceparent_from_headers(headers)
    return _unless_active(context_from(parent, state))


def _unless_active(received: Context | None) -> Context | None:
    """`received`, or None (= the current context) when a span of the same trace is already
    active, e.g. FastStream's telemetry middleware's consumer span."""
    active = trace.get_current_span().get_span_context()
    if received is None or not active.is_valid:
        return received
    carried = trace.get_current_span(received).get_span_context()
    if not carried.is_valid or active.trace_id == carried.trace_id:
        return None
    return received


def ordered_lanes(messages: Sequence[RawMessage]) -> list[list[RawMessage]]:
    """Split a batch into lanes that keep Kafka's order where it matters: one lane per
    (topic, partition, key), each in offset order. Messages keyed by stream id thus stay in
    order per stream while different streams proceed concurrently."""
    lanes: dict[tuple[str, int, bytes | None], list[RawMessage]] = {}
    for message in sorted(messages, key=lambda m: (m.topic, m.partition, m.offset)):
        lanes.setdefault((message.topic, message.partition, message.key), []).append(message)
    return list(lanes.values())


# -- routing -------------------------------------------------------------------------------------


@dataclass
class _Route:
    """How one topic's messages are handled: by a batch handler, of raw messages or of decoded
    events of `types`. Handlers registered per message (`on`, `on_raw`) are batch handlers of
    one (`one_by_one`): the runtime splits each Kafka batch into lanes, one per partition and
    key, handled concurrently, each message in its lane's order as a batch of its own."""

    topic: str
    raw: RawBatchHandler | None = None
    events: EventBatchHandler | None = None
    types: frozenset[str] = frozenset()
    one_by_one: bool = False
    # per-message event handlers by type, and whether the runtime checks `is_processed` first
    per_event: dict[str, tuple[EventHandler[Any], bool]] = field(default_factory=dict)

    @property
    def taken(self) -> bool:
        return self.raw is not None or self.events is not None


class Subscriptions:
    """What one consumer (a Kafka consumer group) handles. One FastStream subscriber per topic,
    dispatching on the `ce_type` header."""

    def __init__(
        self,
        consumer: str,
        *,
        store: EventStore,
        dlq_topic: str = DLQ_TOPIC,
        retry: RetryPolicy = RetryPolicy(),
        topics: Mapping[str, str] | None = None,
        partitions: int = DEFAULT_PARTITIONS,
        max_batch: int = 500,
        batch_wait_ms: int = 1000,
        concurrency: int = 16,
    ) -> None:
        """`topics` renames topics (derived name -> actual name), e.g. for isolated tests.
        `concurrency` bounds how many stream lanes of a batch are handled at once."""
        self.consumer = consumer
        self._store = store
        self.dlq_topic = dlq_topic
        self._retry = retry
        self._delays = retry.delays()
        self._renames = dict(topics or {})
        self._partitions = partitions
        self._routes: dict[str, _Route] = {}
        self._max_batch = max_batch
        self._batch_wait_ms = batch_wait_ms
        self._concurrency = concurrency
        self._subscriber: object | None = None
        # Shared by the consumer's concurrent lanes: one outage, logged once.
        self.outage = Outage(f"infrastructure of consumer {consumer}", log)

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(self._routes)

    def _route(self, topic: str) -> _Route:
        actual = self._renames.get(topic, topic)
        return self._routes.setdefault(actual, _Route(actual))

    def on(
        self, event_class: type[E], handler: EventHandler[E], *, append_dedups: bool = False
    ) -> Subscriptions:
        """Handle the events of `event_class` one at a time (a batch of one each; events of
        one partition and key in order). `append_dedups=True` when the handler's only lasting
        effect is an append passing `processed=inbound.processed` (or nothing): the append
        itself then turns a redelivery into a no-op, and the runtime skips its own
        is_processed query (one round trip per message). Leave it False for handlers with other
        effects before or besides the append."""
        route = self._route(topic_for_type(event_class.type))
        if route.taken and not route.per_event:
            raise ValueError(f"topic {route.topic!r} already has a raw or batch handler")
        route.per_event[event_class.type] = (handler, not append_dedups)
        route.types = frozenset(route.per_event)
        route.events = partial(self._one_event, route)
        route.one_by_one = True
        return self

    def on_raw(
        self, topic: str, handler: RawHandler, *, append_dedups: bool = False
    ) -> Subscriptions:
        """Handle the messages of `topic` undecoded, one at a time as `on` does. `append_dedups`
        as for `on`, for handlers appending with `ProcessedMessage(consumer,
        message.message_id)` (or an id derived from it)."""
        route = self._route(topic)
        if route.taken:
            raise ValueError(f"topic {route.topic!r} already has handlers")
        route.raw = partial(self._one_raw, handler, not append_dedups)
        route.one_by_one = True
        return self

    def on_raw_batch(self, topic: str, handler: RawBatchHandler) -> Subscriptions:
        """Hand each Kafka batch of `topic` to `handler` at once, so that it can do its I/O for
        many messages in a few round trips. The handler must make a redelivery a no-op itself
        (appends with `ProcessedMessage(consumer, message.message_id)`), keep the order of
        messages that share a key, and return one verdict per message. A batch that raises is
        retried as a whole, then message by message, so one poison message reaches the DLQ
        alone."""
        route = self._route(topic)
        if route.taken:
            raise ValueError(f"topic {route.topic!r} already has handlers")
        route.raw = handler
        return self

    def on_batch(
        self, event_classes: Sequence[type[Event]], handler: EventBatchHandler
    ) -> Subscriptions:
        """Hand the events of `event_classes` (all on one topic) of each Kafka batch to
        `handler` at once, decoded, in (partition, offset) order, so that it can do its I/O for
        many events in a few round trips. Messages that do not decode go to the DLQ as with
        `on`; events of other types are skipped. The handler's contract is `on_raw_batch`'s:
        redeliveries are no-ops through its appends' processed messages, one verdict per
        event, and a batch that raises is retried, then handled event by event."""
        topics = {topic_for_type(c.type) for c in event_classes}
        if len(topics) != 1:
            raise ValueError(f"a batch handler takes events of one topic, not {sorted(topics)}")
        route = self._route(topics.pop())
        if route.taken:
            raise ValueError(f"topic {route.topic!r} already has handlers")
        route.events = handler
        route.types = frozenset(c.type for c in event_classes)
        return self

    # -- processing (no FastStream here) ----------------------------------------------------

    async def _one_raw(
        self, handler: RawHandler, check: bool, messages: Sequence[RawMessage]
    ) -> list[PermanentError | None]:
        """A per-message raw handler as a batch handler of one."""
        [message] = messages
        processed = ProcessedMessage(self.consumer, message.message_id)
        if not (check and await self._store.is_processed(processed)):
            await handler(message)
        return [None]

    async def _one_event(
        self, route: _Route, inbounds: Sequence[Inbound[Any]]
    ) -> list[PermanentError | None]:
        """The per-message event handlers of `route` as a batch handler of one."""
        [inbound] = inbounds
        handler, check = route.per_event[inbound.envelope.type]
        if not (check and await self._store.is_processed(inbound.processed)):
            await handler(inbound)
        return [None]

    def _decoded(
        self, message: RawMessage, handled: Collection[str]
    ) -> Inbound[Any] | DeadLetter | None:
        """The message as an event of a `handled` type, why it can never be one, or None for
        an event of a type this consumer does not handle (skipped)."""
        try:
            envelope = Envelope.from_kafka(message.value, message.headers)
        except Exception as error:
            return DeadLetter.of(UNDECODABLE, error)
        if not REGISTRY.knows(envelope.type):
            return DeadLetter.of(UNKNOWN_TYPE, UnknownEventType(envelope.type))
        if envelope.type not in handled:
            return None
        try:
            event = envelope.event
        except Exception as error:
            return DeadLetter.of(INVALID, error)
        return Inbound(
            envelope, event, self.consumer, message.topic, message.partition, message.offset
        )

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """`call`'s result. An infrastructure error (`faults.is_transient`) is waited out
        without limit, with capped backoff and jitter: the batch is not finished meanwhile, so
        nothing more of it is fetched or committed, and readiness says why. Any other error is
        retried as the retry policy says; a PermanentError, or the last error once the policy is
        spent, propagates."""
        delays = self._delays
        attempt = 0
        while True:
            try:
                result = await call()
            except PermanentError:
                raise
            except Exception as error:
                if is_transient(error):
                    await asyncio.sleep(self.outage.failed(error))
                    continue
                if attempt >= len(delays) or attempt + 1 >= self._retry.attempts:
                    raise
                log.warning(
                    "handler failed; retrying",
                    extra={
                        "consumer": self.consumer,
                        "attempt": attempt + 1,
                        "error": f"{type(error).__name__}: {error}"[:500],
                    },
                )
                await asyncio.sleep(delays[attempt])
                attempt += 1
            else:
                self.outage.recovered()
                return result

    async def _handle_as_batch(
        self,
        handler: Callable[[Sequence[T]], Awaitable[Sequence[PermanentError | None]]],
        items: Sequence[T],
        message_of: Callable[[T], RawMessage],
    ) -> list[tuple[RawMessage, DeadLetter]]:
        """Run a batch handler on `items` (messages or decoded events); the messages it (or,
        failing, the retries) could not process, with why. A batch that keeps failing is split
        into single items to find the culprit."""
        try:
            verdicts = await self._retrying(lambda: handler(items))
            if len(verdicts) != len(items):
                raise TypeError(f"{len(verdicts)} verdicts for {len(items)} messages")
        except Exception as error:
            if len(items) > 1:
                log.warning(
                    "batch failed; handling its messages one by one",
                    exc_info=True,
                    extra={"consumer": self.consumer, "messages": len(items)},
                )
                failures: list[tuple[RawMessage, DeadLetter]] = []
                for item in items:
                    failures += await self._handle_as_batch(handler, [item], message_of)
                return failures
            message = message_of(items[0])
            if isinstance(error, PermanentError):
                return [(message, DeadLetter(PERMANENT, type(error).__name__, error.reason))]
            return [(message, DeadLetter.of(EXHAUSTED, error))]
        return [
            (message_of(item), DeadLetter(PERMANENT, type(verdict).__name__, verdict.reason))
            for item, verdict in zip(items, verdicts, strict=True)
            if verdict is not None
        ]

    async def _handle_event_batch(
        self, route: _Route, messages: Sequence[RawMessage]
    ) -> list[tuple[RawMessage, DeadLetter]]:
        """Decode a batch (what does not decode goes to the DLQ, events of other types are
        skipped), then run the route's event batch handler on the events it takes."""
        assert route.events is not None
        dead: list[tuple[RawMessage, DeadLetter]] = []
        inbounds: list[Inbound[Any]] = []
        sources: dict[int, RawMessage] = {}
        for message in messages:
            decoded = self._decoded(message, route.types)
            if isinstance(decoded, Inbound):
                inbounds.append(decoded)
                sources[id(decoded)] = message
            elif isinstance(decoded, DeadLetter):
                dead.append((message, decoded))
        if inbounds:
            dead += await self._handle_as_batch(
                route.events, inbounds, lambda inbound: sources[id(inbound)]
            )
        return dead

    # -- FastStream glue --------------------------------------------------------------------

    def attach(
        self,
        broker: KafkaBroker,
        *,
        fetch_min_bytes: int = 1,
        fetch_max_wait_ms: int = 500,
        fetch_idle_wait_ms: int = 500,
    ) -> None:
        """Register one batch subscriber for all the topics: one Kafka consumer per service
        joins the group once at start (a consumer per topic joined one after the other, each
        join a rebalance of ~3 s). Group id = consumer name, earliest offset, offsets committed
        once per batch after every message of it was handled or dead-lettered. A per-message
        commit capped a consumer at ~100 messages/s here; since a redelivered message is a
        no-op, committing a batch at once loses nothing and duplicates nothing. The fetch
        settings are the broker's wait for a fuller answer after a fetch that brought messages,
        and its wait for the first message after one that brought none (`RuntimeSettings`,
        `lts_events.kafka.adapt_fetches`)."""
        if not self._routes:
            return
        subscriber = broker.subscriber(
            *(Topic(topic, num_partitions=self._partitions) for topic in self._routes),
            group_id=self.consumer,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            batch=True,
            max_records=self._max_batch,
            batch_timeout_ms=self._batch_wait_ms,
            fetch_min_bytes=fetch_min_bytes,
            fetch_max_wait_ms=fetch_max_wait_ms,
            title=self.consumer,
            parser=_batch_message,
            decoder=_undecoded,
        )
        subscriber(self._subscriber_function(broker))
        batches_without_naps(
            subscriber,
            max_records=self._max_batch,
            wait_ms=self._batch_wait_ms,
            prepare=partial(
                adapt_fetches,
                busy_min_bytes=fetch_min_bytes,
                busy_max_wait_ms=fetch_max_wait_ms,
                idle_max_wait_ms=fetch_idle_wait_ms,
            ),
        )
        self._subscriber = subscriber

    async def lag(self) -> dict[str, int]:
        """Messages not yet committed, per `topic:partition` assigned to this member (empty
        before the consumer has joined or fetched)."""
        consumer = getattr(self._subscriber, "consumer", None)
        if consumer is None:
            return {}
        lags: dict[str, int] = {}
        for partition in sorted(consumer.assignment(), key=lambda tp: (tp.topic, tp.partition)):
            end = consumer.highwater(partition)
            if end is None:
                continue
            committed = await consumer.committed(partition)
            lags[f"{partition.topic}:{partition.partition}"] = max(0, end - (committed or 0))
        return lags

    def _subscriber_function(self, broker: KafkaBroker) -> Callable[..., Awaitable[None]]:
        async def consume(message: KafkaMessage) -> None:
            records = message.raw_message
            # a tuple from aiokafka, a list from faststream's TestKafkaBroker (unit tests)
            batch = records if isinstance(records, tuple | list) else (records,)
            raws = [
                RawMessage.of(
                    value=record.value,
                    headers=record.headers,
                    key=record.key,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                )
                for record in batch
            ]
            try:
                await self.handle_batch(broker, raws)
            except Exception as error:
                if not is_transient(error):
                    log.exception("batch left uncommitted; it will be redelivered")
                await asyncio.sleep(1.0)
                await message.nack()
                return
            await message.ack()

        return consume

    async def handle_batch(self, broker: KafkaBroker, messages: Sequence[RawMessage]) -> None:
        """Handle a batch and send what can never be processed to the dead-letter topic."""
        for raw, failure in await self.process_batch(messages):
            await self.outage.wait_out(partial(self._dead_letter, broker, raw, failure))

    async def process_batch(
        self, messages: Sequence[RawMessage]
    ) -> list[tuple[RawMessage, DeadLetter]]:
        """Handle a batch: each topic's messages as `process_topic_batch` says, topics
        concurrently. Returns the dead letters."""
        by_topic: dict[str, list[RawMessage]] = {}
        for message in messages:
            by_topic.setdefault(message.topic, []).append(message)
        if len(by_topic) <= 1:
            return await self.process_topic_batch(messages)
        results = await asyncio.gather(*(self.process_topic_batch(m) for m in by_topic.values()))
        return [failure for result in results for failure in result]

    async def process_topic_batch(
        self, messages: Sequence[RawMessage]
    ) -> list[tuple[RawMessage, DeadLetter]]:
        """Handle a batch of one topic: by the topic's batch handler at once, or, for handlers
        registered per message, as batches of one, those of one (partition, key) lane in order
        and lanes concurrently. Returns the dead letters."""
        route = self._routes.get(messages[0].topic) if messages else None
        if route is None:
            return []
        if not route.one_by_one:
            return await self._process(
                route, sorted(messages, key=lambda m: (m.partition, m.offset))
            )
        limit = asyncio.Semaphore(self._concurrency)
        failures: list[tuple[RawMessage, DeadLetter]] = []

        async def run(lane: Sequence[RawMessage]) -> None:
            async with limit:
                for message in lane:
                    failures.extend(await self._process(route, [message]))

        async with asyncio.TaskGroup() as group:
            for lane in ordered_lanes(messages):
                group.create_task(run(lane))
        return failures

    async def _process(
        self, route: _Route, ordered: Sequence[RawMessage]
    ) -> list[tuple[RawMessage, DeadLetter]]:
        """Handle messages of one topic in (partition, offset) order as one batch, in a consumer
        span when spans are exported; returns the dead letters."""
        if not spans_exported():
            return await self._untraced(route, ordered)
        parent, links = batch_parent(message.headers for message in ordered)
        attributes: dict[str, str | int] = {
            "messaging.system": "kafka",
            "messaging.consumer.group.name": self.consumer,
            "messaging.destination.name": route.topic,
            "messaging.batch.message_count": len(ordered),
        }
        if len(ordered) == 1:
            [message] = ordered
            attributes["messaging.destination.partition.id"] = str(message.partition)
            attributes["messaging.kafka.offset"] = message.offset
            attributes["messaging.message.id"] = message.message_id
        with tracer.start_as_current_span(
            f"{route.topic} process",
            context=_unless_active(parent),
            kind=SpanKind.CONSUMER,
            links=links,
            attributes=attributes,
        ) as span:
            if parent is not None and (traceparent := current_traceparent()):
                # in the messages' trace: what they cause continues this span
                ordered = [
                    replace(m, headers=with_traceparent(m.headers, traceparent)) for m in ordered
                ]
            dead = await self._whole_batch(route, ordered)
            if dead:
                span.set_status(Status(StatusCode.ERROR, f"{len(dead)} dead-lettered"))
            return dead

    async def _untraced(
        self, route: _Route, ordered: Sequence[RawMessage]
    ) -> list[tuple[RawMessage, DeadLetter]]:
        """Without an exporter a span is pure cost. A batch of one continues its message's
        trace context as it is (so follow-up events and log records carry its trace id); a
        larger batch's messages keep theirs in their headers, where `Inbound.follow_up` finds
        it (finding the batch's one trace would cost a header parse per message)."""
        parent = _parent_context(ordered[0].headers) if len(ordered) == 1 else None
        if parent is None:
            return await self._whole_batch(route, ordered)
        token = attach(parent)
        try:
            return await self._whole_batch(route, ordered)
        finally:
            detach(token)

    async def _whole_batch(
        self, route: _Route, ordered: Sequence[RawMessage]
    ) -> list[tuple[RawMessage, DeadLetter]]:
        if route.raw is not None:
            return await self._handle_as_batch(route.raw, ordered, _itself)
        return await self._handle_event_batch(route, ordered)

    async def _dead_letter(self, broker: KafkaBroker, raw: RawMessage, failure: DeadLetter) -> None:
        headers = dlq_headers(raw, failure, consumer=self.consumer, failed_at=datetime.now(UTC))
        log.error(
            "message sent to the dead-letter topic",
            extra={
                "consumer": self.consumer,
                "reason": failure.reason,
                "detail": failure.detail,
                "topic": raw.topic,
                "partition": raw.partition,
                "offset": raw.offset,
            },
        )
        await broker.publish(
            raw.value or b"",
            self.dlq_topic,
            key=raw.key,
            headers={k: v.decode("utf-8", errors="replace") for k, v in headers},
        )


def _itself(message: RawMessage) -> RawMessage:
    return message


async def _batch_message(records: Sequence[Any], parse_batch: ParseBatch) -> Any:
    """FastStream's batch message, without its header dicts while no span is exported: the
    runtime reads the raw records, and only the telemetry middleware's span links read them."""
    if spans_exported():
        return await parse_batch(records)
    return await batch_without_header_dicts(records, parse_batch)


async def _undecoded(message: Any) -> Any:
    """Leave the body as bytes: the runtime decodes it itself (FastStream's JSON decoding would
    fail on a malformed body before the message reached the DLQ path)."""
    return message.body

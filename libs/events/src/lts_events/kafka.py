"""Small Kafka helpers shared by the relay, the consumer runtime and the service host, and the
one place that reads aiokafka's and FastStream's private API (`key_partitioner`,
`batch_without_header_dicts`, `adapt_fetches`, `batches_without_naps`), for the version ranges
pinned in libs/events/pyproject.toml."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
    from faststream.kafka.message import KafkaMessage

log = logging.getLogger(__name__)

DLQ_TOPIC = "lts.dlq"
DEFAULT_PARTITIONS = 3

Headers = Sequence[tuple[str, bytes]]


def events_topic(service: str) -> str:
    return f"lts.{service}.events"


def topic_for_type(type_: str) -> str:
    """The topic of a type string: `lts.intake.ticket_opened` -> `lts.intake.events`."""
    parts = type_.split(".")
    if len(parts) < 3 or not all(parts):
        raise ValueError(f"event type {type_!r} is not of the form <ns>.<service>.<name>")
    return f"{parts[0]}.{parts[1]}.events"


def header(headers: Iterable[tuple[str, bytes]], name: str) -> str | None:
    """The last value of header `name` (case-insensitive) as text, or None."""
    wanted = name.lower()
    found: str | None = None
    for key, value in headers:
        if key.lower() == wanted and value is not None:
            found = value.decode("utf-8", errors="replace")
    return found


def replace_header(
    headers: Iterable[tuple[str, bytes]], name: str, value: str
) -> list[tuple[str, bytes]]:
    kept = [(k, v) for k, v in headers if k.lower() != name.lower()]
    kept.append((name, value.encode()))
    return kept


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    partitions: int = DEFAULT_PARTITIONS,
    replication_factor: int = 1,
) -> None:
    """Create the topics that do not exist yet; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=partitions, replication_factor=replication_factor)
            for name in dict.fromkeys(topics)
            if name not in existing
        ]
        if not missing:
            return
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(missing)
        log.info("created topics", extra={"topics": [t.name for t in missing]})
    finally:
        await admin.close()


async def key_partitioner(producer: AIOKafkaProducer, topic: str) -> Callable[[bytes], int]:
    """`partition_of(key)`: the partition `producer.send(topic, value, key=key)` would choose
    now, for producers that fill record batches themselves (`create_batch`, `send_batch`) so
    that a key keeps its partition either way. Waits for the topic's metadata first; the
    partitions are those known at the call, so ask again for each batch.

    aiokafka's partitioner is private (`AIOKafkaProducer._partitioner`, called by `send` as
    `partitioner(serialized_key, all_partitions, available_partitions)`): the only use of its
    private API here. Checked against the aiokafka range pinned in libs/events/pyproject.toml;
    tests/runtime/test_kafka_private_api.py fails when an upgrade changes it. Keys are hashed
    once per call of `key_partitioner` (murmur2 is pure Python in aiokafka: a fifth of the
    relay's time when run per record; a stream's events share a key)."""
    await producer.partitions_for(topic)  # public; waits for the topic's metadata
    metadata = producer.client.cluster
    partitions = list(metadata.partitions_for_topic(topic))
    available = list(metadata.available_partitions_for_topic(topic))
    choose = producer._partitioner
    chosen: dict[bytes, int] = {}

    def partition_of(key: bytes) -> int:
        partition = chosen.get(key)
        if partition is None:
            partition = chosen[key] = choose(key, partitions, available)
        return partition

    return partition_of


def adapt_fetches(
    consumer: AIOKafkaConsumer, *, busy_min_bytes: int, busy_max_wait_ms: int, idle_max_wait_ms: int
) -> None:
    """Make `consumer`'s next fetch depend on what the last one brought. After messages: wait
    up to `busy_max_wait_ms` for `busy_min_bytes`, so that a busy topic comes in large batches.
    After nothing: answer at the first byte, waiting up to `idle_max_wait_ms`, so that an idle
    consumer asks the broker a few times a second instead of every `busy_max_wait_ms`, and the
    first message after a quiet spell is not held for more.

    Why: one fixed pair cannot do both. At 64 KiB / 20 ms, an idle stack of intake, triage and
    metrics spent ~190 ms of CPU a second asking, and the broker ~230 ms answering (0.4 of a
    core, on 2); at aiokafka's 1 byte / 500 ms the pipeline's batches shrank (docs/performance.md).

    aiokafka reads its fetch settings from the private `Fetcher._fetch_min_bytes` and
    `_fetch_max_wait_ms` each time it builds a fetch, and `Fetcher._proc_fetch_request` answers
    True when a fetch added records: checked against the range pinned in
    libs/events/pyproject.toml by tests/runtime/test_kafka_private_api.py. Once the consumer has
    started (its fetcher exists); a consumer that has not is left as it is."""
    fetcher = getattr(consumer, "_fetcher", None)
    fetch = getattr(fetcher, "_proc_fetch_request", None)
    if fetcher is None or fetch is None:
        return

    async def adaptive(assignment: Any, node_id: int, request: Any) -> bool:
        brought: bool = await fetch(assignment, node_id, request)
        if brought:
            fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms = busy_min_bytes, busy_max_wait_ms
        else:
            fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms = 1, idle_max_wait_ms
        return brought

    fetcher._proc_fetch_request = adaptive


def batches_without_naps(
    subscriber: object,
    *,
    max_records: int,
    wait_ms: int,
    prepare: Callable[[AIOKafkaConsumer], None] | None = None,
) -> None:
    """Make FastStream's batch `subscriber` take each batch as soon as its consumer has one.

    FastStream's `BatchSubscriber.get_msg` asks the consumer for up to `max_records` records,
    waiting up to its `batch_timeout_ms`; when none came, it sleeps that long again before it
    asks anew. A message that arrives during that nap waits for its end: up to 50 ms per
    consumer hop at our 50 ms, three hops from an alert to its audited plan. Here the wait is
    `wait_ms` and there is no nap: `getmany` answers as soon as records are there, and asking
    again at once after an empty wait costs one call a `wait_ms`.

    FastStream's consume loop calls `self.get_msg(consumer)` and hands a non-empty tuple of
    records on (`_run_consume_loop`, private): checked against the range pinned in
    libs/events/pyproject.toml by tests/runtime/test_kafka_private_api.py. A subscriber
    without `get_msg` is left as it is.

    `prepare` is called with each consumer the loop hands over, once, before its first batch:
    the started consumer (FastStream makes a new one when the subscriber restarts), for what
    can only be set on it then (`adapt_fetches`)."""
    if not callable(getattr(subscriber, "get_msg", None)):
        return
    prepared: list[AIOKafkaConsumer] = []  # the consumer prepared last

    async def get_msg(consumer: AIOKafkaConsumer) -> tuple[ConsumerRecord[Any, Any], ...]:
        if prepare is not None and (not prepared or prepared[0] is not consumer):
            prepare(consumer)
            prepared[:] = [consumer]
        batches = await consumer.getmany(timeout_ms=wait_ms, max_records=max_records)
        return tuple(record for records in batches.values() for record in records)

    subscriber.get_msg = get_msg  # type: ignore[attr-defined]


ParseBatch = Callable[[Any], Awaitable[Any]]
"""FastStream's `AioKafkaBatchParser.parse_batch`: records in, its `KafkaMessage` out."""


async def batch_without_header_dicts(
    records: Sequence[ConsumerRecord[Any, Any]], parse_batch: ParseBatch
) -> KafkaMessage:
    """The message FastStream's batch subscriber makes of `records` (`parse_batch`, its
    `AioKafkaBatchParser.parse_batch`), without the dict of every record's headers it makes
    for its telemetry middleware's span links, its `headers` and `batch_headers`: the same
    body, raw records, message id, path and consumer (what `ack` and `nack` commit and seek).

    For a consumer that reads the raw records itself and exports no spans (the links would go
    nowhere): the dicts were ~2% of the metrics consumer's CPU in the pipeline burst, a dict of
    ~11 decoded headers per message. FastStream's parser is private to it (`msg_class`,
    `regex`, `_consumer`): checked against the range pinned in libs/events/pyproject.toml by
    tests/runtime/test_kafka_private_api.py; a parser of another shape, or a pattern
    subscription, gets FastStream's own message."""
    parser = getattr(parse_batch, "__self__", None)
    msg_class = getattr(parser, "msg_class", None)
    consumer = getattr(parser, "_consumer", None)
    pattern = getattr(parser, "regex", "absent")  # None unless the subscription is a pattern
    if not records or msg_class is None or consumer is None or pattern is not None:
        theirs: KafkaMessage = await parse_batch(records)
        return theirs
    first, last = records[0], records[-1]
    message: KafkaMessage = msg_class(
        body=[record.value or b"" for record in records],
        raw_message=records,
        message_id=f"{first.offset}-{last.offset}-{first.timestamp}",
        consumer=consumer,
    )
    return message

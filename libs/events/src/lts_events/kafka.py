"""Small Kafka helpers shared by the relay, the consumer runtime and the service host."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

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

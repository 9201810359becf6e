"""Listing and deleting topics, for the tooling that cleans up after itself (benches, tests,
`stale_topics`); services only ever create theirs (`lts_events.kafka.ensure_topics`)."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient

_PER_REQUEST = 500  # topics per DeleteTopics request: a bounded request size


async def topic_names(bootstrap_servers: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def delete_topics(bootstrap_servers: str, topics: Iterable[str]) -> None:
    """Delete `topics`; one that does not exist is no error (the broker answers per topic)."""
    names = list(topics)
    if not names:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        for start in range(0, len(names), _PER_REQUEST):
            await admin.delete_topics(names[start : start + _PER_REQUEST])
    finally:
        await admin.close()

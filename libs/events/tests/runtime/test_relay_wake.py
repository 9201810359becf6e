"""The relay looks again as soon as its own process commits events, not at its next poll."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer
from lts_events.envelope import Metadata, NewEvent
from lts_events.kafka import ensure_topics
from lts_events.relay import Relay
from lts_events.store.port import NO_STREAM, StreamAppend
from lts_events.store.postgres import PostgresEventStore

from .test_relay_and_consumer import ALICE, ItemAdded, add_items, eventually

pytestmark = pytest.mark.integration

POLL = 5.0  # far longer than a wake-up takes: an event seen sooner was not found by the poll


# Appends to new streams are statements of their own; to a stream whose head the store knows,
# they join the group commit.
@pytest.mark.parametrize("head", ["unknown", "known"])
async def test_an_appended_event_reaches_kafka_well_before_the_relay_polls_again(
    store: PostgresEventStore, kafka: str, unique: Callable[[str], str], head: str
) -> None:
    topic, stream = unique("rt-wake"), unique("wake")
    await ensure_topics(kafka, [topic])
    relay = Relay(
        store, bootstrap_servers=kafka, topic=topic, source="lts-flow/rtwake", poll_interval=POLL
    )
    if head == "known":  # published by the relay's first look; the store knows the head since
        await add_items(store, stream, "first")
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka, auto_offset_reset="latest")
    await consumer.start()
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:

        async def first_look_done() -> bool:
            return relay.caught_up  # then it waits out its poll, unless woken

        await eventually(first_look_done, within=30)
        await consumer.seek_to_end()
        async with asyncio.timeout(POLL / 2):
            # Each append is a commit that wakes the relay. Appended again while none arrived:
            # another session's open transaction in the shared database may hold the first
            # one back (the barrier), and only a later wake-up (or the poll) sees it then.
            while not await consumer.getmany(timeout_ms=300):
                await add_items(store, stream if head == "known" else unique("wake"), "again")
    finally:
        stop.set()
        await running
        await consumer.stop()


async def test_appends_within_a_transaction_count_as_a_commit_only_once_it_commits(
    store: PostgresEventStore, unique: Callable[[str], str]
) -> None:
    def append(stream: str) -> list[StreamAppend]:
        event = ItemAdded(item_id=stream, label="one")
        return [StreamAppend(stream, [NewEvent.of(event, Metadata(actor=ALICE))], NO_STREAM)]

    async def rolled_back() -> None:
        async with store.transaction() as db:
            await store.append_within(db, append(unique("rolled-back")))
            raise RuntimeError("roll back")

    before = store.commits.count
    async with store.transaction() as db:
        await store.append_within(db, append(unique("within")))
        await asyncio.sleep(0)  # the query logger's callbacks run soon after each query
        assert store.commits.count == before  # not committed yet: a relay woken finds nothing
    await asyncio.sleep(0)
    assert store.commits.count == before + 1
    with pytest.raises(RuntimeError):
        await rolled_back()
    await asyncio.sleep(0)
    assert store.commits.count == before + 1

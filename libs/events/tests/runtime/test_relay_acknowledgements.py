"""The relay's checkpoint follows Kafka's acknowledgements: it never moves past a batch Kafka has
not acknowledged. The producer is aiokafka's own, started on the real broker (real metadata,
partitioner and record batches); only the broker's answer to chosen batches is replaced."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import NotEnoughReplicasError
from lts_events import relay as relay_module
from lts_events.actors import Actor, Role
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.kafka import ensure_topics
from lts_events.relay import Relay
from lts_events.store.port import ANY, Checkpoint
from lts_events.store.postgres import PostgresEventStore

pytestmark = pytest.mark.integration

ACK, REFUSE = "ack", "refuse"


class LineNoted(Event):
    type: ClassVar[str] = "lts.rtack.line_noted"
    line: int


def producer_answering(verdicts: list[str], partitions: list[int]) -> type[AIOKafkaProducer]:
    """aiokafka's producer, except that the n-th record batch handed to it is acknowledged by
    the broker (ACK, also once `verdicts` ran out) or refused (REFUSE: its delivery future
    fails, as on NOT_ENOUGH_REPLICAS). `partitions` gets each batch's partition."""

    class Answering(AIOKafkaProducer):  # type: ignore[misc]
        async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any:
            partitions.append(partition)
            if (verdicts.pop(0) if verdicts else ACK) == ACK:
                return await super().send_batch(batch, topic, partition=partition)
            refused: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            refused.set_exception(NotEnoughReplicasError("refused by the test"))
            return refused

    return Answering


async def stored_lines(store: PostgresEventStore, count: int) -> list[Checkpoint]:
    """Append `count` events, each in its own transaction; their checkpoints once all are
    readable (the shared server's open transactions may hold them back for a moment)."""
    metadata = Metadata(actor=Actor(id="rita", role=Role.QA))
    for line in range(count):
        new = NewEvent.of(LineNoted(line=line), metadata)
        await store.append(f"lines-{line}", [new], expected_version=ANY)
    async with asyncio.timeout(15):
        while True:
            readable = await store.read_all(after=Checkpoint.start())
            if len(readable) == count:
                return [Checkpoint(e.transaction_id, e.position) for e in readable]
            await asyncio.sleep(0.05)


@pytest.fixture
async def topic(kafka: str, unique: Callable[[str], str]) -> str:
    name = unique("rt-acks")
    await ensure_topics(kafka, [name])
    return name


@pytest.mark.parametrize(
    ("verdicts", "acknowledged"),
    [
        ([ACK, REFUSE, ACK], 1),  # refused while the next batch is already in flight
        ([ACK, ACK, REFUSE], 2),  # the last batch refused
        ([REFUSE, ACK, ACK], 0),  # the first batch refused
    ],
    ids=["middle-refused", "last-refused", "first-refused"],
)
async def test_a_refused_batch_leaves_the_checkpoint_at_the_last_acknowledged_one(
    store: PostgresEventStore,
    kafka: str,
    topic: str,
    monkeypatch: pytest.MonkeyPatch,
    verdicts: list[str],
    acknowledged: int,
) -> None:
    checkpoints = await stored_lines(store, 3)
    producer = producer_answering(list(verdicts), [])
    monkeypatch.setattr(relay_module, "AIOKafkaProducer", producer)
    relay = Relay(
        store, bootstrap_servers=kafka, topic=topic, source="lts-flow/rtack", batch_size=1
    )

    async with relay:
        with pytest.raises(NotEnoughReplicasError):
            await relay.publish_pending()

    saved = await store.load_checkpoint(relay.checkpoint_name)
    assert saved == ([Checkpoint.start(), *checkpoints][acknowledged])
    assert relay.published == acknowledged


async def test_one_refused_partition_of_a_batch_keeps_the_whole_batch_unacknowledged(
    store: PostgresEventStore, kafka: str, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await stored_lines(store, 12)  # twelve streams: keys on every partition of the topic
    partitions: list[int] = []
    monkeypatch.setattr(relay_module, "AIOKafkaProducer", producer_answering([REFUSE], partitions))
    relay = Relay(store, bootstrap_servers=kafka, topic=topic, source="lts-flow/rtack")

    async with relay:
        with pytest.raises(NotEnoughReplicasError):
            await relay.publish_pending()

    assert len(set(partitions)) > 1  # one relay batch, several record batches, the first refused
    assert await store.load_checkpoint(relay.checkpoint_name) == Checkpoint.start()
    assert relay.published == 0


async def test_the_same_relay_publishes_a_refused_batch_again_on_its_next_round(
    store: PostgresEventStore, kafka: str, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the relay keeps its checkpoint between rounds: only what Kafka acknowledged moves it
    checkpoints = await stored_lines(store, 3)
    monkeypatch.setattr(relay_module, "AIOKafkaProducer", producer_answering([ACK, REFUSE], []))
    relay = Relay(
        store, bootstrap_servers=kafka, topic=topic, source="lts-flow/rtack", batch_size=1
    )

    async with relay:
        with pytest.raises(NotEnoughReplicasError):
            await relay.publish_pending()
        again = await relay.publish_pending()

    assert again == 2  # the refused event and the one after it
    assert relay.published == 3
    assert await store.load_checkpoint(relay.checkpoint_name) == checkpoints[-1]


async def test_a_relay_starting_its_run_reads_the_checkpoint_another_relay_saved(
    store: PostgresEventStore, kafka: str, topic: str
) -> None:
    # a new term: another replica may have published (and saved) meanwhile
    await stored_lines(store, 2)
    first = Relay(store, bootstrap_servers=kafka, topic=topic, source="lts-flow/rtack")
    other = Relay(store, bootstrap_servers=kafka, topic=topic, source="lts-flow/rtack")
    async with first, other:
        assert await first.publish_pending() == 2
        await store.append("lines-late", [late_line()], expected_version=ANY)
        await wait_readable(store, 3)
        assert await other.publish_pending() == 1  # the late one, after what `first` saved
        stop, first.caught_up = asyncio.Event(), False
        running = asyncio.create_task(first.run(stop))
        async with asyncio.timeout(15):
            while True:
                if first.caught_up:  # a round of its run is done
                    break
                await asyncio.sleep(0.01)
        stop.set()
        await running

    assert first.published == 2  # nothing published twice by this one: it reloaded


def late_line() -> NewEvent:
    return NewEvent.of(LineNoted(line=99), Metadata(actor=Actor(id="rita", role=Role.QA)))


async def wait_readable(store: PostgresEventStore, count: int) -> None:
    async with asyncio.timeout(15):
        while True:
            if len(await store.read_all(after=Checkpoint.start())) >= count:
                return
            await asyncio.sleep(0.05)

"""aiokafka's private API, read in one place (`lts_events.kafka.key_partitioner`), still does what
the relay relies on: the partition it computes for a key is the one the producer's public `send`
chooses on the real broker. Fails when an aiokafka upgrade renames or changes the private parts;
then re-check `key_partitioner` and move the pin in libs/events/pyproject.toml."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib.metadata import requires, version

import pytest
from aiokafka import AIOKafkaProducer
from lts_events.kafka import ensure_topics, key_partitioner
from packaging.requirements import Requirement

pytestmark = pytest.mark.integration

KEYS = [b"ticket-1", b"ticket-2", b"release-1.4", b"", b"\xff\x00binary", "é".encode() * 40]


def test_the_installed_aiokafka_is_in_the_range_the_wrapper_was_checked_against() -> None:
    [pinned] = [
        Requirement(line)
        for line in requires("lts-events") or []
        if Requirement(line).name == "aiokafka"
    ]

    assert pinned.specifier.contains(version("aiokafka"))
    assert str(pinned.specifier) != ""  # a range, not any version


async def test_the_private_partitioner_takes_what_the_wrapper_passes(kafka: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka)

    partitioner = producer._partitioner

    assert list(inspect.signature(partitioner.__call__).parameters) == [
        "key",
        "all_partitions",
        "available",
    ]


async def test_the_wrappers_partition_of_a_key_is_where_send_puts_it(
    kafka: str, unique: Callable[[str], str]
) -> None:
    topic = unique("rt-partitioner")
    await ensure_topics(kafka, [topic], partitions=5)
    producer = AIOKafkaProducer(bootstrap_servers=kafka, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        partition_of = await key_partitioner(producer, topic)

        sent = {key: await producer.send_and_wait(topic, b"{}", key=key) for key in KEYS}
    finally:
        await producer.stop()

    assert {key: partition_of(key) for key in KEYS} == {key: m.partition for key, m in sent.items()}
    assert len({m.partition for m in sent.values()}) > 1  # the keys spread: a real check

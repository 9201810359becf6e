"""The relay builds its Kafka records from stored rows (`read_all_rows`, nothing decoded): each
must be exactly the record of the decoded event (`kafka_record`, itself held to the envelope's
`to_kafka` form) plus the plain `traceparent` header the relay adds: same key, same value bytes,
same headers in the same order. Checked against the in-memory and the PostgreSQL store."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import pytest
from lts_events.actors import Actor, Role, automation
from lts_events.envelope import Metadata, NewEvent, RecordedEvent
from lts_events.event import Event
from lts_events.kafka import ensure_topics
from lts_events.relay import Record, Relay, kafka_record, kafka_records
from lts_events.store.memory import InMemoryEventStore
from lts_events.store.port import ANY, Checkpoint, EventStore, StoredRow
from lts_events.store.postgres import PostgresEventStore

SOURCE = "lts-flow/rtrecords"
PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
SPAN = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"
METADATA = [
    Metadata(actor=automation("rtrecords")),
    Metadata(
        actor=Actor(id="alice", role=Role.SECURITY_REVIEWER),
        reason='naïve "quoted" reason\nover two lines',
        correlation_id="corr-1",
        causation_id="e-8",
        traceparent=PARENT,
        tracestate="vendor=1,other=2",
    ),
    Metadata(actor=Actor(id="bob", role=Role.QA), reason="retest", traceparent=PARENT),
    Metadata(actor=Actor(id="carol", role=Role.SRE), tracestate="vendor=1"),
    Metadata(actor=Actor(id="dave", role=Role.MAINTAINER), causation_id="e-9"),
]


class FindingNoted(Event):
    type: ClassVar[str] = "lts.rtrecords.finding_noted"
    text: str
    details: dict[str, Any]


def findings(count: int) -> list[NewEvent]:
    details = {
        "big": 2**70,
        "edge": 2**64 - 1,
        "ratio": 0.1,
        "small": 1e-05,
        "large": 1e16,
        "zero": -0.0,
        "nested": [None, True, {"é": "\u2028\x1f"}],
    }
    return [
        NewEvent.of(FindingNoted(text=f"finding {i}", details=details), METADATA[i % len(METADATA)])
        for i in range(count)
    ]


@pytest.fixture(params=["memory", "postgres"])
def any_store(request: pytest.FixtureRequest) -> EventStore:
    if request.param == "memory":
        return InMemoryEventStore()
    found: PostgresEventStore = request.getfixturevalue("store")
    return found


async def stored(store: EventStore, count: int) -> tuple[Sequence[StoredRow], Sequence[Any]]:
    """The rows and the decoded events of everything in `store`, once all are readable."""
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        rows = await store.read_all_rows(after=Checkpoint.start())
        if len(rows) >= count or asyncio.get_running_loop().time() > deadline:
            return rows, await store.read_all(after=Checkpoint.start())
        await asyncio.sleep(0.05)


def relay_record(event: RecordedEvent, *, traceparent: str | None = None) -> Record:
    key, value, headers = kafka_record(event, source=SOURCE, traceparent=traceparent)
    forwarded = traceparent or event.metadata.traceparent
    if forwarded is not None:
        headers.append(("traceparent", forwarded.encode()))
    return key, value, headers


async def test_records_of_rows_are_the_records_of_the_decoded_events(
    any_store: EventStore,
) -> None:
    await any_store.append("finding-1", findings(7), expected_version=ANY)
    await any_store.append("finding-2", findings(3), expected_version=ANY)
    rows, events = await stored(any_store, 10)

    records = kafka_records(rows, source=SOURCE)

    assert len(records) == len(events) == 10
    assert records == [relay_record(event) for event in events]


async def test_records_of_rows_carry_the_envelopes_attributes_and_data(
    any_store: EventStore,
) -> None:
    await any_store.append("finding-1", findings(5), expected_version=ANY)
    rows, events = await stored(any_store, 5)

    records = kafka_records(rows, source=SOURCE)

    for (_, value, headers), event in zip(records, events, strict=True):
        envelope_value, envelope_headers = event.to_envelope(source=SOURCE).to_kafka()
        plain = [h for h in headers if h[0] != "traceparent"]
        assert plain == envelope_headers
        assert json.loads(value) == json.loads(envelope_value) == event.data


async def test_a_producer_span_replaces_only_a_stored_trace_context(
    any_store: EventStore,
) -> None:
    await any_store.append("finding-1", findings(5), expected_version=ANY)
    rows, events = await stored(any_store, 5)
    asked: list[tuple[str, str | None, str | None]] = []

    def producer_span(row: StoredRow) -> str:
        asked.append((row.event_id, row.traceparent, row.tracestate))
        return SPAN

    records = kafka_records(rows, source=SOURCE, producer_span=producer_span)

    traced = [e for e in events if e.metadata.traceparent is not None]
    assert asked == [(str(e.event_id), PARENT, e.metadata.tracestate) for e in traced]
    assert records == [
        relay_record(e, traceparent=SPAN if e.metadata.traceparent else None) for e in events
    ]


async def test_a_producer_span_without_a_valid_context_forwards_the_stored_one() -> None:
    store = InMemoryEventStore()
    await store.append("finding-1", findings(3), expected_version=ANY)
    rows, events = await stored(store, 3)

    records = kafka_records(rows, source=SOURCE, producer_span=lambda row: None)

    assert records == [relay_record(event) for event in events]


@pytest.mark.parametrize("collecting", [True, False])
async def test_publishing_leaves_the_garbage_collector_as_it_found_it(
    collecting: bool, kafka: str, unique: Callable[[str], str]
) -> None:
    store = InMemoryEventStore()
    await store.append("finding-1", findings(3), expected_version=ANY)
    topic = unique("rt-records")
    await ensure_topics(kafka, [topic])
    was = gc.isenabled()
    (gc.enable if collecting else gc.disable)()
    try:
        async with Relay(store, bootstrap_servers=kafka, topic=topic, source=SOURCE) as relay:
            published = await relay.publish_pending()
        assert gc.isenabled() is collecting
    finally:
        (gc.enable if was else gc.disable)()

    assert published == 3

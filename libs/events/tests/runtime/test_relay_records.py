"""The relay's one record builder (`kafka_records`, from stored rows, nothing decoded) and what a
consumer reads from its records: each stored event back, whole, as a binary-mode CloudEvent keyed
by its stream, with the trace context a consumer of W3C trace context or of CloudEvents finds.
Checked against the in-memory and the PostgreSQL store. `envelope_record`, a batch of one, sends
only the attributes an envelope has."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import pytest
from lts_events.actors import Actor, Role, automation
from lts_events.envelope import Envelope, Metadata, NewEvent
from lts_events.event import Event
from lts_events.kafka import ensure_topics, header
from lts_events.relay import Record, Relay, envelope_record, kafka_records
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


def read_back(record: Record) -> Envelope:
    """What a consumer decodes from a record (`Subscriptions` does this to every message)."""
    _, value, headers = record
    return Envelope.from_kafka(value, headers)


async def test_a_consumer_reads_each_stored_event_back_from_its_record(
    any_store: EventStore,
) -> None:
    await any_store.append("finding-1", findings(7), expected_version=ANY)
    await any_store.append("finding-2", findings(3), expected_version=ANY)
    rows, events = await stored(any_store, 10)

    records = kafka_records(rows, source=SOURCE)

    assert len(records) == len(events) == 10
    assert [read_back(r) for r in records] == [e.to_envelope(source=SOURCE) for e in events]
    assert [read_back(r).metadata() for r in records] == [e.metadata for e in events]
    assert [key for key, _, _ in records] == [e.stream_id.encode() for e in events]
    assert [json.loads(value) for _, value, _ in records] == [
        json.loads(json.dumps(e.data)) for e in events
    ]


async def test_a_record_carries_the_attributes_in_binary_mode_in_the_envelopes_order() -> None:
    store = InMemoryEventStore()
    await store.append("finding-1", findings(2), expected_version=ANY)
    rows, events = await stored(store, 2)

    records = kafka_records(rows, source=SOURCE)

    every = events[1]  # METADATA[1]: every optional attribute
    assert records[1][2] == [
        ("ce_specversion", b"1.0"),
        ("ce_id", str(every.event_id).encode()),
        ("ce_source", SOURCE.encode()),
        ("ce_type", FindingNoted.type.encode()),
        ("ce_subject", b"finding-1"),
        ("ce_time", every.recorded_at.isoformat().replace("+00:00", "Z").encode()),
        ("ce_correlationid", b"corr-1"),
        ("ce_causationid", b"e-8"),
        ("ce_streamversion", b"2"),
        ("ce_schemaversion", b"1"),
        ("ce_actorid", b"alice"),
        ("ce_actorrole", b"security_reviewer"),
        ("ce_reason", 'naïve "quoted" reason\nover two lines'.encode()),
        ("ce_traceparent", PARENT.encode()),
        ("ce_tracestate", b"vendor=1,other=2"),
        ("content-type", b"application/json"),
        ("traceparent", PARENT.encode()),
    ]
    sent = {name for name, _ in records[0][2]}  # METADATA[0]: none of them
    assert not sent & {"ce_causationid", "ce_reason", "ce_traceparent", "traceparent"}


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
    for record, event in zip(records, events, strict=True):
        _, _, headers = record
        expected = SPAN if event.metadata.traceparent else None
        assert header(headers, "traceparent") == header(headers, "ce_traceparent") == expected
        assert read_back(record).tracestate == event.metadata.tracestate


async def test_a_producer_span_without_a_valid_context_forwards_the_stored_one() -> None:
    store = InMemoryEventStore()
    await store.append("finding-1", findings(3), expected_version=ANY)
    rows, events = await stored(store, 3)

    records = kafka_records(rows, source=SOURCE, producer_span=lambda row: None)

    assert records == kafka_records(rows, source=SOURCE)
    assert [header(h, "traceparent") for _, _, h in records] == [
        e.metadata.traceparent for e in events
    ]


def test_an_envelope_sends_only_the_attributes_it_has() -> None:
    minimal = Envelope(id="m-1", source="other/producer", type="com.example.seen", data={"a": 1})

    key, value, headers = envelope_record(minimal)

    assert (key, value) == (b"", b'{"a":1}')
    assert headers == [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"m-1"),
        ("ce_source", b"other/producer"),
        ("ce_type", b"com.example.seen"),
        ("ce_schemaversion", b"1"),
        ("content-type", b"application/json"),
    ]
    assert read_back((key, value, headers)) == minimal


def test_an_envelopes_extensions_and_content_type_are_sent() -> None:
    envelope = Envelope.model_validate(
        {
            "id": "x-1",
            "source": "alertmanager",
            "type": "com.example.alert",
            "subject": "alert-1",
            "datacontenttype": "application/json; charset=utf-8",
            "data": {"fingerprint": "abc"},
            "severityhint": "page",
            "traceparent": PARENT,
        }
    )

    key, value, headers = envelope_record(envelope)

    assert key == b"alert-1"
    assert headers[-4:] == [
        ("ce_traceparent", PARENT.encode()),
        ("ce_severityhint", b"page"),
        ("content-type", b"application/json; charset=utf-8"),
        ("traceparent", PARENT.encode()),
    ]
    assert read_back((key, value, headers)) == envelope


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

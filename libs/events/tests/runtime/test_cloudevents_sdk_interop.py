"""Interoperability with the official CloudEvents Python SDK (`cloudevents` on PyPI) over a real
broker, both ways: what upstream systems publish with the SDK's Kafka binding is decoded by
`Envelope.from_kafka` (every consumer's decoding) as the same event in our own shape is, or
refused with a reason naming the field the spec says is wrong; and what our relay's record
builder sends is read back by the SDK with the same attributes and data.

Both of the SDK's Kafka APIs play producers: `cloudevents.core.bindings.kafka` (SDK 2.x) and
`cloudevents.v1.kafka` (the 1.x API, `cloudevents.kafka` before 2.0, which most deployed
producers still run). Every message goes through Kafka (aiokafka producer, consumer) before it
is decoded: headers, key and value as a consumer receives them."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cloudevents.core.bindings import kafka as sdk
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v03.event import CloudEvent as CloudEvent03
from cloudevents.core.v1.event import CloudEvent
from cloudevents.v1 import kafka as sdk1
from cloudevents.v1.http import CloudEvent as CloudEvent1
from dateutil.parser import isoparse
from lts_events.envelope import Envelope
from lts_events.kafka import ensure_topics
from lts_events.relay import envelope_record

pytestmark = pytest.mark.integration

FORMAT = JSONFormat()
ID = "build-4711"
SOURCE = "/ci/github/acme/ltsapp"
TYPE = "com.example.ci.build_finished"
SUBJECT = "release/1.4"
TIME = datetime(2026, 5, 1, 12, 34, 56, 123456, tzinfo=timezone(timedelta(hours=2)))
# Go's and Java's SDKs write nanoseconds; Python keeps microseconds (so does the SDK's isoparse).
TIME_NS = "2026-05-01T12:34:56.123456789+02:00"
DATA: dict[str, Any] = {"branch": "release/1.4", "status": "success", "tests": {"passed": 41}}
DATA |= {"note": "naïve ✓", "big": 2**70, "none": None}
EXTENSIONS = {"comexamplebuild": "nightly", "partitionkey": SUBJECT}
ATTRIBUTES = {"id": ID, "source": SOURCE, "type": TYPE, "subject": SUBJECT}
JSON_UTF8 = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Sent:
    """A record as handed to Kafka, and what it is to decode to (None: to be refused)."""

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def core(attributes: dict[str, Any], data: Any, *, structured: bool = False) -> Sent:
    event = CloudEvent(attributes, data)
    message = (sdk.to_structured if structured else sdk.to_binary)(event, FORMAT)
    return _sent(message.key, message.value, message.headers)


def v1(
    attributes: dict[str, Any],
    data: Any,
    *,
    structured: bool = False,
    raw: bool = False,  # data is bytes, sent as they are (binary) or as data_base64
) -> Sent:
    event = CloudEvent1.create(attributes, data)
    if structured:
        message = sdk1.to_structured(event)
    else:
        message = sdk1.to_binary(event, data_marshaller=(lambda d: d) if raw else None)
    return _sent(message.key, message.value, message.headers)


def _sent(key: str | bytes | None, value: str | bytes, headers: dict[str, bytes]) -> Sent:
    encoded = key.encode() if isinstance(key, str) else key
    body = value.encode() if isinstance(value, str) else value
    return Sent(encoded, body, list(headers.items()))


def a(**more: Any) -> dict[str, Any]:
    """The event's attributes with its extensions and `more` (None: left out)."""
    merged = {**ATTRIBUTES, **EXTENSIONS, "time": TIME, **more}
    return {name: value for name, value in merged.items() if value is not None}


def a1(**more: Any) -> dict[str, Any]:
    """`a` for the 1.x API, whose attributes are strings (time as written)."""
    return {**a(time=TIME.isoformat()), **more}


OURS = Envelope(id=ID, source=SOURCE, type=TYPE, subject=SUBJECT, time=TIME, data=DATA)
BYTES = json.dumps(DATA).encode()

ACCEPTED: dict[str, Callable[[], Sent]] = {
    "ours": lambda: Sent(*envelope_record(OURS)),
    "core binary, application/json": lambda: core(a(datacontenttype="application/json"), DATA),
    "core binary, charset": lambda: core(a(datacontenttype=JSON_UTF8), DATA),
    "core binary, no datacontenttype": lambda: core(a(), DATA),
    "core binary, bytes": lambda: core(a(datacontenttype="application/json"), BYTES),
    "core structured, application/json": lambda: core(
        a(datacontenttype="application/json"), DATA, structured=True
    ),
    "core structured, charset": lambda: core(a(datacontenttype=JSON_UTF8), DATA, structured=True),
    "core structured, no datacontenttype": lambda: core(a(), DATA, structured=True),
    "core structured, bytes as data_base64": lambda: core(
        a(datacontenttype=JSON_UTF8), BYTES, structured=True
    ),
    "core structured, bytes, no datacontenttype": lambda: core(a(), BYTES, structured=True),
    "v1 binary, application/json": lambda: v1(a1(datacontenttype="application/json"), DATA),
    "v1 binary, charset, nanoseconds": lambda: v1(
        a1(datacontenttype=JSON_UTF8, time=TIME_NS), DATA
    ),
    "v1 binary, bytes": lambda: v1(a1(datacontenttype="application/json"), BYTES, raw=True),
    "v1 structured, application/json": lambda: v1(
        a1(datacontenttype="application/json"), DATA, structured=True
    ),
    "v1 structured, charset, nanoseconds": lambda: v1(
        a1(datacontenttype=JSON_UTF8, time=TIME_NS), DATA, structured=True
    ),
    "v1 structured, no datacontenttype": lambda: v1(a1(), DATA, structured=True),
    "v1 structured, bytes as data_base64": lambda: v1(
        a1(datacontenttype="application/json"), BYTES, structured=True
    ),
    "v1 structured, null subject": lambda: v1(
        a1(datacontenttype="application/json", comexamplenull=None), DATA, structured=True
    ),
    "structured, media type in capitals": lambda: _recased(
        core(a(datacontenttype="application/json"), DATA, structured=True)
    ),
}


def _recased(sent: Sent) -> Sent:
    headers = [(n, b"Application/CloudEvents+JSON; charset=UTF-8") for n, _ in sent.headers]
    return Sent(sent.key, sent.value, headers)


# What the spec makes invalid, or what carries no JSON object as data: refused, with the field.
REFUSED: dict[str, tuple[Callable[[], Sent], str]] = {
    "core binary, specversion 0.3": (
        lambda: _sent(
            *_parts(sdk.to_binary(CloudEvent03({**ATTRIBUTES, "time": TIME}, DATA), FORMAT))
        ),
        "specversion",
    ),
    "core binary, text data": (
        lambda: core(a(datacontenttype="text/plain"), "build 4711 finished"),
        "data",
    ),
    "core structured, octet-stream data_base64": (
        lambda: core(a(datacontenttype="application/octet-stream"), b"\x00\x01", structured=True),
        "data_base64",
    ),
    "v1 structured, data_base64 not JSON": (
        lambda: v1(a1(datacontenttype="application/json"), b"\xff\x00", structured=True),
        "data_base64",
    ),
    "v1 binary, time without offset": (
        lambda: v1(a1(datacontenttype="application/json", time="2026-05-01T12:34:56"), DATA),
        "time",
    ),
    "v1 structured, time without offset": (
        lambda: v1(
            a1(datacontenttype="application/json", time="2026-05-01T12:34:56"),
            DATA,
            structured=True,
        ),
        "time",
    ),
    "core binary, no data": (lambda: core(a(datacontenttype="application/json"), None), "data"),
}


def test_data_and_data_base64_together_are_refused() -> None:
    """JSON format §3.1.1: the two members are mutually exclusive (no SDK writes both)."""
    document = {**ATTRIBUTES, "specversion": "1.0", "data": DATA, "data_base64": "e30="}
    headers = [("content-type", b"application/cloudevents+json")]

    with pytest.raises(ValueError, match="data, data_base64"):
        Envelope.from_kafka(json.dumps(document).encode(), headers)


def _parts(message: sdk.KafkaMessage) -> tuple[str | bytes | None, bytes, dict[str, bytes]]:
    return message.key, message.value, message.headers


@dataclass(frozen=True)
class Received:
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


@pytest.fixture(scope="module")
async def received(kafka: str) -> dict[str, Received]:
    """Every case sent to a fresh topic and consumed back, by name."""
    topic = f"lts.cesdk_{uuid.uuid4().hex[:10]}.events"
    await ensure_topics(kafka, [topic], partitions=1)
    cases = {name: make() for name, make in ACCEPTED.items()}
    cases |= {name: make() for name, (make, _) in REFUSED.items()}
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        for name, sent in cases.items():
            headers = [*sent.headers, ("x-case", name.encode())]
            await producer.send_and_wait(topic, sent.value, key=sent.key, headers=headers)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: dict[str, Received] = {}
    try:
        async with asyncio.timeout(60):
            while len(found) < len(cases):
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    for record in records:
                        headers = [(k, v) for k, v in record.headers if k != "x-case"]
                        name = dict(record.headers)["x-case"].decode()
                        found[name] = Received(record.key, record.value, headers)
    finally:
        await consumer.stop()
    return found


def facts(envelope: Envelope) -> tuple[Any, ...]:
    return (
        envelope.id,
        envelope.source,
        envelope.type,
        envelope.subject,
        envelope.time,
        envelope.data,
    )


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_an_sdk_event_decodes_as_the_same_event_in_our_shape_does(
    received: dict[str, Received], case: str
) -> None:
    message = received[case]
    ours = Envelope.from_kafka(received["ours"].value, received["ours"].headers)

    theirs = Envelope.from_kafka(message.value, message.headers)

    assert facts(theirs) == facts(ours)
    assert theirs.time is not None
    assert theirs.time.utcoffset() == timedelta(hours=2)
    if case != "ours":
        assert (theirs.model_extra or {})["comexamplebuild"] == "nightly"
        assert message.key == SUBJECT.encode()  # the Kafka key is the partitionkey (§3.1)
        # kept as an extension; the 1.x API's to_binary does not send it (only as the key)
        if not case.startswith("v1 binary"):
            assert (theirs.model_extra or {})["partitionkey"] == SUBJECT
        assert "comexamplenull" not in (theirs.model_extra or {})  # null is unset


@pytest.mark.parametrize(
    ("case", "content_type"),
    [
        ("core binary, charset", JSON_UTF8),
        ("core structured, charset", JSON_UTF8),
        ("core structured, bytes as data_base64", JSON_UTF8),
        ("core structured, no datacontenttype", "application/json"),
        ("v1 structured, charset, nanoseconds", JSON_UTF8),
        ("v1 structured, application/json", "application/json"),
    ],
)
def test_the_data_content_type_is_kept_as_sent(
    received: dict[str, Received], case: str, content_type: str
) -> None:
    message = received[case]

    assert Envelope.from_kafka(message.value, message.headers).datacontenttype == content_type


@pytest.mark.parametrize("case", list(REFUSED))
def test_an_sdk_event_we_cannot_take_is_refused_naming_the_field(
    received: dict[str, Received], case: str
) -> None:
    message = received[case]
    field = REFUSED[case][1]

    with pytest.raises(ValueError, match=rf"\b{field}\b") as refused:
        Envelope.from_kafka(message.value, message.headers)

    assert "Field required" not in str(refused.value)  # not mistaken for another mode


# -- the other way: our records read by the SDK ---------------------------------------------------

EVERYTHING = Envelope(
    id=str(uuid.uuid4()),
    source="lts-flow/intake",
    type="lts.intake.ticket_opened",
    subject="ticket-7",
    time=datetime(2026, 5, 1, 10, 34, 56, 123456, tzinfo=UTC),
    data=DATA,
    correlationid="corr-1",
    causationid="cause-1",
    streamversion=3,
    schemaversion=2,
    actorid="alice",
    actorrole="security_reviewer",
    reason='naïve "quoted" reason\nover two lines',
    traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    tracestate="vendor=1",
)


@pytest.fixture(scope="module")
async def ours_received(kafka: str) -> Received:
    topic = f"lts.cesdk_{uuid.uuid4().hex[:10]}.events"
    await ensure_topics(kafka, [topic], partitions=1)
    key, value, headers = envelope_record(EVERYTHING)
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka, auto_offset_reset="earliest")
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 60)
    finally:
        await consumer.stop()
    return Received(record.key, record.value, list(record.headers))


def expected_attributes() -> dict[str, Any]:
    extensions = {
        "correlationid": "corr-1",
        "causationid": "cause-1",
        "streamversion": "3",  # a header is text: the SDK keeps it so
        "schemaversion": "2",
        "actorid": "alice",
        "actorrole": "security_reviewer",
        "reason": EVERYTHING.reason,
        "traceparent": EVERYTHING.traceparent,
        "tracestate": "vendor=1",
    }
    return {
        "specversion": "1.0",
        "id": EVERYTHING.id,
        "source": "lts-flow/intake",
        "type": "lts.intake.ticket_opened",
        "subject": "ticket-7",
        "datacontenttype": "application/json",
        **extensions,
        "partitionkey": "ticket-7",  # the SDK reads the Kafka key as partitionkey
    }


def test_the_sdk_reads_our_records_back(ours_received: Received) -> None:
    message = sdk.KafkaMessage(
        headers=dict(ours_received.headers), key=ours_received.key, value=ours_received.value or b""
    )

    event = sdk.from_kafka(message, FORMAT)

    attributes = event.get_attributes()
    assert attributes.pop("time") == EVERYTHING.time
    assert attributes == expected_attributes()
    assert event.get_data() == DATA


def test_the_1x_sdk_reads_our_records_back(ours_received: Received) -> None:
    message = sdk1.KafkaMessage(
        dict(ours_received.headers), ours_received.key, ours_received.value or b""
    )

    event = sdk1.from_binary(message)

    attributes = dict(event.get_attributes())
    assert isoparse(attributes.pop("time")) == EVERYTHING.time
    assert attributes.pop("partitionkey") == b"ticket-7"  # the 1.x API keeps the key's bytes
    expected = expected_attributes()
    del expected["partitionkey"]
    assert attributes == expected
    assert event.get_data() == DATA


def test_our_structured_twin_round_trips_through_the_sdk(ours_received: Received) -> None:
    """The SDK's structured rendering of our event (as a bridge re-publishing it would send it)
    decodes to our envelope again."""
    event = sdk.from_kafka(
        sdk.KafkaMessage(
            dict(ours_received.headers), ours_received.key, ours_received.value or b""
        ),
        FORMAT,
    )
    message = sdk.to_structured(event, FORMAT)

    decoded = Envelope.from_kafka(message.value, list(message.headers.items()))

    assert decoded.model_dump(exclude={"partitionkey"}) == EVERYTHING.model_dump()

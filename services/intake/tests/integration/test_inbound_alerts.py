"""Alerts published as CloudEvents on the inbound topic (structured and binary content modes)
become tickets on the intake topic; a malformed message goes to the DLQ with the reason."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from lts_events.contracts.intake import AlertOccurrenceRecorded, AlertResolved, TicketOpened
from lts_events.kafka import DLQ_TOPIC

from .conftest import Running, consume_until, eventually, fixture_json, types

pytestmark = pytest.mark.integration


def an_alert(fingerprint: str) -> dict[str, Any]:
    alert: dict[str, Any] = fixture_json("alertmanager_firing.json")["alerts"][0]
    return {**alert, "fingerprint": fingerprint}


async def send(
    kafka: str, topic: str, value: bytes, headers: list[tuple[str, bytes]], key: bytes
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def dead_letters_of(kafka: str, topic: str, count: int) -> list[dict[str, str]]:
    """The headers of the first `count` DLQ records that came from `topic`."""
    consumer = AIOKafkaConsumer(
        DLQ_TOPIC, bootstrap_servers=kafka, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found: list[dict[str, str]] = []
    try:
        async with asyncio.timeout(60):
            while len(found) < count:
                batch = await consumer.getmany(timeout_ms=300)
                for records in batch.values():
                    for record in records:
                        headers = {k: v.decode() for k, v in record.headers}
                        if headers.get("dlq_source_topic") == topic:
                            found.append(headers)
    finally:
        await consumer.stop()
    return found


async def test_structured_and_binary_cloudevents_both_open_tickets(
    service: Running, kafka: str
) -> None:
    structured = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "//monitoring.example.org/am",
        "type": "org.prometheus.alert.firing",
        "datacontenttype": "application/json",
        "data": an_alert("f-structured"),
    }
    binary_headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", str(uuid.uuid4()).encode()),
        ("ce_source", b"//monitoring.example.org/edge"),
        ("ce_type", b"org.prometheus.alert.firing"),
        ("content-type", b"application/json"),
    ]

    await send(
        kafka,
        service.inbound_topic,
        json.dumps(structured).encode(),
        [("content-type", b"application/cloudevents+json")],
        b"f-structured",
    )
    await send(
        kafka,
        service.inbound_topic,
        json.dumps(an_alert("f-binary")).encode(),
        binary_headers,
        b"f-binary",
    )

    seen = await consume_until(
        kafka, service.events_topic, lambda s: types(s).count(TicketOpened.type) == 2
    )
    opened = [e for e in seen if e.type == TicketOpened.type]
    assert {e.data["alert_fingerprint"] for e in opened} == {"f-structured", "f-binary"}
    assert {e.data["source"] for e in opened} == {"cloudevent"}
    assert {e.actorid for e in opened} == {
        "//monitoring.example.org/am",
        "//monitoring.example.org/edge",
    }


async def test_a_redelivered_alert_event_changes_nothing(service: Running, kafka: str) -> None:
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"same-event-id"),
        ("ce_source", b"//mon"),
        ("ce_type", b"alert"),
        ("content-type", b"application/json"),
    ]
    value = json.dumps(an_alert("f-redelivered")).encode()

    await send(kafka, service.inbound_topic, value, headers, b"k")
    await send(kafka, service.inbound_topic, value, headers, b"k")
    await send(
        kafka,
        service.inbound_topic,
        json.dumps(an_alert("f-after")).encode(),
        [*headers[:1], ("ce_id", b"other-id"), *headers[2:]],
        b"k",
    )

    async def after_is_stored() -> bool:
        return any(e.data.get("alert_fingerprint") == "f-after" for e in await service.recorded())

    await eventually(after_is_stored)
    opened = [e for e in await service.recorded() if e.type == TicketOpened.type]
    assert [e.data["alert_fingerprint"] for e in opened] == ["f-redelivered", "f-after"]


async def test_a_malformed_alert_event_goes_to_the_dlq_with_the_reason(
    service: Running, kafka: str
) -> None:
    await send(
        kafka, service.inbound_topic, b"{not json", [("content-type", b"application/json")], b"bad"
    )
    await send(
        kafka,
        service.inbound_topic,
        json.dumps(
            {"specversion": "1.0", "id": "x", "source": "s", "type": "t", "data": {"labels": {}}}
        ).encode(),
        [("content-type", b"application/cloudevents+json")],
        b"bad",
    )

    found = await dead_letters_of(kafka, service.inbound_topic, 2)
    assert {h["dlq_reason"] for h in found} == {"permanent_error"}
    assert "not a CloudEvent" in found[0]["dlq_error"]
    assert "does not carry an alert" in found[1]["dlq_error"]
    assert await service.recorded() == []


async def test_a_burst_with_refires_and_a_bad_event_keeps_order_ids_and_the_dlq(
    service: Running, kafka: str
) -> None:
    """Sent at once, the burst reaches the consumer in few batches: re-fires of an alert in the
    same batch count up on its ticket in order, new tickets get ids 1..n without gaps, and the
    one malformed event goes to the DLQ alone."""
    fingerprints = [f"burst-{n}" for n in range(30)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka, linger_ms=50)
    await producer.start()
    try:
        for index, fingerprint in enumerate(fingerprints):
            for firing in range(1 + index % 3):  # 1, 2 or 3 firings, each with a new start
                alert = {**an_alert(fingerprint), "startsAt": f"2026-05-0{1 + firing}T10:00:00Z"}
                headers = [
                    ("ce_specversion", b"1.0"),
                    ("ce_id", f"{fingerprint}-{firing}".encode()),
                    ("ce_source", b"//mon"),
                    ("ce_type", b"alert"),
                    ("content-type", b"application/json"),
                ]
                await producer.send(
                    service.inbound_topic,
                    json.dumps(alert).encode(),
                    key=fingerprint.encode(),
                    headers=headers,
                )
            if index == 10:
                await producer.send(
                    service.inbound_topic, b"{not json", key=b"bad", headers=[("ce_id", b"bad-1")]
                )
        await producer.flush()
    finally:
        await producer.stop()
    occurrences = sum(index % 3 for index in range(len(fingerprints)))

    async def all_stored() -> bool:
        return len(await service.recorded()) == len(fingerprints) + occurrences

    await eventually(all_stored, seconds=60)
    recorded = await service.recorded()
    opened = {
        e.data["alert_fingerprint"]: e.data["ticket_id"]
        for e in recorded
        if e.type == TicketOpened.type
    }
    assert sorted(opened.values()) == list(range(1, len(fingerprints) + 1))
    assert set(opened) == set(fingerprints)
    counted: dict[int, list[int]] = {}
    for event in recorded:
        if event.type == AlertOccurrenceRecorded.type:
            counted.setdefault(event.data["ticket_id"], []).append(event.data["occurrence"])
    for index, fingerprint in enumerate(fingerprints):
        assert counted.get(opened[fingerprint], []) == list(range(2, 2 + index % 3))
    [dead] = await dead_letters_of(kafka, service.inbound_topic, 1)
    assert (dead["ce_id"], dead["dlq_reason"]) == ("bad-1", "permanent_error")


async def test_a_notification_event_resolves_its_alerts_that_carry_no_status(
    service: Running, kafka: str
) -> None:
    # An early Alertmanager's shape: no per-alert status, endsAt or fingerprint; only the group
    # says the alert is resolved.
    alert = fixture_json("alertmanager_version_0.json")["alerts"][0]
    firing = {"status": "firing", "alerts": [alert]}
    resolved = {"status": "resolved", "alerts": [alert]}
    for data in (firing, resolved):
        event = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "//monitoring.example.org/old-am",
            "type": "org.prometheus.alert.notification",
            "data": data,
        }
        await send(
            kafka,
            service.inbound_topic,
            json.dumps(event).encode(),
            [("content-type", b"application/cloudevents+json")],
            b"old-am",
        )

    seen = await consume_until(
        kafka, service.events_topic, lambda s: AlertResolved.type in types(s)
    )

    assert types(seen) == [TicketOpened.type, AlertResolved.type]

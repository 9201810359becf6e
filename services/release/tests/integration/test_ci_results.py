"""CI results reach the release service as they run (real `SPEC`, Kafka and PostgreSQL): a
signed GitHub webhook and a CloudEvent on the inbound topic become `CiResultRecorded` in the
store, published on the service's topic; a redelivery records nothing; a bad CloudEvent goes
to the DLQ with the reason."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from lts_events.contracts.release.ci import CiResultRecorded, ci_stream
from lts_events.envelope import Envelope
from lts_events.kafka import DLQ_TOPIC
from lts_events.relay import envelope_record

from .conftest import Running, eventually

pytestmark = pytest.mark.integration

FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures" / "ci"
DEV_SECRET = b"dev-release-github-webhook-secret"  # the local default of the setting
SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


def check_run_on(branch: str) -> bytes:
    payload: dict[str, Any] = json.loads(
        (FIXTURES / "github-check_run-completed.payload.json").read_text()
    )
    payload["check_run"]["check_suite"]["head_branch"] = branch
    return json.dumps(payload).encode()


def signed(body: bytes, delivery: str) -> dict[str, str]:
    return {
        "X-GitHub-Event": "check_run",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": "sha256=" + hmac.new(DEV_SECRET, body, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }


async def stored(service: Running, branch: str) -> list[CiResultRecorded]:
    history = await service.store.read_stream(ci_stream(branch))
    return [r.event for r in history.events if isinstance(r.event, CiResultRecorded)]


async def published(kafka: str, topic: str, delivery_id: str) -> Envelope:
    """The first `CiResultRecorded` with `delivery_id` on `topic`, read from the beginning."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            while True:
                batch = await consumer.getmany(timeout_ms=300)
                for records in batch.values():
                    for record in records:
                        envelope = Envelope.from_kafka(record.value, record.headers)
                        if envelope.data.get("delivery_id") == delivery_id:
                            return envelope
    finally:
        await consumer.stop()


async def send(kafka: str, topic: str, envelope: Envelope, key: bytes) -> None:
    _, value, headers = envelope_record(envelope)
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def dead_letter_from(kafka: str, topic: str) -> dict[str, str]:
    consumer = AIOKafkaConsumer(
        DLQ_TOPIC, bootstrap_servers=kafka, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            while True:
                batch = await consumer.getmany(timeout_ms=300)
                for records in batch.values():
                    for record in records:
                        headers = {k: v.decode() for k, v in record.headers}
                        if headers.get("dlq_source_topic") == topic:
                            return headers
    finally:
        await consumer.stop()


async def test_a_github_webhook_is_stored_published_and_recorded_once(
    release_service: Running, kafka: str, unique: str
) -> None:
    branch = f"lts/v1.4/issue-{unique}"
    body = check_run_on(branch)
    headers = signed(body, delivery=str(uuid.uuid4()))

    first = await release_service.client.post("/webhooks/github", content=body, headers=headers)
    again = await release_service.client.post("/webhooks/github", content=body, headers=headers)

    assert first.status_code == 201, first.text
    assert (again.status_code, again.json()["results"][0]["recorded"]) == (200, False)
    (result,) = await stored(release_service, branch)
    assert (result.commit, result.job, result.gate, result.status) == (
        SHA,
        "Octocoders-linter",
        "lint",
        "passed",
    )
    envelope = await published(kafka, release_service.release_topic, result.delivery_id)
    assert (envelope.type, envelope.data["branch"]) == (CiResultRecorded.type, branch)


async def test_a_cloudevent_is_stored_and_published_and_read_twice_records_once(
    release_service: Running, kafka: str, unique: str
) -> None:
    branch = f"lts/v1.3/issue-{unique}"
    event = Envelope(
        id=f"ci-{unique}",
        source="//jenkins.example.org",
        type="lts.ci.result",
        data={
            "branch": branch,
            "commit": SHA,
            "job": "integration",
            "status": "failed",
            "run_url": "https://jenkins.example.org/job/integration/7/",
        },
    )

    await send(kafka, release_service.inbound_ci_topic, event, key=branch.encode())
    await send(kafka, release_service.inbound_ci_topic, event, key=branch.encode())
    marker = event.model_copy(
        update={"id": f"after-{unique}", "data": {**event.data, "job": "lint"}}
    )
    await send(kafka, release_service.inbound_ci_topic, marker, key=branch.encode())

    async def both_handled() -> list[CiResultRecorded] | None:
        results = await stored(release_service, branch)
        return results if any(r.job == "lint" for r in results) else None

    results = await eventually(both_handled)
    assert [(r.job, r.gate, r.status) for r in results] == [
        ("integration", "integration", "failed"),
        ("lint", "lint", "failed"),
    ]
    envelope = await published(kafka, release_service.release_topic, results[0].delivery_id)
    assert envelope.data["evidence"]["run_url"] == "https://jenkins.example.org/job/integration/7/"


async def test_a_bad_cloudevent_goes_to_the_dlq_naming_the_field(
    release_service: Running, kafka: str, unique: str
) -> None:
    event = Envelope(
        id=f"bad-{unique}",
        source="//jenkins.example.org",
        type="lts.ci.result",
        data={"branch": "main", "commit": "HEAD", "job": "unit", "status": "passed"},
    )

    await send(kafka, release_service.inbound_ci_topic, event, key=b"main")

    dead = await dead_letter_from(kafka, release_service.inbound_ci_topic)
    assert (dead["ce_id"], dead["dlq_reason"]) == (f"bad-{unique}", "permanent_error")
    assert "data.commit" in dead["dlq_error"]
    assert await stored(release_service, "main") == []

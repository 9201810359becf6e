"""The intake service as it runs (the real `SPEC` in the shared host) on real Kafka and PostgreSQL,
with its own schema, events topic, inbound topic and consumer group per test."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager
from lts_events.envelope import Envelope, RecordedEvent
from lts_events.service import build_app
from lts_events.settings import RuntimeSettings
from lts_events.store.postgres import PostgresEventStore
from lts_intake.main import SPEC
from sqlalchemy import text

FIXTURES = Path(__file__).parent.parent / "fixtures"
GITHUB_SECRET = "it-github-secret"
GITLAB_TOKEN = "it-gitlab-token"
ALERT_TOKEN = "it-alert-token"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture_bytes(name))


@dataclasses.dataclass
class Running:
    client: httpx.AsyncClient
    name: str
    events_topic: str
    inbound_topic: str
    store: PostgresEventStore

    async def recorded(self) -> list[RecordedEvent]:
        """Every committed event of the service's store, by position (read directly: the store's
        `read_all` rightly holds back events behind any older open transaction on the shared
        server, which other test sessions may keep open)."""
        async with self.store.engine.connect() as connection:
            rows = await connection.execute(
                text(f'SELECT DISTINCT stream_id FROM "{self.name}".events')
            )
            streams = [row[0] for row in rows]
        events = [e for s in streams for e in (await self.store.read_stream(s)).events]
        return sorted(events, key=lambda e: e.position)

    async def ticket(self, ticket_id: int) -> dict[str, Any]:
        response = await self.client.get(f"/tickets/{ticket_id}", headers=bearer("dev-analyst"))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
async def service(
    kafka: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Running]:
    unique = uuid.uuid4().hex[:10]
    name = f"intake_{unique}"
    inbound = f"lts.inbound.alerts_{unique}"
    monkeypatch.setenv("LTS_INTAKE_INBOUND_ALERTS_TOPIC", inbound)
    monkeypatch.setenv("LTS_INTAKE_RELEASE_TOPIC", f"lts.release_{unique}.events")
    monkeypatch.setenv("LTS_INTAKE_GITHUB_WEBHOOK_SECRET", GITHUB_SECRET)
    monkeypatch.setenv("LTS_INTAKE_GITLAB_WEBHOOK_TOKEN", GITLAB_TOKEN)
    monkeypatch.setenv("LTS_INTAKE_ALERT_WEBHOOK_TOKEN", ALERT_TOKEN)
    monkeypatch.setenv("LTS_INTAKE_MAX_BODY_BYTES", "200000")
    # the real fixtures are advisories of jinja2, django, static-eval...: here every package
    # counts as the product's (the product filter is unit-tested in test_lines_and_products)
    monkeypatch.setenv("LTS_INTAKE_PRODUCT_PACKAGES", "[]")
    spec = dataclasses.replace(SPEC, name=name)
    settings = RuntimeSettings(kafka_bootstrap_servers=kafka, database_url=database_url)
    app = build_app(spec, settings)
    reader = await PostgresEventStore.connect(database_url, schema=name, migrate=False)
    try:
        async with LifespanManager(app, startup_timeout=90, shutdown_timeout=30) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://intake", timeout=60
            ) as client:
                yield Running(client, name, f"lts.{name}.events", inbound, reader)
    finally:
        async with reader.engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        await reader.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def github_headers(
    body: bytes, *, event: str, delivery: str, secret: str = GITHUB_SECRET
) -> dict[str, str]:
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": signature,
        "Content-Type": "application/json",
    }


async def consume_until(
    kafka: str, topic: str, done: Callable[[list[Envelope]], bool], *, seconds: float = 60.0
) -> list[Envelope]:
    """Envelopes on `topic` from the beginning until `done` holds."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    seen: list[Envelope] = []
    try:
        async with asyncio.timeout(seconds):
            while not done(seen):
                batch = await consumer.getmany(timeout_ms=300)
                for records in batch.values():
                    seen += [Envelope.from_kafka(r.value, list(r.headers)) for r in records]
    finally:
        await consumer.stop()
    return seen


def types(envelopes: list[Envelope]) -> list[str]:
    return [e.type for e in envelopes]


async def eventually(check: Callable[[], Awaitable[bool]], *, seconds: float = 30.0) -> None:
    async with asyncio.timeout(seconds):
        while True:
            if await check():
                return
            await asyncio.sleep(0.1)

"""Real Kafka and PostgreSQL for the release integration tests: addresses from the environment
or the `infra` fixture (`lts_devtools.testing`); a unique service name (schema, own topic) and
ids per test."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import httpx
import pytest
from asgi_lifespan import LifespanManager
from lts_events.service import build_app
from lts_events.settings import RuntimeSettings
from lts_events.store.postgres import PostgresEventStore
from lts_release.main import SPEC

T = TypeVar("T")


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def ticket_id() -> int:
    return random.randint(10_000_000, 2_000_000_000)


@dataclasses.dataclass
class Running:
    """The release service as it runs (the real `SPEC`), under a unique name."""

    name: str
    client: httpx.AsyncClient
    store: PostgresEventStore
    triage_topic: str
    inbound_ci_topic: str = "lts.inbound.ci"

    @property
    def release_topic(self) -> str:
        return f"lts.{self.name}.events"


@pytest.fixture
async def release_service(
    kafka: str,
    database_url: str,
    unique: str,
    drop_schemas: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Running]:
    name = f"release_{unique}"
    triage_topic = f"lts.triage_{unique}.events"
    monkeypatch.setenv("LTS_RELEASE_TRIAGE_TOPIC", triage_topic)
    inbound_ci_topic = f"lts.inbound.ci_{unique}"
    monkeypatch.setenv("LTS_RELEASE_CI_INBOUND_TOPIC", inbound_ci_topic)
    # the seed's lines, as released before the service: 1.4.2 and 1.3.7 (its affected versions)
    monkeypatch.setenv("LTS_RELEASE_CORE_RELEASED_VERSIONS", '{"1.4": "1.4.2", "1.3": "1.3.7"}')
    drop_schemas.append(name)
    settings = RuntimeSettings(
        kafka_bootstrap_servers=kafka, database_url=database_url, timer_interval=0.2
    )
    app = build_app(dataclasses.replace(SPEC, name=name), settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        store = await PostgresEventStore.connect(database_url, schema=name, migrate=False)
        transport = httpx.ASGITransport(app=manager.app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://release") as client:
                yield Running(name, client, store, triage_topic, inbound_ci_topic)
        finally:
            await store.close()


async def eventually(probe: Callable[[], Awaitable[T | None]], *, within: float = 60.0) -> T:
    """The first non-None answer of `probe`, asked again as soon as the last answer came."""
    async with asyncio.timeout(within):
        while True:
            found = await probe()
            if found is not None:
                return found
            await asyncio.sleep(0.05)

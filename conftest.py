"""Shared by every test directory: the `infra` session fixture gives real Kafka and PostgreSQL.

`ensure_infrastructure()` runs once per test session (environment first, then Docker, then local
processes that keep running for the next session) and its settings are exported to the
environment, so code that reads `KAFKA_BOOTSTRAP_SERVERS` / `DATABASE_URL` finds them too."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from lts_events.infra import Infrastructure, ensure_infrastructure
from lts_events.store.postgres import PostgresEventStore
from sqlalchemy import text


@pytest.fixture(scope="session")
def infra() -> Iterator[Infrastructure]:
    found = ensure_infrastructure(keep=False)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in found.env().items():
            patch.setenv(key, value)
        yield found


def _from_infra(request: pytest.FixtureRequest, attribute: str, env: str) -> str:
    """The environment's setting, else the one of the `infra` fixture (started on demand)."""
    value = os.environ.get(env)
    if value:
        return value
    found: str = getattr(request.getfixturevalue("infra"), attribute)
    return found


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest) -> str:
    return _from_infra(request, "database_url", "DATABASE_URL")


@pytest.fixture(scope="session")
def kafka(request: pytest.FixtureRequest) -> str:
    return _from_infra(request, "kafka_bootstrap_servers", "KAFKA_BOOTSTRAP_SERVERS")


@pytest.fixture
async def drop_schemas(database_url: str) -> AsyncIterator[list[str]]:
    """Schemas a test names here are dropped after it."""
    names: list[str] = []
    yield names
    store = await PostgresEventStore.connect(database_url, schema="public", migrate=False)
    try:
        async with store.engine.begin() as connection:
            for name in names:
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    finally:
        await store.close()

"""Real Kafka and real PostgreSQL for the runtime tests: addresses from the environment or the
`infra` fixture (`lts_devtools.testing`); a fresh store schema and fresh topic names per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from lts_events.store.postgres import PostgresEventStore
from sqlalchemy import text

SESSION = uuid.uuid4().hex[:8]
_counter = iter(range(1_000_000))

StoreFactory = Callable[[], Awaitable[PostgresEventStore]]


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names no other test (or helper sharing the broker) uses: topics, groups, schemas."""

    def make(prefix: str) -> str:
        return f"{prefix}_{SESSION}_{next(_counter)}_{uuid.uuid4().hex[:6]}"

    return make


@pytest.fixture
async def schemas(
    database_url: str,
) -> AsyncIterator[Callable[[str], Awaitable[PostgresEventStore]]]:
    """Connects stores to named schemas (a reconnect to the same name is a restart); every
    schema is dropped after the test."""
    opened: list[PostgresEventStore] = []

    async def connect(schema: str) -> PostgresEventStore:
        store = await PostgresEventStore.connect(database_url, schema=schema)
        opened.append(store)
        return store

    yield connect
    dropped: set[str] = set()
    for store in opened:
        if store.schema not in dropped:
            async with store.engine.begin() as connection:
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{store.schema}" CASCADE'))
            dropped.add(store.schema)
        await store.close()


@pytest.fixture
async def store(
    schemas: Callable[[str], Awaitable[PostgresEventStore]],
) -> PostgresEventStore:
    return await schemas(f"rt_{SESSION}_{next(_counter)}")

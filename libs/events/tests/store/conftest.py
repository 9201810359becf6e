"""Stores for the contract suite: every test gets a fresh store, in memory and in a real
PostgreSQL schema of its own (uuid-suffixed, dropped afterwards)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest
from lts_events.envelope import RecordedEvent
from lts_events.store.memory import InMemoryEventStore
from lts_events.store.port import Checkpoint, EventStore
from lts_events.store.postgres import PostgresEventStore
from sqlalchemy import text

SESSION = uuid.uuid4().hex[:8]
_counter = iter(range(1_000_000))

StoreFactory = Callable[[], Awaitable[PostgresEventStore]]
ReadSettled = Callable[..., Awaitable[Sequence[RecordedEvent]]]


async def _drop(store: PostgresEventStore) -> None:
    async with store.engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{store.schema}" CASCADE'))
    await store.close()


@pytest.fixture
async def postgres_stores(database_url: str) -> AsyncIterator[StoreFactory]:
    """Connects stores to fresh schemas, and drops them all after the test."""
    opened: list[PostgresEventStore] = []

    async def open_store() -> PostgresEventStore:
        schema = f"test_store_{SESSION}_{next(_counter)}"
        store = await PostgresEventStore.connect(database_url, schema=schema)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        await _drop(store)


@pytest.fixture
async def postgres_store(postgres_stores: StoreFactory) -> PostgresEventStore:
    return await postgres_stores()


@pytest.fixture(params=["memory", "postgres"])
def store(request: pytest.FixtureRequest) -> EventStore:
    if request.param == "memory":
        return InMemoryEventStore()
    found: PostgresEventStore = request.getfixturevalue("postgres_store")
    return found


@pytest.fixture(scope="session")
def schema_prefix() -> str:
    return f"test_store_{SESSION}"


@pytest.fixture
def read_settled() -> ReadSettled:
    """`read_all`, retried until `expected` events are readable. The database is shared: any
    transaction still open anywhere in the cluster holds the barrier back for a moment."""

    async def read(
        store: EventStore, *, after: Checkpoint, expected: int, limit: int = 1000
    ) -> Sequence[RecordedEvent]:
        deadline = asyncio.get_running_loop().time() + 15
        while True:
            found = await store.read_all(after=after, limit=limit)
            if len(found) >= expected or asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.05)

    return read

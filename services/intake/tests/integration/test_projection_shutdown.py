"""The background ticket projection ends when the service stops (the host cancels it, then
closes the store), even when the cancellation comes out as a connection error, and opens no
connection after that."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, cast

from lts_events.store.port import EventStore
from lts_events.store.postgres import asyncpg_url
from lts_intake.repository import ConnectionsClosed, IntakeRepository
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


class StoreCutOffMidRead:
    """A store whose read is in flight when the service stops, and whose cancellation comes
    out as a connection error, as asyncpg's does for a query on a connection being
    terminated."""

    def __init__(self) -> None:
        self.reads = 0
        self.reading = asyncio.Event()

    async def read_all(self, **_: Any) -> list[Any]:
        self.reads += 1
        self.reading.set()
        try:
            await asyncio.Event().wait()  # until cancelled
        except asyncio.CancelledError:
            if self.reads > 1:
                raise  # a second cancellation (the test's clean-up) ends the task
            raise ConnectionError("connection was closed in the middle of operation") from None
        return []


async def test_the_projection_stops_with_the_service_even_when_cut_off_mid_read(
    database_url: str,
) -> None:
    schema = f"intake_projection_{uuid.uuid4().hex[:8]}"
    engine = create_async_engine(asyncpg_url(database_url))
    async with engine.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        repository = IntakeRepository(engine, schema=schema)
        await repository.create_tables()
        store = StoreCutOffMidRead()
        task = asyncio.create_task(
            repository.run_projection(cast("EventStore", store), interval=0.01)
        )
        await asyncio.wait_for(store.reading.wait(), timeout=10)

        task.cancel()  # what the host does at stop, then it closes the store
        await engine.dispose()

        await asyncio.wait({task}, timeout=5)
        still_running = not task.done()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert not still_running, "the projection ran on after the engine was disposed"
        assert store.reads == 1  # no round after the engine went
        try:
            async with repository._connections.acquire():
                raise AssertionError("a connection was handed out after the engine was disposed")
        except ConnectionsClosed:
            pass
    finally:
        cleanup = create_async_engine(asyncpg_url(database_url))
        async with cleanup.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await cleanup.dispose()

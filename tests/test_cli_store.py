"""`lts store verify` reports a service store's hash chains and fails when one is broken."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import ClassVar

import asyncpg
import pytest
from lts_devtools.infra import Infrastructure
from lts_events.actors import Actor, Role
from lts_events.cli import app
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.store.port import NO_STREAM
from lts_events.store.postgres import PostgresEventStore
from sqlalchemy import text
from typer.testing import CliRunner, Result

pytestmark = pytest.mark.integration


class CliNoted(Event):
    type: ClassVar[str] = "lts.test.cli.noted"
    text: str


META = Metadata(actor=Actor(id="carol", role=Role.RELEASE_MANAGER))


@pytest.fixture
async def store(infra: Infrastructure) -> AsyncIterator[PostgresEventStore]:
    opened = await PostgresEventStore.connect(
        infra.database_url, schema=f"cli_{uuid.uuid4().hex[:10]}"
    )
    yield opened
    async with opened.engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{opened.schema}" CASCADE'))
    await opened.close()


async def verify(schema: str) -> Result:
    def invoke() -> Result:
        return CliRunner().invoke(app, ["store", "verify", "--schema", schema])

    return await asyncio.to_thread(invoke)


async def test_verify_reports_an_untouched_store_and_exits_zero(store: PostgresEventStore) -> None:
    events = [NewEvent.of(CliNoted(text=t), META) for t in ("a", "b")]
    await store.append("ticket-1", events, expected_version=NO_STREAM)

    result = await verify(store.schema)

    assert result.exit_code == 0, result.output
    assert "2 events in 1 streams, 0 broken" in result.stdout


async def test_verify_exits_one_naming_an_event_rewritten_behind_the_triggers(
    store: PostgresEventStore, infra: Infrastructure
) -> None:
    events = [NewEvent.of(CliNoted(text=t), META) for t in ("a", "b")]
    await store.append("ticket-2", events, expected_version=NO_STREAM)
    raw = await asyncpg.connect(infra.database_url)
    try:
        async with raw.transaction():
            await raw.execute("SET LOCAL session_replication_role = replica")
            await raw.execute(
                f'UPDATE "{store.schema}".events SET data = \'{{"text": "forged"}}\' '
                "WHERE stream_version = 2"
            )
    finally:
        await raw.close()

    result = await verify(store.schema)

    assert result.exit_code == 1
    assert "1 broken" in result.stdout
    assert "stream 'ticket-2' version 2" in result.stderr

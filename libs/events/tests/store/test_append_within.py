"""Appends written in the caller's transaction (`append_within`): they commit and roll back with
it, a stream's several appends chain in order, a processed message makes its append a duplicate
and a stale version refuses all of it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import ClassVar

import asyncpg
import pytest
from lts_events.actors import Actor, Role
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.store.port import NO_STREAM, ConcurrencyError, ProcessedMessage, StreamAppend
from lts_events.store.postgres import PostgresEventStore


class Noted(Event):
    type: ClassVar[str] = "lts.test.append_within.noted"
    n: int


META = Metadata(actor=Actor(id="lts-intake", role=Role.AUTOMATION))


def notes(*numbers: int) -> list[NewEvent]:
    return [NewEvent.of(Noted(n=n), META) for n in numbers]


def a_stream() -> str:
    return f"within-{uuid.uuid4().hex[:12]}"


@asynccontextmanager
async def connection(store: PostgresEventStore) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the caller's own, as intake's repository holds one."""
    url = store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    db = await asyncpg.connect(url)
    try:
        yield db
    finally:
        await db.close()


async def test_appends_within_a_transaction_commit_with_it_and_chain_in_order(
    postgres_store: PostgresEventStore,
) -> None:
    first, second = a_stream(), a_stream()
    appends = [
        StreamAppend(first, notes(1, 2), NO_STREAM, ProcessedMessage("c", f"a-{first}")),
        StreamAppend(second, notes(3), NO_STREAM),
        StreamAppend(first, notes(4), 2, ProcessedMessage("c", f"b-{first}")),
    ]

    async with connection(postgres_store) as db:
        undone = db.transaction()
        await undone.start()
        await postgres_store.append_within(db, appends)
        await undone.rollback()
        nothing = await postgres_store.read_stream(first)
        async with db.transaction():
            results = await postgres_store.append_within(db, appends)

    assert not nothing.events
    assert [r.version for r in results] == [2, 1, 3]
    history = await postgres_store.read_stream(first)
    assert [e.event.n for e in history.events] == [1, 2, 4]  # type: ignore[attr-defined]
    assert [e.event.n for e in results[2].recorded] == [4]  # type: ignore[attr-defined]
    assert await postgres_store.processed_among([a.processed for a in appends if a.processed]) == {
        a.processed for a in appends if a.processed
    }
    assert (await postgres_store.verify()).ok


async def test_an_already_processed_message_makes_its_append_a_duplicate(
    postgres_store: PostgresEventStore,
) -> None:
    stream, message = a_stream(), ProcessedMessage("c", f"m-{uuid.uuid4()}")
    await postgres_store.append(stream, notes(1), expected_version=NO_STREAM, processed=message)

    async with connection(postgres_store) as db, db.transaction():
        (result,) = await postgres_store.append_within(
            db, [StreamAppend(stream, notes(2), 1, message)]
        )

    assert result.duplicate
    assert len((await postgres_store.read_stream(stream)).events) == 1


async def test_a_stream_not_at_its_expected_version_refuses_the_appends(
    postgres_store: PostgresEventStore,
) -> None:
    moved, other = a_stream(), a_stream()
    await postgres_store.append(moved, notes(1), expected_version=NO_STREAM)

    async with connection(postgres_store) as db:
        with pytest.raises(ConcurrencyError):
            async with db.transaction():
                await postgres_store.append_within(
                    db,
                    [
                        StreamAppend(other, notes(1), NO_STREAM),
                        StreamAppend(moved, notes(2), NO_STREAM),
                    ],
                )

    assert not (await postgres_store.read_stream(other)).events

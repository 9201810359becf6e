"""After a full batch, `read_all` reads the next one ahead. A reader must never see the
difference: each call returns what reading afresh at that moment would (a read-ahead batch that
came back short is read again), the barrier still holds back late commits, and closing the store
with a read-ahead in flight is quiet."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, ClassVar

import asyncpg
import pytest
from lts_events.actors import Actor, Role
from lts_events.envelope import Metadata, NewEvent, RecordedEvent
from lts_events.event import Event
from lts_events.store.port import ANY, Checkpoint
from lts_events.store.postgres import PostgresEventStore

ReadSettled = Callable[..., Awaitable[Sequence[RecordedEvent]]]
META = Metadata(actor=Actor(id="rita", role=Role.QA))


class PageRead(Event):
    type: ClassVar[str] = "lts.test.read_ahead.page_read"
    text: str


def pages(*texts: str) -> list[NewEvent]:
    return [NewEvent.of(PageRead(text=t), META) for t in texts]


def texts(events: Sequence[RecordedEvent]) -> list[str]:
    return [e.data["text"] for e in events]


def after(events: Sequence[RecordedEvent]) -> Checkpoint:
    return Checkpoint(events[-1].transaction_id, events[-1].position)


@pytest.fixture
def stream() -> str:
    return f"pages-{uuid.uuid4().hex[:8]}"


async def test_a_read_ahead_that_came_back_short_is_read_again(
    postgres_store: PostgresEventStore, read_settled: ReadSettled, stream: str
) -> None:
    await postgres_store.append(stream, pages("a", "b", "c"), expected_version=ANY)
    first = await read_settled(postgres_store, after=Checkpoint.start(), expected=2, limit=2)
    await asyncio.wait(postgres_store._read_ahead.values())  # it has found only "c"
    await postgres_store.append(stream, pages("d"), expected_version=ANY)
    await read_settled(postgres_store, after=after(first), expected=2, limit=3)  # readable now

    second = await postgres_store.read_all(after=after(first), limit=2)

    assert texts(first) == ["a", "b"]
    assert texts(second) == ["c", "d"]


async def test_paging_with_read_ahead_returns_every_event_once_in_order(
    postgres_store: PostgresEventStore, read_settled: ReadSettled, stream: str
) -> None:
    await postgres_store.append(stream, pages(*"abcdefg"), expected_version=ANY)
    await read_settled(postgres_store, after=Checkpoint.start(), expected=7)
    seen: list[RecordedEvent] = []
    checkpoint = Checkpoint.start()
    for round_ in range(6):
        if round_ == 2:
            await postgres_store.append(stream, pages("h", "i"), expected_version=ANY)
        batch = await postgres_store.read_all(after=checkpoint, limit=2)
        if batch:
            seen.extend(batch)
            checkpoint = after(batch)
    rest = await read_settled(postgres_store, after=checkpoint, expected=9 - len(seen))
    seen.extend(rest)

    assert texts(seen) == list("abcdefghi")
    assert seen == list(await read_settled(postgres_store, after=Checkpoint.start(), expected=9))


@pytest.fixture
async def raw(postgres_store: PostgresEventStore, database_url: str) -> AsyncIterator[Any]:
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


async def test_a_read_ahead_never_skips_a_late_commit(
    postgres_store: PostgresEventStore, read_settled: ReadSettled, raw: Any, stream: str
) -> None:
    await postgres_store.append(stream, pages("early"), expected_version=ANY)
    seen = await read_settled(postgres_store, after=Checkpoint.start(), expected=1, limit=1)
    late = raw.transaction()
    await late.start()
    await raw.execute("SELECT pg_current_xact_id()")  # holds the barrier from now on
    await postgres_store.append(stream, pages("fast"), expected_version=ANY)

    blocked = await postgres_store.read_all(after=after(seen), limit=1)
    await late.commit()
    released = await read_settled(postgres_store, after=after(seen), expected=1, limit=1)

    assert blocked == ()
    assert texts(released) == ["fast"]


async def test_closing_with_a_read_ahead_in_flight_is_quiet(
    postgres_stores: Callable[[], Awaitable[PostgresEventStore]],
    read_settled: ReadSettled,
    stream: str,
) -> None:
    store = await postgres_stores()
    await store.append(stream, pages("a", "b", "c"), expected_version=ANY)
    await read_settled(store, after=Checkpoint.start(), expected=1, limit=1)

    await store.close()

    assert store._read_ahead == {}

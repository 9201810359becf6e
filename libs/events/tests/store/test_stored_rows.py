"""`read_all_rows`, the relay's read: `read_all`'s events, undecoded. Run against the in-memory
and the PostgreSQL store (as the contract suite), plus the PostgreSQL read-ahead and barrier."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lts_devtools.jsonb_strategies import jsonb_strings, jsonb_values
from lts_events.actors import Actor, Role
from lts_events.envelope import Metadata, NewEvent, RecordedEvent
from lts_events.event import Event
from lts_events.relay import kafka_value
from lts_events.store.port import NO_STREAM, Checkpoint, EventStore, StoredRow
from lts_events.store.postgres import PostgresEventStore
from pydantic_core import from_json, to_json

ReadSettled = Callable[..., Awaitable[Sequence[RecordedEvent]]]
ALICE = Metadata(actor=Actor(id="alice", role=Role.MAINTAINER), reason="testing")
BOB = Metadata(
    actor=Actor(id="bob", role=Role.QA),
    causation_id="c-1",
    traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    tracestate="vendor=1",
)


class RowWritten(Event):
    type: ClassVar[str] = "lts.test.stored_rows.row_written"
    text: str
    nested: dict[str, Any] = {}


def rows_of(*texts: str, metadata: Metadata = ALICE) -> list[NewEvent]:
    nested = {"big": 2**70, "ratio": 0.1, "é": [None, True, "\n"]}
    return [NewEvent.of(RowWritten(text=t, nested=nested), metadata) for t in texts]


def a_stream() -> str:
    return f"rows-{uuid.uuid4().hex[:12]}"


def texts(rows: Sequence[StoredRow]) -> list[str]:
    return [from_json(row.data)["text"] for row in rows]


def after(rows: Sequence[StoredRow]) -> Checkpoint:
    return Checkpoint(rows[-1].transaction_id, rows[-1].position)


async def rows_settled(
    store: EventStore, *, after: Checkpoint, expected: int, limit: int = 1000
) -> Sequence[StoredRow]:
    """`read_all_rows`, retried until `expected` rows are readable (the database is shared:
    a transaction open anywhere holds the barrier back for a moment)."""
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        found = await store.read_all_rows(after=after, limit=limit)
        if len(found) >= expected or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.05)


def assert_row_is_the_event(row: StoredRow, event: RecordedEvent) -> None:
    assert (row.position, row.transaction_id) == (event.position, event.transaction_id)
    assert (row.stream_id, row.stream_version) == (event.stream_id, event.stream_version)
    assert (row.type, row.schema_version) == (event.type, event.schema_version)
    assert row.event_id == str(event.event_id)
    assert from_json(row.data) == event.data
    assert datetime.fromisoformat(row.recorded_at) == event.recorded_at
    meta = event.metadata
    assert (row.actor_id, row.actor_role) == (meta.actor.id, meta.actor.role.value)
    assert (row.reason, row.correlation_id, row.causation_id) == (
        meta.reason,
        meta.correlation_id,
        meta.causation_id,
    )
    assert (row.traceparent, row.tracestate) == (meta.traceparent, meta.tracestate)


async def test_read_all_rows_are_the_events_read_all_returns(
    store: EventStore, read_settled: ReadSettled
) -> None:
    first, second = a_stream(), a_stream()
    await store.append(first, rows_of("a", "b"), expected_version=NO_STREAM)
    await store.append(second, rows_of("c", metadata=BOB), expected_version=NO_STREAM)
    await store.append(first, [*rows_of("d", metadata=BOB), *rows_of("e")], expected_version=2)
    events = await read_settled(store, after=Checkpoint.start(), expected=5)

    rows = await store.read_all_rows(after=Checkpoint.start())

    assert len(rows) == len(events) == 5
    for row, event in zip(rows, events, strict=True):
        assert_row_is_the_event(row, event)
    assert texts(rows) == ["a", "b", "c", "d", "e"]


async def test_read_all_rows_resumes_inside_a_transaction_and_honours_the_limit(
    store: EventStore,
) -> None:
    await store.append(a_stream(), rows_of("a", "b", "c", "d"), expected_version=NO_STREAM)
    [first] = await rows_settled(store, after=Checkpoint.start(), expected=1, limit=1)

    rest = await store.read_all_rows(after=after([first]), limit=2)

    assert texts([first, *rest]) == ["a", "b", "c"]


async def test_rows_and_events_read_in_turns_each_page_through_everything_once(
    postgres_store: PostgresEventStore, read_settled: ReadSettled
) -> None:
    await postgres_store.append(a_stream(), rows_of(*"abcdefg"), expected_version=NO_STREAM)
    await read_settled(postgres_store, after=Checkpoint.start(), expected=7)
    rows: list[StoredRow] = []
    events: list[RecordedEvent] = []
    for _ in range(5):  # full batches of each kind: both read ahead, neither takes the other's
        page = await postgres_store.read_all_rows(
            after=after(rows) if rows else Checkpoint.start(), limit=2
        )
        rows.extend(page)
        batch = await postgres_store.read_all(
            after=Checkpoint(events[-1].transaction_id, events[-1].position)
            if events
            else Checkpoint.start(),
            limit=2,
        )
        events.extend(batch)

    assert texts(rows) == list("abcdefg")
    assert [e.data["text"] for e in events] == list("abcdefg")


@pytest.fixture
async def raw(postgres_store: PostgresEventStore, database_url: str) -> AsyncIterator[Any]:
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


async def test_read_all_rows_never_skips_a_late_commit(
    postgres_store: PostgresEventStore, raw: Any
) -> None:
    stream = a_stream()
    await postgres_store.append(stream, rows_of("early"), expected_version=NO_STREAM)
    seen = await rows_settled(postgres_store, after=Checkpoint.start(), expected=1, limit=1)
    late = raw.transaction()
    await late.start()
    await raw.execute("SELECT pg_current_xact_id()")  # holds the barrier from now on
    await postgres_store.append(stream, rows_of("fast"), expected_version=1)

    blocked = await postgres_store.read_all_rows(after=after(seen), limit=1)
    await late.commit()
    released = await rows_settled(postgres_store, after=after(seen), expected=1, limit=1)

    assert list(blocked) == []
    assert texts(released) == ["fast"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.dictionaries(jsonb_strings, jsonb_values, max_size=3), min_size=1, max_size=40))
async def test_data_read_back_from_jsonb_gives_the_relay_the_decoded_datas_json(
    database_url: str, values: list[dict[str, Any]]
) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        texts: list[str] = await connection.fetchval(
            "SELECT array_agg(v::jsonb::text ORDER BY n) "
            "FROM unnest($1::text[]) WITH ORDINALITY AS t (v, n)",
            [to_json(value).decode() for value in values],
        )
    finally:
        await connection.close()

    assert [kafka_value(text) for text in texts] == [to_json(from_json(t)) for t in texts]


async def test_settled_positions_are_where_read_all_events_are_behind_the_same_barrier(
    postgres_store: PostgresEventStore, read_settled: ReadSettled, raw: Any
) -> None:
    stream = a_stream()
    await postgres_store.append(stream, rows_of("a", "b", "c"), expected_version=NO_STREAM)
    [first, *events] = await read_settled(postgres_store, after=Checkpoint.start(), expected=3)
    start = Checkpoint(first.transaction_id, first.position)
    late = raw.transaction()
    await late.start()
    await raw.execute("SELECT pg_current_xact_id()")  # holds the barrier from now on
    await postgres_store.append(stream, rows_of("fast"), expected_version=3)

    positions = await postgres_store.settled_positions(after=start, limit=5)
    await late.commit()

    assert positions == [Checkpoint(e.transaction_id, e.position) for e in events[:2]]

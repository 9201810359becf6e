"""`read_all` decodes its rows with its own statement and loop (the hot path of every reader of
the whole store): what it returns must equal, value for value and type for type, what the
validated path (`read_stream`, `RecordedEvent` validation) gives for the same events."""

from __future__ import annotations

import gc
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import asyncpg
import pytest
from lts_events.actors import Actor, Role
from lts_events.envelope import Metadata, NewEvent, RecordedEvent
from lts_events.event import Event
from lts_events.store.port import NO_STREAM, Checkpoint
from lts_events.store.postgres import PostgresEventStore
from lts_events.store.rows import recorded_from_read_all_rows
from lts_events.store.sql import statements

ReadSettled = Callable[..., Awaitable[Sequence[RecordedEvent]]]


class ReadingChecked(Event):
    type: ClassVar[str] = "lts.test.read_all_rows.reading_checked"
    text: str
    count: int
    nested: dict[str, Any]


ALICE = Metadata(actor=Actor(id="alice", role=Role.QA), reason="retest")
BOB = Metadata(
    actor=Actor(id="bob", role=Role.RELEASE_MANAGER),
    causation_id="c-1",
    traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
)


def checked(text: str, metadata: Metadata, *, count: int = 1) -> NewEvent:
    nested = {"big": 2**70, "ratio": 0.1, "none": None, "list": [1, "é", {"k": True}]}
    return NewEvent.of(ReadingChecked(text=text, count=count, nested=nested), metadata)


def assert_same_values(ours: Sequence[RecordedEvent], validated: Sequence[RecordedEvent]) -> None:
    assert list(ours) == list(validated)
    for mine, theirs in zip(ours, validated, strict=True):
        assert mine.model_fields_set == theirs.model_fields_set
        assert mine.model_dump_json() == theirs.model_dump_json()
        for name, value in theirs.__dict__.items():
            assert type(mine.__dict__[name]) is type(value), name
        assert mine.recorded_at.tzinfo is theirs.recorded_at.tzinfo is UTC


async def test_read_all_returns_the_values_read_stream_validates(
    postgres_store: PostgresEventStore, read_settled: ReadSettled
) -> None:
    first, second = f"check-{uuid.uuid4().hex[:8]}", f"check-{uuid.uuid4().hex[:8]}"
    await postgres_store.append(
        first,
        [checked("a", ALICE), checked("b", BOB), checked("c", BOB), checked("d", ALICE)],
        expected_version=NO_STREAM,
    )
    await postgres_store.append(second, [checked("e", ALICE, count=2**40)], expected_version=0)
    await postgres_store.append(first, [checked("f", BOB)], expected_version=4)

    everything = await read_settled(postgres_store, after=Checkpoint.start(), expected=6)
    streams = {
        stream: (await postgres_store.read_stream(stream)).events for stream in (first, second)
    }

    by_id = {e.event_id: e for events in streams.values() for e in events}
    assert_same_values(everything, [by_id[e.event_id] for e in everything])
    assert [e.metadata for e in everything] == [ALICE, BOB, BOB, ALICE, ALICE, BOB]


async def test_the_record_time_does_not_depend_on_the_session_time_zone_or_date_style(
    postgres_store: PostgresEventStore, read_settled: ReadSettled, database_url: str
) -> None:
    await postgres_store.append(
        f"check-{uuid.uuid4().hex[:8]}", [checked("a", ALICE)], expected_version=NO_STREAM
    )
    expected = await read_settled(postgres_store, after=Checkpoint.start(), expected=1)
    elsewhere = await asyncpg.connect(
        database_url, server_settings={"TimeZone": "Asia/Kolkata", "DateStyle": "SQL, DMY"}
    )
    try:
        rows = await elsewhere.fetch(statements(postgres_store.schema).read_all, "0", 0, 1000)
    finally:
        await elsewhere.close()

    assert_same_values(recorded_from_read_all_rows(rows), expected)


def a_row(text: str, metadata: Metadata, *, at: str, position: int) -> tuple[Any, ...]:
    return (
        position,
        900,
        "stream-1",
        position,
        uuid.uuid4(),
        ReadingChecked.type,
        1,
        f'{{"text": "{text}", "count": 1, "nested": {{}}}}',
        metadata.model_dump_json(),
        at,
        "f" * 64,
    )


@pytest.mark.parametrize("collecting", [True, False])
def test_decoding_leaves_the_garbage_collector_as_it_found_it(collecting: bool) -> None:
    rows = [
        a_row("a", ALICE, at="2026-11-22 04:05:06.000001+00", position=1),
        a_row("b", BOB, at="2026-11-22 04:05:06.000001+00", position=2),
    ]
    was = gc.isenabled()
    (gc.enable if collecting else gc.disable)()
    try:
        decoded = recorded_from_read_all_rows(rows)
        assert gc.isenabled() is collecting
    finally:
        (gc.enable if was else gc.disable)()

    assert [e.data["text"] for e in decoded] == ["a", "b"]
    assert [e.metadata for e in decoded] == [ALICE, BOB]
    assert decoded[0].recorded_at == datetime(2026, 11, 22, 4, 5, 6, 1, tzinfo=UTC)
    assert decoded == tuple(RecordedEvent.model_validate(e.__dict__) for e in decoded)

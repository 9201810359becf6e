"""Behaviour only a real PostgreSQL shows: racing writers, late commits behind the
transaction-id barrier, append-only triggers, tamper evidence, migrations, upcasting on read."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import asyncpg
import pytest
from lts_events.actors import Actor, Role
from lts_events.envelope import Metadata, NewEvent, RecordedEvent
from lts_events.event import REGISTRY, Event, JsonDict
from lts_events.hashing import GENESIS, JCS_HASH, LEGACY_HASH, event_hash
from lts_events.store.migrate import InvalidSchemaName, migrate, newest_revision
from lts_events.store.port import (
    ANY,
    NO_STREAM,
    Checkpoint,
    ConcurrencyError,
    ProcessedMessage,
    Timer,
)
from lts_events.store.postgres import PostgresEventStore, asyncpg_url
from lts_events.store.sql import statements
from sqlalchemy import text


class PatchNoted(Event):
    type: ClassVar[str] = "lts.test.postgres.patch_noted"
    text: str


class PatchSized(Event):
    """Version 2 split `size` (free text, version 1) into `lines` (int)."""

    type: ClassVar[str] = "lts.test.postgres.patch_sized"
    schema_version: ClassVar[int] = 2
    patch: str
    lines: int


@REGISTRY.upcaster(PatchSized.type, from_version=1)
def _size_to_lines(data: JsonDict) -> JsonDict:
    size = str(data.pop("size"))
    return {**data, "lines": int(size.removesuffix(" lines"))}


StoreFactory = Callable[[], Awaitable[PostgresEventStore]]
ReadSettled = Callable[..., Awaitable[Sequence[RecordedEvent]]]

META = Metadata(actor=Actor(id="bob", role=Role.RELEASE_MANAGER))
DUE = datetime(2030, 1, 1, tzinfo=UTC)


def noted(*texts: str) -> list[NewEvent]:
    return [NewEvent.of(PatchNoted(text=t), META) for t in texts]


def a_stream() -> str:
    return f"patch-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def raw(postgres_store: PostgresEventStore, database_url: str) -> AsyncIterator[Any]:
    """A second, independent asyncpg connection to the same database."""
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


async def insert_raw(
    connection: Any,
    schema: str,
    *,
    stream_id: str,
    version: int,
    type_: str,
    schema_version: int,
    data: JsonDict,
    previous: str = GENESIS,
) -> uuid.UUID:
    """Insert one event the way a release of the store from before hash versions would have:
    hashed over the legacy form, the hash version column not named."""
    event_id = uuid.uuid4()
    metadata = META.model_dump(mode="json")
    digest = event_hash(
        hash_version=LEGACY_HASH,
        previous_hash=previous,
        event_id=event_id,
        stream_id=stream_id,
        stream_version=version,
        type_=type_,
        schema_version=schema_version,
        data=data,
        metadata=metadata,
    )
    await connection.execute(
        f'INSERT INTO "{schema}".events (stream_id, stream_version, event_id, type, '
        "schema_version, data, metadata, hash) "
        "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8)",
        stream_id,
        version,
        event_id,
        type_,
        schema_version,
        json.dumps(data),
        json.dumps(metadata),
        digest,
    )
    return event_id


# --- concurrency --------------------------------------------------------------------------------


async def test_eight_writers_racing_for_one_version_leave_one_winner_and_no_gap(
    postgres_store: PostgresEventStore,
) -> None:
    stream = a_stream()
    await postgres_store.append(stream, noted("opened"), expected_version=NO_STREAM)

    outcomes = await asyncio.gather(
        *(
            postgres_store.append(stream, noted(f"writer {n}", "and more"), expected_version=1)
            for n in range(8)
        ),
        return_exceptions=True,
    )

    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    losers = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(winners) == 1
    assert len(losers) == 7
    assert all(isinstance(o, ConcurrencyError) for o in losers)
    history = await postgres_store.read_stream(stream)
    assert [e.stream_version for e in history.events] == [1, 2, 3]
    assert (await postgres_store.verify()).ok


async def test_writers_appending_with_any_version_all_get_in_without_gaps(
    postgres_store: PostgresEventStore,
) -> None:
    stream = a_stream()

    await asyncio.gather(
        *(postgres_store.append(stream, noted(f"w{n}"), expected_version=ANY) for n in range(8))
    )

    history = await postgres_store.read_stream(stream)
    assert [e.stream_version for e in history.events] == list(range(1, 9))
    assert (await postgres_store.verify()).ok


async def test_racing_redeliveries_of_one_message_write_once(
    postgres_store: PostgresEventStore,
) -> None:
    stream = a_stream()
    message = ProcessedMessage("triage", f"msg-{uuid.uuid4()}")

    outcomes = await asyncio.gather(
        *(
            postgres_store.append(stream, noted("once"), expected_version=ANY, processed=message)
            for _ in range(6)
        )
    )

    assert sum(not o.duplicate for o in outcomes) == 1
    assert (await postgres_store.read_stream(stream)).version == 1


# --- the transaction-id barrier -----------------------------------------------------------------


async def test_a_late_commit_with_a_lower_position_is_not_skipped(
    postgres_store: PostgresEventStore, raw: Any, read_settled: ReadSettled
) -> None:
    schema = postgres_store.schema
    late = raw.transaction()
    await late.start()
    await insert_raw(
        raw,
        schema,
        stream_id="slow",
        version=1,
        type_=PatchNoted.type,
        schema_version=1,
        data={"text": "slow"},
    )
    await postgres_store.append("fast", noted("fast"), expected_version=NO_STREAM)

    while_open = await postgres_store.read_all(after=Checkpoint.start())
    await late.commit()
    after_commit = await read_settled(postgres_store, after=Checkpoint.start(), expected=2)

    assert while_open == ()
    assert [e.stream_id for e in after_commit] == ["slow", "fast"]
    assert after_commit[0].position < after_commit[1].position


async def test_a_reader_past_earlier_events_still_gets_the_late_commit(
    postgres_store: PostgresEventStore, raw: Any, read_settled: ReadSettled
) -> None:
    await postgres_store.append("early", noted("early"), expected_version=NO_STREAM)
    seen = await read_settled(postgres_store, after=Checkpoint.start(), expected=1)
    checkpoint = Checkpoint(seen[-1].transaction_id, seen[-1].position)
    late = raw.transaction()
    await late.start()
    await insert_raw(
        raw,
        postgres_store.schema,
        stream_id="slow",
        version=1,
        type_=PatchNoted.type,
        schema_version=1,
        data={"text": "slow"},
    )
    await postgres_store.append("fast", noted("fast"), expected_version=NO_STREAM)

    blocked = await postgres_store.read_all(after=checkpoint)
    await late.commit()
    released = await read_settled(postgres_store, after=checkpoint, expected=2)

    assert [e.stream_id for e in seen] == ["early"]
    assert blocked == ()
    assert [e.stream_id for e in released] == ["slow", "fast"]


async def an_older_transaction_committing_later(store: PostgresEventStore, raw: Any) -> None:
    """Two committed transactions whose order by transaction id is not their order by position:
    `older` takes its transaction id first, `newer` appends and commits, then `older` appends
    (a larger position) and commits."""
    older = raw.transaction()
    await older.start()
    await raw.execute("SELECT pg_current_xact_id()")  # the transaction id is taken now
    await store.append("newer", noted("newer"), expected_version=NO_STREAM)
    await insert_raw(
        raw,
        store.schema,
        stream_id="older",
        version=1,
        type_=PatchNoted.type,
        schema_version=1,
        data={"text": "older"},
    )
    await older.commit()


async def page_by_one(read: Callable[..., Awaitable[Sequence[Any]]]) -> list[Any]:
    """Every row `read` (`read_all` or `read_all_rows`) gives, one per call, each call resuming
    after the last row seen, as the relay and the projections page."""
    seen: list[Any] = []
    checkpoint = Checkpoint.start()
    while batch := await read(after=checkpoint, limit=1):
        seen.extend(batch)
        checkpoint = Checkpoint(batch[-1].transaction_id, batch[-1].position)
    return seen


@pytest.mark.parametrize("reader", ["read_all", "read_all_rows"])
async def test_paging_one_by_one_follows_transaction_order_where_positions_disagree(
    postgres_store: PostgresEventStore, raw: Any, read_settled: ReadSettled, reader: str
) -> None:
    await an_older_transaction_committing_later(postgres_store, raw)
    settled = await read_settled(postgres_store, after=Checkpoint.start(), expected=2)

    paged = await page_by_one(getattr(postgres_store, reader))

    assert [e.stream_id for e in settled] == ["older", "newer"]
    assert settled[0].transaction_id < settled[1].transaction_id
    assert settled[0].position > settled[1].position  # the order the pages must not follow
    assert [row.stream_id for row in paged] == ["older", "newer"]


@pytest.mark.parametrize("reader", ["read_all", "read_all_rows"])
async def test_the_barrier_read_walks_the_transaction_position_index_in_order(
    postgres_store: PostgresEventStore, raw: Any, reader: str
) -> None:
    """The store's own statement, planned as sent: both conditions on the index, and the rows
    come in the index's order (no sort), so a page costs its limit, not the table."""
    await postgres_store.append(a_stream(), noted("a", "b"), expected_version=NO_STREAM)
    statement = getattr(statements(postgres_store.schema), reader)

    async with raw.transaction():
        for planner_setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            await raw.execute(f"SET LOCAL {planner_setting} = off")
        plan = "\n".join(row[0] for row in await raw.fetch(f"EXPLAIN {statement}", "5", 3, 1000))

    [condition] = [line for line in plan.splitlines() if "Index Cond:" in line]
    assert "Index Scan using events_transaction_position_idx" in plan, plan
    assert 'ROW(transaction_id, "position") > ROW(' in condition, plan
    assert "transaction_id < (InitPlan" in condition, plan
    assert "Sort" not in plan, plan


# --- append-only --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {s}.events SET type = 'forged'",
        "DELETE FROM {s}.events",
        "TRUNCATE {s}.events",
        "UPDATE {s}.processed_messages SET message_id = 'forged'",
        "DELETE FROM {s}.processed_messages",
        "TRUNCATE {s}.processed_messages",
    ],
)
async def test_stored_events_and_processed_messages_cannot_be_changed(
    postgres_store: PostgresEventStore, raw: Any, read_settled: ReadSettled, statement: str
) -> None:
    await postgres_store.append(
        a_stream(),
        noted("a"),
        expected_version=NO_STREAM,
        processed=ProcessedMessage("triage", "m-1"),
    )

    with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
        await raw.execute(statement.format(s=f'"{postgres_store.schema}"'))

    assert len(await read_settled(postgres_store, after=Checkpoint.start(), expected=1)) == 1


# --- tamper evidence ----------------------------------------------------------------------------


async def test_verify_passes_an_untouched_store(postgres_store: PostgresEventStore) -> None:
    await postgres_store.append("one", noted("a", "b"), expected_version=NO_STREAM)
    await postgres_store.append("two", noted("c"), expected_version=NO_STREAM)

    report = await postgres_store.verify()

    assert report.ok
    assert (report.checked, report.streams, report.breaks) == (3, 2, 0)


async def test_verify_names_an_event_changed_behind_the_triggers_back(
    postgres_store: PostgresEventStore, raw: Any
) -> None:
    stream = a_stream()
    await postgres_store.append(stream, noted("a", "b", "c"), expected_version=NO_STREAM)
    target = (await postgres_store.read_stream(stream)).events[1]

    async with raw.transaction():
        await raw.execute("SET LOCAL session_replication_role = replica")
        await raw.execute(
            f'UPDATE "{postgres_store.schema}".events '
            """SET data = '{"text": "rewritten"}' WHERE position = $1""",
            target.position,
        )
    report = await postgres_store.verify()

    assert not report.ok
    assert report.checked == 3
    assert report.breaks == 1
    assert report.first_break is not None
    assert report.first_break.position == target.position
    assert report.first_break.stream_id == stream
    assert report.first_break.stream_version == 2
    assert report.first_break.event_id == target.event_id
    assert "hash" in report.first_break.reason


async def test_verify_names_the_event_after_a_deleted_one(
    postgres_store: PostgresEventStore, raw: Any
) -> None:
    stream = a_stream()
    await postgres_store.append(stream, noted("a", "b", "c"), expected_version=NO_STREAM)
    events = (await postgres_store.read_stream(stream)).events
    schema = postgres_store.schema

    await raw.execute(f'ALTER TABLE "{schema}".events DISABLE TRIGGER events_reject_update_delete')
    await raw.execute(f'DELETE FROM "{schema}".events WHERE position = $1', events[1].position)
    await raw.execute(f'ALTER TABLE "{schema}".events ENABLE TRIGGER events_reject_update_delete')
    report = await postgres_store.verify()

    assert report.first_break is not None
    assert report.first_break.event_id == events[2].event_id
    assert "gap" in report.first_break.reason


async def test_verify_names_the_next_event_when_a_rewritten_event_gets_a_hash_of_its_own(
    postgres_store: PostgresEventStore, raw: Any
) -> None:
    stream = a_stream()
    await postgres_store.append(stream, noted("a", "b", "c"), expected_version=NO_STREAM)
    first, target, after = (await postgres_store.read_stream(stream)).events
    forged = {"text": "rewritten"}
    forged_hash = event_hash(
        previous_hash=first.hash,
        event_id=target.event_id,
        stream_id=stream,
        stream_version=target.stream_version,
        type_=target.type,
        schema_version=target.schema_version,
        data=forged,
        metadata=target.metadata.model_dump(mode="json"),
    )
    schema = postgres_store.schema

    async with raw.transaction():  # as a superuser could: the append-only trigger off, then on
        await raw.execute(
            f'ALTER TABLE "{schema}".events DISABLE TRIGGER events_reject_update_delete'
        )
        await raw.execute(
            f'UPDATE "{schema}".events SET data = $1::jsonb, hash = $2 WHERE position = $3',
            json.dumps(forged),
            forged_hash,
            target.position,
        )
        await raw.execute(
            f'ALTER TABLE "{schema}".events ENABLE TRIGGER events_reject_update_delete'
        )
    report = await postgres_store.verify()

    assert report.breaks == 1  # the rewritten event itself matches its new hash
    assert report.first_break is not None
    assert report.first_break.event_id == after.event_id
    assert report.first_break.stream_version == 3
    assert "previous event's hash" in report.first_break.reason


async def test_a_store_from_before_hash_versions_still_verifies_and_new_events_are_jcs(
    postgres_stores: StoreFactory, raw: Any, database_url: str
) -> None:
    store = await postgres_stores()
    schema = store.schema
    await raw.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await migrate(store.engine, schema=schema, revision="0001")  # the store as it was
    stream = a_stream()
    # Floats the two forms write differently: `3.0` and `1e+20` against `3` and `1e20`'s digits.
    old = {"patch": "CVE-2026-1", "size": 3.0, "bytes": 1e20}
    previous = GENESIS
    for version in (1, 2):
        await insert_raw(
            raw,
            schema,
            stream_id=stream,
            version=version,
            type_=PatchSized.type,
            schema_version=1,
            data=old,
            previous=previous,
        )
        previous = await raw.fetchval(
            f'SELECT hash FROM "{schema}".events WHERE stream_id = $1 AND stream_version = $2',
            stream,
            version,
        )

    upgraded = await PostgresEventStore.connect(database_url, schema=schema)
    try:
        await upgraded.append(
            stream,
            [NewEvent.of(ScoreMeasured(score=3.0, tiny=1e-7, count=1), META)],
            expected_version=2,
        )
        report = await upgraded.verify()
        versions = await raw.fetch(
            f'SELECT hash_version FROM "{schema}".events WHERE stream_id = $1 '
            "ORDER BY stream_version",
            stream,
        )
    finally:
        await upgraded.close()

    assert report.ok, report.first_break
    assert report.checked == 3
    assert [row["hash_version"] for row in versions] == [LEGACY_HASH, LEGACY_HASH, JCS_HASH]


class ScoreMeasured(Event):
    type: ClassVar[str] = "lts.test.postgres.score_measured"
    score: float
    tiny: float
    count: int


async def test_verify_accepts_floats_that_jsonb_prints_as_integers(
    postgres_store: PostgresEventStore,
) -> None:
    stream = a_stream()
    measured = ScoreMeasured(score=1e20, tiny=2.5e-30, count=7)
    await postgres_store.append(stream, [NewEvent.of(measured, META)], expected_version=NO_STREAM)

    report = await postgres_store.verify()
    read_back = (await postgres_store.read_stream(stream)).events[0].event

    assert report.ok
    assert read_back == measured


class ReadingsTaken(Event):
    type: ClassVar[str] = "lts.test.postgres.readings_taken"
    raw: dict[str, Any]


async def test_verify_accepts_big_floats_next_to_big_integers_and_negative_zero(
    postgres_store: PostgresEventStore,
) -> None:
    stream = a_stream()
    raw = {"bytes": 3.2e20, "id": 12345678901234567890, "zero": -0.0, "small": [1e-7, 0.5]}
    result = await postgres_store.append(
        stream, [NewEvent.of(ReadingsTaken(raw=raw), META)], expected_version=NO_STREAM
    )

    report = await postgres_store.verify()
    [stored] = (await postgres_store.read_stream(stream)).events

    assert report.ok, report.first_break
    assert stored.data == result.recorded[0].data
    assert stored.data["raw"]["id"] == 12345678901234567890
    assert stored.data["raw"]["bytes"] == 3.2e20


# --- upcasting ----------------------------------------------------------------------------------


async def test_an_event_stored_in_an_old_schema_version_is_read_upcast(
    postgres_store: PostgresEventStore, raw: Any, read_settled: ReadSettled
) -> None:
    stream = a_stream()
    await insert_raw(
        raw,
        postgres_store.schema,
        stream_id=stream,
        version=1,
        type_=PatchSized.type,
        schema_version=1,
        data={"patch": "CVE-2026-1234", "size": "42 lines"},
    )

    history = await postgres_store.read_stream(stream)
    everything = await read_settled(postgres_store, after=Checkpoint.start(), expected=1)

    assert history.events[0].schema_version == 1
    assert history.events[0].event == PatchSized(patch="CVE-2026-1234", lines=42)
    assert everything[0].event == PatchSized(patch="CVE-2026-1234", lines=42)
    assert (await postgres_store.verify()).ok


# --- connecting and migrating -------------------------------------------------------------------


async def test_processes_migrating_one_schema_at_once_all_succeed(
    database_url: str, schema_prefix: str
) -> None:
    schema = f"{schema_prefix}_race_{uuid.uuid4().hex[:6]}"

    stores = await asyncio.gather(
        *(PostgresEventStore.connect(database_url, schema=schema) for _ in range(4))
    )

    try:
        await stores[0].append("s", noted("a"), expected_version=NO_STREAM)
        assert (await stores[3].read_stream("s")).version == 1
        async with stores[0].engine.connect() as connection:
            version = await connection.scalar(
                text(f'SELECT version_num FROM "{schema}".alembic_version')
            )
        assert version == newest_revision()
    finally:
        async with stores[0].engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        for store in stores:
            await store.close()


async def test_connecting_again_to_a_migrated_schema_changes_nothing(
    postgres_store: PostgresEventStore, database_url: str
) -> None:
    await postgres_store.append("s", noted("a"), expected_version=NO_STREAM)

    again = await PostgresEventStore.connect(database_url, schema=postgres_store.schema)
    try:
        assert (await again.read_stream("s")).version == 1
    finally:
        await again.close()


@pytest.mark.parametrize("schema", ["Intake", "intake; DROP TABLE x", "pg_catalog", "", "1abc"])
async def test_a_schema_name_that_is_not_a_plain_identifier_is_refused(
    database_url: str, schema: str
) -> None:
    with pytest.raises(InvalidSchemaName):
        await PostgresEventStore.connect(database_url, schema=schema)


async def test_sessions_give_up_idle_transactions(postgres_store: PostgresEventStore) -> None:
    async with postgres_store.engine.connect() as connection:
        setting = await connection.scalar(text("SHOW idle_in_transaction_session_timeout"))

    assert setting == "30s"


def test_a_plain_postgres_url_is_turned_into_an_asyncpg_one() -> None:
    assert (
        asyncpg_url("postgresql://postgres:secret@db:5432/lts")
        == "postgresql+asyncpg://postgres:secret@db:5432/lts"
    )
    assert asyncpg_url("postgres://u@h/d") == "postgresql+asyncpg://u@h/d"


# --- heads remembered by one process, moved by another ------------------------------------------


async def test_a_writer_whose_remembered_head_is_stale_still_chains_correctly(
    postgres_store: PostgresEventStore, database_url: str
) -> None:
    stream = a_stream()
    other = await PostgresEventStore.connect(database_url, schema=postgres_store.schema)
    try:
        await postgres_store.append(stream, noted("a"), expected_version=NO_STREAM)
        await other.append(stream, noted("b"), expected_version=1)

        with pytest.raises(ConcurrencyError) as raised:
            await postgres_store.append(stream, noted("stale"), expected_version=1)
        await postgres_store.append(stream, noted("c"), expected_version=ANY)
    finally:
        await other.close()

    assert raised.value.actual == 2
    history = await postgres_store.read_stream(stream)
    assert [e.event.text for e in history.events if isinstance(e.event, PatchNoted)] == [
        "a",
        "b",
        "c",
    ]
    assert (await postgres_store.verify()).ok


@pytest.mark.parametrize(
    ("with_message", "with_timer"),
    [(True, False), (True, True), (False, True)],
    ids=["processed-message", "fired-timer-and-message", "fired-timer"],
)
async def test_an_empty_append_from_a_stale_remembered_head_raises_and_marks_nothing(
    postgres_store: PostgresEventStore, database_url: str, with_message: bool, with_timer: bool
) -> None:
    """The consumer's and timer loop's path: the head this process remembers (version 1) is the
    expected one, so the append statement is sent without reading the head first (through the
    group commit when only a message is recorded); another process has moved the stream."""
    stream = a_stream()
    timer = Timer(f"t-{stream}", "triage", stream, DUE, "sla", {})
    await postgres_store.append(stream, noted("a"), expected_version=NO_STREAM, schedule=[timer])
    other = await PostgresEventStore.connect(database_url, schema=postgres_store.schema)
    try:
        await other.append(stream, noted("b"), expected_version=1)
    finally:
        await other.close()
    message = ProcessedMessage("triage", f"msg-{uuid.uuid4()}")

    with pytest.raises(ConcurrencyError) as raised:
        await postgres_store.append(
            stream,
            [],
            expected_version=1,
            processed=message if with_message else None,
            fired_timer=timer.timer_id if with_timer else None,
        )

    assert raised.value.actual == 2
    assert not await postgres_store.is_processed(message)
    assert list(await postgres_store.due_timers(now=DUE)) == [timer]


# --- appends of concurrent tasks written together (group commit) -------------------------------


async def test_concurrent_appends_to_many_streams_are_written_together_each_on_its_own_terms(
    postgres_store: PostgresEventStore,
) -> None:
    streams = [a_stream() for _ in range(12)]
    done_message = ProcessedMessage("triage", f"msg-{uuid.uuid4()}")
    await postgres_store.append(streams[0], noted("first"), expected_version=NO_STREAM)
    await postgres_store.append(
        streams[1], noted("earlier"), expected_version=NO_STREAM, processed=done_message
    )
    due = datetime(2030, 1, 1, tzinfo=UTC)

    async def append(index: int, stream: str) -> object:
        if index == 0:  # the stream is at 1, not new: refused, the others go on
            return await postgres_store.append(stream, noted("late"), expected_version=NO_STREAM)
        if index == 1:  # a redelivery of a message already processed: a no-op
            return await postgres_store.append(
                a_stream(), noted("again"), expected_version=NO_STREAM, processed=done_message
            )
        return await postgres_store.append(
            stream,
            noted(f"{index}-a", f"{index}-b"),
            expected_version=NO_STREAM,
            processed=ProcessedMessage("triage", f"m-{stream}"),
            schedule=[Timer(f"t-{stream}", "triage", stream, due, "sla", {"n": index})],
        )

    outcomes = await asyncio.gather(
        *(append(i, s) for i, s in enumerate(streams)), return_exceptions=True
    )

    assert isinstance(outcomes[0], ConcurrencyError)
    assert getattr(outcomes[1], "duplicate", None) is True
    for index, stream in enumerate(streams[2:], start=2):
        history = await postgres_store.read_stream(stream)
        assert [e.event.text for e in history.events if isinstance(e.event, PatchNoted)] == [
            f"{index}-a",
            f"{index}-b",
        ]
        assert [e.stream_version for e in history.events] == [1, 2]
        assert await postgres_store.is_processed(ProcessedMessage("triage", f"m-{stream}"))
    due_now = await postgres_store.due_timers(now=due, limit=100)
    assert sorted(t.timer_id for t in due_now) == sorted(f"t-{s}" for s in streams[2:])
    assert {t.payload["n"] for t in due_now} == set(range(2, 12))
    assert (await postgres_store.read_stream(streams[0])).version == 1
    assert (await postgres_store.verify()).ok


@pytest.mark.parametrize("consumer", [True, False], ids=["consumer", "plain-writer"])
async def test_concurrent_appends_without_timers_share_one_transaction(
    postgres_store: PostgresEventStore, consumer: bool
) -> None:
    """The group commit really writes a group with one statement (before a fix, appends without
    timers made that statement fail and fell back, unseen, to one statement each), for a
    consumer's appends and a plain writer's (HTTP, tools) alike."""
    streams = [a_stream() for _ in range(10)]

    results = await asyncio.gather(
        *(
            postgres_store.append(
                stream,
                noted(f"{n}"),
                expected_version=NO_STREAM,
                processed=ProcessedMessage("intake", f"m-{stream}") if consumer else None,
            )
            for n, stream in enumerate(streams)
        )
    )

    transactions = {r.recorded[0].transaction_id for r in results}
    assert len(transactions) < len(streams) / 2  # grouped: one or two statements, not ten
    assert all(r.version == 1 and not r.duplicate for r in results)


async def test_a_version_taken_by_another_process_fails_only_that_append_of_a_group(
    postgres_store: PostgresEventStore, database_url: str
) -> None:
    streams = [a_stream() for _ in range(6)]
    for stream in streams:
        await postgres_store.append(stream, noted("a"), expected_version=NO_STREAM)
    other = await PostgresEventStore.connect(database_url, schema=postgres_store.schema)
    try:
        await other.append(streams[0], noted("b"), expected_version=1)
        outcomes = await asyncio.gather(
            *(
                postgres_store.append(
                    s, noted("c"), expected_version=1, processed=ProcessedMessage("t", f"c-{s}")
                )
                for s in streams
            ),
            return_exceptions=True,
        )
    finally:
        await other.close()

    assert isinstance(outcomes[0], ConcurrencyError)
    assert all(getattr(o, "version", None) == 2 for o in outcomes[1:])
    assert (await postgres_store.read_stream(streams[0])).version == 2
    assert (await postgres_store.verify()).ok


async def waiting_on_a_lock(database_url: str, schema: str) -> None:
    """Returns once a statement on `schema`'s events waits on a lock (pg_stat_activity, read
    from a connection of its own: the view is a snapshot per transaction)."""
    watcher = await asyncpg.connect(database_url)
    try:
        async with asyncio.timeout(15):
            while True:
                waiting = await watcher.fetchval(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND strpos(query, $1) > 0",
                    f'"{schema}".events',
                )
                if waiting:
                    return
                await asyncio.sleep(0.01)
    finally:
        await watcher.close()


async def test_a_racing_commit_failing_a_group_statement_leaves_the_others_appended(
    postgres_store: PostgresEventStore, raw: Any, database_url: str
) -> None:
    streams = [a_stream() for _ in range(6)]
    racing = raw.transaction()
    await racing.start()
    await insert_raw(
        raw,
        postgres_store.schema,
        stream_id=streams[0],
        version=1,
        type_=PatchNoted.type,
        schema_version=1,
        data={"text": "racing"},
    )
    group = asyncio.gather(
        *(
            postgres_store.append(
                s, noted("mine"), expected_version=NO_STREAM, processed=ProcessedMessage("t", s)
            )
            for s in streams
        ),
        return_exceptions=True,
    )
    await waiting_on_a_lock(database_url, postgres_store.schema)  # the racing row's version

    await racing.commit()
    outcomes = await group

    assert isinstance(outcomes[0], ConcurrencyError)
    assert all(getattr(o, "version", None) == 1 for o in outcomes[1:])
    assert [e.event.text for e in (await postgres_store.read_stream(streams[0])).events] == [
        "racing"
    ]
    assert (await postgres_store.verify()).ok


async def test_an_appends_recorded_events_are_the_stored_ones_as_a_sequence(
    postgres_store: PostgresEventStore,
) -> None:
    stream = a_stream()
    new = [NewEvent.of(ReadingsTaken(raw={"n": n}), META) for n in range(3)]

    result = await postgres_store.append(stream, new, expected_version=NO_STREAM)

    stored = list((await postgres_store.read_stream(stream)).events)
    assert len(result.recorded) == 3
    assert result.recorded == stored
    assert list(result.recorded[1:]) == stored[1:]
    assert [e.event_id for e in result.recorded] == [n.event_id for n in new]
    assert result.recorded != stored[:2]

"""The contract every EventStore honours, run against the in-memory and the PostgreSQL store."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from lts_events.actors import Actor, Role
from lts_events.envelope import Metadata, NewEvent, RecordedEvent
from lts_events.event import Event
from lts_events.hashing import GENESIS, event_hash
from lts_events.store.port import (
    ANY,
    NO_STREAM,
    Checkpoint,
    ConcurrencyError,
    EventStore,
    ProcessedMessage,
    Timer,
)

ReadSettled = Callable[..., Awaitable[Sequence[RecordedEvent]]]
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class NoteTaken(Event):
    type: ClassVar[str] = "lts.test.contract.note_taken"
    text: str
    count: int = 0


META = Metadata(actor=Actor(id="alice", role=Role.MAINTAINER), reason="testing")


def notes(*texts: str) -> list[NewEvent]:
    return [NewEvent.of(NoteTaken(text=t, count=i), META) for i, t in enumerate(texts)]


def a_stream() -> str:
    return f"note-{uuid.uuid4().hex[:12]}"


def a_timer(stream_id: str, *, due_at: datetime, timer_id: str | None = None) -> Timer:
    return Timer(
        timer_id=timer_id or f"timer-{uuid.uuid4().hex[:12]}",
        consumer="reminders",
        stream_id=stream_id,
        due_at=due_at,
        kind="sla",
        payload={"deadline": due_at.isoformat(), "level": 2},
    )


def texts(events: list[RecordedEvent] | tuple[RecordedEvent, ...]) -> list[str]:
    return [e.event.text for e in events if isinstance(e.event, NoteTaken)]


# --- appending and reading a stream -------------------------------------------------------------


async def test_appended_events_are_read_back_in_version_order(store: EventStore) -> None:
    stream = a_stream()

    result = await store.append(stream, notes("a", "b", "c"), expected_version=NO_STREAM)

    history = await store.read_stream(stream)
    assert result.version == 3
    assert not result.duplicate
    assert [e.stream_version for e in history.events] == [1, 2, 3]
    assert texts(list(history.events)) == ["a", "b", "c"]
    assert history.version == 3
    assert history.exists


async def test_recorded_events_carry_ids_metadata_and_positions(store: EventStore) -> None:
    stream = a_stream()
    new = notes("a", "b")

    result = await store.append(stream, new, expected_version=NO_STREAM)

    history = await store.read_stream(stream)
    assert [e.event_id for e in history.events] == [n.event_id for n in new]
    assert [e.event_id for e in result.recorded] == [n.event_id for n in new]
    assert all(e.metadata == META for e in history.events)
    assert all(e.type == NoteTaken.type and e.schema_version == 1 for e in history.events)
    assert history.events[0].position < history.events[1].position
    assert [e.position for e in result.recorded] == [e.position for e in history.events]
    assert [e.hash for e in result.recorded] == [e.hash for e in history.events]


async def test_an_unknown_stream_reads_as_empty_at_version_zero(store: EventStore) -> None:
    history = await store.read_stream(a_stream())

    assert list(history.events) == []
    assert history.version == 0
    assert not history.exists


async def test_streams_are_versioned_independently(store: EventStore) -> None:
    first, second = a_stream(), a_stream()

    await store.append(first, notes("a", "b"), expected_version=NO_STREAM)
    await store.append(second, notes("x"), expected_version=NO_STREAM)

    assert (await store.read_stream(first)).version == 2
    assert [e.stream_version for e in (await store.read_stream(second)).events] == [1]


# --- expected versions --------------------------------------------------------------------------


async def test_read_streams_reads_each_stream_as_read_stream_does(store: EventStore) -> None:
    first, second, unknown = a_stream(), a_stream(), a_stream()
    await store.append(first, notes("a", "b"), expected_version=NO_STREAM)
    await store.append(second, notes("x"), expected_version=NO_STREAM)
    await store.append(first, notes("c"), expected_version=2)

    histories = await store.read_streams([second, unknown, first, second])

    assert set(histories) == {first, second, unknown}
    assert texts(list(histories[first].events)) == ["a", "b", "c"]
    assert [e.stream_version for e in histories[first].events] == [1, 2, 3]
    assert histories[first].events == (await store.read_stream(first)).events
    assert texts(list(histories[second].events)) == ["x"]
    assert not histories[unknown].exists
    assert await store.read_streams([]) == {}


async def test_read_stream_tails_reads_each_stream_after_the_version_given(
    store: EventStore,
) -> None:
    first, second, unknown = a_stream(), a_stream(), a_stream()
    await store.append(first, notes("a", "b", "c"), expected_version=NO_STREAM)
    await store.append(second, notes("x"), expected_version=NO_STREAM)

    tails = await store.read_stream_tails({first: 1, second: 1, unknown: 0})

    assert set(tails) == {first, second, unknown}
    assert texts(list(tails[first])) == ["b", "c"]
    assert list(tails[first]) == list((await store.read_stream(first)).events[1:])
    assert list(tails[second]) == []
    assert list(tails[unknown]) == []
    assert texts(list((await store.read_stream_tails({second: 0}))[second])) == ["x"]
    assert await store.read_stream_tails({}) == {}


async def test_exact_expected_version_continues_the_stream(store: EventStore) -> None:
    stream = a_stream()
    await store.append(stream, notes("a"), expected_version=NO_STREAM)

    result = await store.append(stream, notes("b", "c"), expected_version=1)

    assert result.version == 3
    assert texts(list((await store.read_stream(stream)).events)) == ["a", "b", "c"]


async def test_any_version_continues_from_the_head(store: EventStore) -> None:
    stream = a_stream()
    await store.append(stream, notes("a", "b"), expected_version=ANY)

    result = await store.append(stream, notes("c"), expected_version=ANY)

    assert result.version == 3
    assert [e.stream_version for e in (await store.read_stream(stream)).events] == [1, 2, 3]


async def test_no_stream_on_an_existing_stream_raises_and_writes_nothing(
    store: EventStore,
) -> None:
    stream = a_stream()
    await store.append(stream, notes("a"), expected_version=NO_STREAM)

    with pytest.raises(ConcurrencyError) as raised:
        await store.append(stream, notes("b"), expected_version=NO_STREAM)

    assert raised.value.actual == 1
    assert texts(list((await store.read_stream(stream)).events)) == ["a"]


async def test_a_stale_version_raises_and_writes_nothing_at_all(store: EventStore) -> None:
    stream = a_stream()
    await store.append(stream, notes("a", "b"), expected_version=NO_STREAM)
    message = ProcessedMessage("triage", f"msg-{uuid.uuid4()}")
    timer = a_timer(stream, due_at=T0)

    with pytest.raises(ConcurrencyError) as raised:
        await store.append(
            stream, notes("c"), expected_version=1, processed=message, schedule=[timer]
        )

    assert raised.value.expected == 1
    assert raised.value.actual == 2
    assert "expected 1" in str(raised.value)
    assert texts(list((await store.read_stream(stream)).events)) == ["a", "b"]
    assert not await store.is_processed(message)
    assert list(await store.due_timers(now=T0)) == []


async def test_a_version_ahead_of_the_stream_raises(store: EventStore) -> None:
    stream = a_stream()

    with pytest.raises(ConcurrencyError):
        await store.append(stream, notes("a"), expected_version=5)

    assert not (await store.read_stream(stream)).exists


# --- processed messages -------------------------------------------------------------------------


async def test_a_redelivered_message_is_a_no_op_reported_as_duplicate(store: EventStore) -> None:
    stream = a_stream()
    message = ProcessedMessage("triage", f"msg-{uuid.uuid4()}")
    await store.append(stream, notes("a"), expected_version=NO_STREAM, processed=message)

    again = await store.append(stream, notes("a again"), expected_version=ANY, processed=message)

    assert again.duplicate
    assert list(again.recorded) == []
    assert again.version == 1
    assert texts(list((await store.read_stream(stream)).events)) == ["a"]


async def test_a_redelivery_with_a_stale_version_is_still_a_duplicate(store: EventStore) -> None:
    stream = a_stream()
    message = ProcessedMessage("triage", f"msg-{uuid.uuid4()}")
    await store.append(stream, notes("a"), expected_version=NO_STREAM, processed=message)

    again = await store.append(stream, notes("a"), expected_version=NO_STREAM, processed=message)

    assert again.duplicate
    assert (await store.read_stream(stream)).version == 1


async def test_processed_messages_are_recorded_per_consumer(store: EventStore) -> None:
    stream = a_stream()
    message_id = f"msg-{uuid.uuid4()}"
    await store.append(
        stream,
        notes("a"),
        expected_version=NO_STREAM,
        processed=ProcessedMessage("triage", message_id),
    )

    other = await store.append(
        stream, notes("b"), expected_version=1, processed=ProcessedMessage("metrics", message_id)
    )

    assert not other.duplicate
    assert await store.is_processed(ProcessedMessage("triage", message_id))
    assert await store.is_processed(ProcessedMessage("metrics", message_id))
    assert not await store.is_processed(ProcessedMessage("comms", message_id))
    asked = [ProcessedMessage(c, message_id) for c in ("comms", "triage", "metrics", "triage")]
    assert await store.processed_among(asked) == {
        ProcessedMessage("triage", message_id),
        ProcessedMessage("metrics", message_id),
    }
    assert await store.processed_among([]) == set()


async def test_a_message_that_decided_nothing_is_still_marked_processed(
    store: EventStore,
) -> None:
    stream = a_stream()
    message = ProcessedMessage("triage", f"msg-{uuid.uuid4()}")

    result = await store.append(stream, [], expected_version=ANY, processed=message)

    assert not result.duplicate
    assert result.version == 0
    assert await store.is_processed(message)
    assert (await store.append(stream, [], expected_version=ANY, processed=message)).duplicate


async def test_an_empty_append_with_a_stale_version_raises_and_leaves_the_message_unprocessed(
    store: EventStore,
) -> None:
    stream = a_stream()
    await store.append(stream, notes("a", "b"), expected_version=NO_STREAM)
    message = ProcessedMessage("triage", f"msg-{uuid.uuid4()}")

    with pytest.raises(ConcurrencyError) as raised:
        await store.append(stream, [], expected_version=1, processed=message)

    assert (raised.value.expected, raised.value.actual) == (1, 2)
    assert not await store.is_processed(message)
    assert (await store.read_stream(stream)).version == 2


@pytest.mark.parametrize("with_message", [True, False])
async def test_an_empty_append_firing_a_timer_with_a_stale_version_leaves_the_timer_due(
    store: EventStore, with_message: bool
) -> None:
    stream = a_stream()
    timer = a_timer(stream, due_at=T0)
    await store.append(stream, notes("a"), expected_version=NO_STREAM, schedule=[timer])
    await store.append(stream, notes("b"), expected_version=1)
    message = ProcessedMessage("reminders", timer.timer_id)

    with pytest.raises(ConcurrencyError):
        await store.append(
            stream,
            [],
            expected_version=1,
            processed=message if with_message else None,
            fired_timer=timer.timer_id,
        )

    assert list(await store.due_timers(now=T0)) == [timer]
    assert not await store.is_processed(message)


# --- reading everything -------------------------------------------------------------------------


async def test_read_all_returns_every_event_in_commit_order(
    store: EventStore, read_settled: ReadSettled
) -> None:
    first, second = a_stream(), a_stream()
    await store.append(first, notes("a", "b"), expected_version=NO_STREAM)
    await store.append(second, notes("c"), expected_version=NO_STREAM)
    await store.append(first, notes("d"), expected_version=2)

    everything = await read_settled(store, after=Checkpoint.start(), expected=4)

    assert texts(list(everything)) == ["a", "b", "c", "d"]
    pairs = [(e.transaction_id, e.position) for e in everything]
    assert pairs == sorted(pairs)
    assert len(set(pairs)) == 4


async def test_read_all_gives_each_event_its_own_metadata(
    store: EventStore, read_settled: ReadSettled
) -> None:
    bob = Metadata(actor=Actor(id="bob", role=Role.QA), reason="retest")
    mixed = [
        NewEvent.of(NoteTaken(text="a"), META),
        NewEvent.of(NoteTaken(text="b"), bob),
        NewEvent.of(NoteTaken(text="c"), bob),
        NewEvent.of(NoteTaken(text="d"), META),
    ]
    await store.append(a_stream(), mixed, expected_version=NO_STREAM)
    await store.append(a_stream(), notes("e"), expected_version=NO_STREAM)

    everything = await read_settled(store, after=Checkpoint.start(), expected=5)

    assert [e.metadata for e in everything] == [META, bob, bob, META, META]
    later = await store.read_all(after=Checkpoint(everything[1].transaction_id, 2**62))
    assert [e.metadata for e in later] == [META]


async def test_read_all_resumes_after_a_checkpoint(
    store: EventStore, read_settled: ReadSettled
) -> None:
    stream = a_stream()
    await store.append(stream, notes("a", "b"), expected_version=NO_STREAM)
    seen = await read_settled(store, after=Checkpoint.start(), expected=2)
    checkpoint = Checkpoint(seen[-1].transaction_id, seen[-1].position)
    await store.append(stream, notes("c"), expected_version=2)

    newer = await read_settled(store, after=checkpoint, expected=1)

    assert texts(list(newer)) == ["c"]


async def test_read_all_can_resume_inside_one_transaction(
    store: EventStore, read_settled: ReadSettled
) -> None:
    await store.append(a_stream(), notes("a", "b", "c"), expected_version=NO_STREAM)
    first = (await read_settled(store, after=Checkpoint.start(), expected=3))[0]

    rest = await store.read_all(after=Checkpoint(first.transaction_id, first.position))

    assert texts(list(rest)) == ["b", "c"]


async def test_count_after_counts_the_events_committed_after_a_checkpoint(
    store: EventStore, read_settled: ReadSettled
) -> None:
    await store.append(a_stream(), notes("a", "b", "c"), expected_version=NO_STREAM)
    first = (await read_settled(store, after=Checkpoint.start(), expected=3))[0]

    after_first = await store.count_after(after=Checkpoint(first.transaction_id, first.position))

    assert await store.count_after(after=Checkpoint.start()) == 3
    assert after_first == 2


async def test_read_all_honours_the_limit(store: EventStore, read_settled: ReadSettled) -> None:
    await store.append(a_stream(), notes("a", "b", "c", "d", "e"), expected_version=NO_STREAM)

    batch = await read_settled(store, after=Checkpoint.start(), expected=2, limit=2)

    assert texts(list(batch)) == ["a", "b"]


# --- checkpoints --------------------------------------------------------------------------------


async def test_an_unknown_checkpoint_starts_at_the_beginning(store: EventStore) -> None:
    assert await store.load_checkpoint(f"relay-{uuid.uuid4()}") == Checkpoint.start()


async def test_a_saved_checkpoint_is_loaded_and_can_move_on(store: EventStore) -> None:
    name = f"relay-{uuid.uuid4()}"
    await store.save_checkpoint(name, Checkpoint(10, 3))

    await store.save_checkpoint(name, Checkpoint(12, 7))

    assert await store.load_checkpoint(name) == Checkpoint(12, 7)


# --- timers -------------------------------------------------------------------------------------


async def test_a_scheduled_timer_is_due_at_its_time_and_not_before(store: EventStore) -> None:
    stream = a_stream()
    timer = a_timer(stream, due_at=T0 + timedelta(hours=4))

    await store.append(stream, notes("a"), expected_version=NO_STREAM, schedule=[timer])

    assert list(await store.due_timers(now=T0 + timedelta(hours=3, minutes=59))) == []
    assert list(await store.due_timers(now=T0 + timedelta(hours=4))) == [timer]


async def test_due_timers_come_earliest_first_up_to_the_limit(store: EventStore) -> None:
    stream = a_stream()
    late, early, middle = (a_timer(stream, due_at=T0 + timedelta(minutes=m)) for m in (30, 10, 20))
    await store.append(
        stream, notes("a"), expected_version=NO_STREAM, schedule=[late, early, middle]
    )

    due = await store.due_timers(now=T0 + timedelta(hours=1), limit=2)

    assert [t.timer_id for t in due] == [early.timer_id, middle.timer_id]


async def test_a_fired_timer_is_never_due_again(store: EventStore) -> None:
    stream = a_stream()
    timer = a_timer(stream, due_at=T0)
    await store.append(stream, notes("a"), expected_version=NO_STREAM, schedule=[timer])

    await store.append(
        stream,
        notes("breached"),
        expected_version=1,
        processed=ProcessedMessage("reminders", timer.timer_id),
        fired_timer=timer.timer_id,
    )

    assert list(await store.due_timers(now=T0 + timedelta(days=1))) == []


async def test_a_timer_fired_twice_writes_its_effects_once(store: EventStore) -> None:
    stream = a_stream()
    timer = a_timer(stream, due_at=T0)
    await store.append(stream, notes("a"), expected_version=NO_STREAM, schedule=[timer])

    first = await store.append(
        stream, notes("reminded"), expected_version=ANY, fired_timer=timer.timer_id
    )
    again = await store.append(
        stream, notes("reminded again"), expected_version=ANY, fired_timer=timer.timer_id
    )

    assert (first.duplicate, again.duplicate) == (False, True)
    assert [e.data["text"] for e in (await store.read_stream(stream)).events] == ["a", "reminded"]


async def test_two_firings_of_one_timer_at_once_write_one_effect(store: EventStore) -> None:
    stream = a_stream()
    timer = a_timer(stream, due_at=T0)
    await store.append(stream, notes("a"), expected_version=NO_STREAM, schedule=[timer])

    results = await asyncio.gather(
        *(
            store.append(
                stream, notes(f"fired {n}"), expected_version=ANY, fired_timer=timer.timer_id
            )
            for n in range(2)
        )
    )

    assert sorted(r.duplicate for r in results) == [False, True]
    assert (await store.read_stream(stream)).version == 2


async def test_scheduling_a_timer_twice_keeps_the_first(store: EventStore) -> None:
    stream = a_stream()
    first = a_timer(stream, due_at=T0, timer_id=f"sla-{stream}")
    second = a_timer(stream, due_at=T0 + timedelta(days=9), timer_id=first.timer_id)
    await store.append(stream, notes("a"), expected_version=NO_STREAM, schedule=[first])

    await store.append(stream, notes("b"), expected_version=1, schedule=[second])

    assert list(await store.due_timers(now=T0)) == [first]


# --- the hash chain -----------------------------------------------------------------------------


def expected_hash(event: RecordedEvent, *, previous: str) -> str:
    return event_hash(
        previous_hash=previous,
        event_id=event.event_id,
        stream_id=event.stream_id,
        stream_version=event.stream_version,
        type_=event.type,
        schema_version=event.schema_version,
        data=event.data,
        metadata=event.metadata.model_dump(mode="json"),
    )


async def test_each_event_chains_to_the_previous_one_of_its_stream(store: EventStore) -> None:
    stream, other = a_stream(), a_stream()
    await store.append(stream, notes("a", "b"), expected_version=NO_STREAM)
    await store.append(other, notes("x"), expected_version=NO_STREAM)
    await store.append(stream, notes("c"), expected_version=2)

    events = (await store.read_stream(stream)).events

    previous = GENESIS
    for event in events:
        assert event.hash == expected_hash(event, previous=previous)
        previous = event.hash
    assert len(events) == 3


async def test_a_changed_event_would_not_match_its_hash(store: EventStore) -> None:
    stream = a_stream()
    await store.append(stream, notes("a"), expected_version=NO_STREAM)
    event = (await store.read_stream(stream)).events[0]

    forged = event.model_copy(update={"data": {"text": "forged", "count": 0}})

    assert expected_hash(forged, previous=GENESIS) != event.hash

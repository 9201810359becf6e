"""Pure parts of the runtime, and the consumer/timer logic over the in-memory store (plain-call
tier: no broker involved)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from lts_events.actors import Actor, Role, automation
from lts_events.clock import FrozenClock
from lts_events.consumer import (
    EXHAUSTED,
    INVALID,
    PERMANENT,
    UNDECODABLE,
    UNKNOWN_TYPE,
    DeadLetter,
    Inbound,
    PermanentError,
    RawMessage,
    RetryPolicy,
    Subscriptions,
    dlq_headers,
    ordered_lanes,
)
from lts_events.envelope import Envelope, Metadata, NewEvent
from lts_events.event import Event
from lts_events.kafka import header, topic_for_type
from lts_events.relay import envelope_record, kafka_records
from lts_events.store.memory import InMemoryEventStore
from lts_events.store.port import ANY, Checkpoint, ConcurrencyError, ProcessedMessage, Timer
from lts_events.timers import TimerLoop

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOPIC = "lts.rtunit.events"


class NoteTaken(Event):
    type: ClassVar[str] = "lts.rtunit.note_taken"
    note_id: str
    text: str


class NoteErased(Event):
    type: ClassVar[str] = "lts.rtunit.note_erased"
    note_id: str


def a_message(
    value: bytes | None, headers: list[tuple[str, bytes]], *, offset: int = 7
) -> RawMessage:
    return RawMessage.of(
        value=value, headers=headers, key=b"note-1", topic=TOPIC, partition=2, offset=offset
    )


def a_note_message(text: str = "hello", *, event_id: str = "evt-1") -> RawMessage:
    envelope = Envelope(
        id=event_id,
        source="lts-flow/rtunit",
        type=NoteTaken.type,
        subject="note-1",
        data={"note_id": "n1", "text": text},
        correlationid="corr-1",
        actorid="alice",
        actorrole=Role.MAINTAINER,
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    _, value, headers = envelope_record(envelope)
    return a_message(value, headers)


async def dead_letters(subs: Subscriptions, message: RawMessage) -> list[DeadLetter]:
    """What the consumer sends to the DLQ of a Kafka batch holding only `message`."""
    return [failure for _, failure in await subs.process_batch([message])]


def subscriptions(store: InMemoryEventStore, **kwargs: object) -> Subscriptions:
    return Subscriptions(
        "rtunit-consumer",
        store=store,
        retry=RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002),
        **kwargs,  # type: ignore[arg-type]
    )


# -- pure helpers ---------------------------------------------------------------------------------


def test_retry_backoff_doubles_from_the_base_delay_up_to_the_cap() -> None:
    policy = RetryPolicy(attempts=5, base_delay=0.1, max_delay=0.5)

    delays = policy.delays()

    assert delays == pytest.approx((0.1, 0.2, 0.4, 0.5))


def test_a_single_attempt_has_no_pause() -> None:
    assert RetryPolicy(attempts=1).delays() == ()


def test_event_type_maps_to_the_topic_of_its_producing_service() -> None:
    assert topic_for_type("lts.intake.ticket_opened") == "lts.intake.events"


def test_a_type_string_without_a_service_part_has_no_topic() -> None:
    with pytest.raises(ValueError, match="not of the form"):
        topic_for_type("ticket_opened")


def test_dead_letter_headers_keep_the_original_headers_and_add_the_failure_facts() -> None:
    message = a_message(b"{}", [("ce_id", b"e1"), ("dlq_reason", b"old")], offset=41)

    headers = dlq_headers(
        message,
        DeadLetter(PERMANENT, "PermanentError", "ticket has no id"),
        consumer="triage",
        failed_at=T0,
    )

    as_dict = {k: v.decode() for k, v in headers}
    assert headers[0] == ("ce_id", b"e1")
    assert as_dict == {
        "ce_id": "e1",
        "dlq_reason": PERMANENT,
        "dlq_error_type": "PermanentError",
        "dlq_error": "ticket has no id",
        "dlq_source_topic": TOPIC,
        "dlq_source_partition": "2",
        "dlq_source_offset": "41",
        "dlq_consumer": "triage",
        "dlq_failed_at": T0.isoformat(),
    }


def test_raw_message_id_is_the_cloudevent_id_or_the_kafka_coordinates() -> None:
    assert a_message(b"x", [("ce_id", b"abc")]).message_id == "abc"
    assert a_message(b"x", []).message_id == f"{TOPIC}:2:7"


def test_raw_message_headers_are_text_and_bytes_pairs_with_a_null_value_as_empty_bytes() -> None:
    received = [("ce_id", b"abc"), ("ce_reason", None), ("content-type", bytearray(b"a/b"))]

    message = a_message(b"x", received)  # type: ignore[arg-type]

    assert message.headers == (("ce_id", b"abc"), ("ce_reason", b""), ("content-type", b"a/b"))
    assert all(type(value) is bytes for _, value in message.headers)


async def test_a_stored_event_becomes_a_binary_mode_cloudevent_keyed_by_its_stream() -> None:
    store = InMemoryEventStore()
    metadata = Metadata(actor=Actor(id="alice", role=Role.MAINTAINER), reason="seen")
    await store.append(
        "note-1", [NewEvent.of(NoteTaken(note_id="n1", text="hi"), metadata)], expected_version=ANY
    )
    [recorded] = await store.read_all(after=Checkpoint.start())
    rows = await store.read_all_rows(after=Checkpoint.start())

    [(key, value, headers)] = kafka_records(rows, source="lts-flow/rtunit")

    assert key == b"note-1"
    assert json.loads(value) == {"note_id": "n1", "text": "hi"}
    assert header(headers, "ce_id") == str(recorded.event_id)
    assert header(headers, "ce_type") == NoteTaken.type
    assert header(headers, "ce_subject") == "note-1"
    assert header(headers, "ce_source") == "lts-flow/rtunit"
    assert header(headers, "ce_specversion") == "1.0"
    assert header(headers, "ce_streamversion") == "1"
    assert header(headers, "ce_actorid") == "alice"
    assert header(headers, "ce_reason") == "seen"
    assert header(headers, "content-type") == "application/json"


def test_a_frozen_clock_moves_only_when_told() -> None:
    clock = FrozenClock(T0)

    clock.advance(timedelta(minutes=5))

    assert clock() == T0 + timedelta(minutes=5)


# -- consumer decisions over the in-memory store --------------------------------------------------


async def test_a_handled_event_reaches_its_handler_with_follow_up_metadata() -> None:
    store = InMemoryEventStore()
    seen: list[Inbound[NoteTaken]] = []

    async def on_note(inbound: Inbound[NoteTaken]) -> None:
        seen.append(inbound)

    dead = await dead_letters(subscriptions(store).on(NoteTaken, on_note), a_note_message())

    assert dead == []
    assert seen[0].event == NoteTaken(note_id="n1", text="hello")
    follow_up = seen[0].follow_up(actor=automation("rtunit"))
    assert (follow_up.correlation_id, follow_up.causation_id) == ("corr-1", "evt-1")
    assert follow_up.traceparent is not None
    assert "0af7651916cd43dd8448eb211c80319c" in follow_up.traceparent


async def test_an_already_processed_message_is_skipped_without_calling_the_handler() -> None:
    store = InMemoryEventStore()
    calls = 0

    async def on_note(inbound: Inbound[NoteTaken]) -> None:
        nonlocal calls
        calls += 1
        metadata = inbound.follow_up(actor=automation("rtunit"))
        await store.append(
            "log",
            [NewEvent.of(NoteErased(note_id="n1"), metadata)],
            expected_version=ANY,
            processed=inbound.processed,
        )

    subs = subscriptions(store).on(NoteTaken, on_note)
    await dead_letters(subs, a_note_message())

    dead = await dead_letters(subs, a_note_message())

    assert dead == []
    assert calls == 1


async def test_a_handler_whose_append_dedups_is_called_again_but_appends_once() -> None:
    store = InMemoryEventStore()
    queried: list[ProcessedMessage] = []
    real_is_processed = store.is_processed

    async def counting_is_processed(message: ProcessedMessage) -> bool:
        queried.append(message)
        return await real_is_processed(message)

    store.is_processed = counting_is_processed  # type: ignore[method-assign]
    calls = 0

    async def on_note(inbound: Inbound[NoteTaken]) -> None:
        nonlocal calls
        calls += 1
        metadata = inbound.follow_up(actor=automation("rtunit"))
        await store.append(
            "log",
            [NewEvent.of(NoteErased(note_id="n1"), metadata)],
            expected_version=ANY,
            processed=inbound.processed,
        )

    subs = subscriptions(store).on(NoteTaken, on_note, append_dedups=True)
    await dead_letters(subs, a_note_message())

    await dead_letters(subs, a_note_message())

    assert calls == 2
    assert queried == []
    assert len((await store.read_stream("log")).events) == 1


async def test_a_known_type_without_a_handler_is_skipped() -> None:
    calls = 0

    async def on_erased(inbound: Inbound[NoteErased]) -> None:
        nonlocal calls
        calls += 1

    subs = subscriptions(InMemoryEventStore()).on(NoteErased, on_erased)

    dead = await dead_letters(subs, a_note_message())

    assert (dead, calls) == ([], 0)


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (b"{not json", [("ce_id", b"1"), ("ce_type", b"lts.rtunit.note_taken")], UNDECODABLE),
        (b'{"note_id": "n1"}', [("ce_type", b"lts.rtunit.note_taken")], UNDECODABLE),
        (
            b'{"x": 1}',
            [("ce_id", b"1"), ("ce_source", b"s"), ("ce_type", b"lts.rtunit.nonexistent")],
            UNKNOWN_TYPE,
        ),
        (
            b'{"note_id": "n1"}',
            [("ce_id", b"1"), ("ce_source", b"s"), ("ce_type", b"lts.rtunit.note_taken")],
            INVALID,
        ),
    ],
    ids=["bad-json", "missing-attributes", "unknown-type", "fails-validation"],
)
async def test_messages_that_can_never_be_processed_are_dead_lettered(
    value: bytes, headers: list[tuple[str, bytes]], reason: str
) -> None:
    async def on_note(inbound: Inbound[NoteTaken]) -> None:
        raise AssertionError("must not be called")

    subs = subscriptions(InMemoryEventStore()).on(NoteTaken, on_note)

    [dead] = await dead_letters(subs, a_message(value, headers))

    assert dead.reason == reason


async def test_a_permanent_error_is_dead_lettered_at_once_with_its_reason() -> None:
    calls = 0

    async def on_note(inbound: Inbound[NoteTaken]) -> None:
        nonlocal calls
        calls += 1
        raise PermanentError("note text is forbidden")

    subs = subscriptions(InMemoryEventStore()).on(NoteTaken, on_note)

    dead = await dead_letters(subs, a_note_message())

    assert dead == [DeadLetter(PERMANENT, "PermanentError", "note text is forbidden")]
    assert calls == 1


async def test_a_concurrency_conflict_is_retried_until_it_succeeds() -> None:
    attempts = 0

    async def on_note(inbound: Inbound[NoteTaken]) -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConcurrencyError("note-1", expected=1, actual=2)

    subs = subscriptions(InMemoryEventStore()).on(NoteTaken, on_note)

    dead = await dead_letters(subs, a_note_message())

    assert dead == []
    assert attempts == 3


async def test_a_handler_that_keeps_failing_is_dead_lettered_after_the_last_attempt() -> None:
    attempts = 0

    async def on_note(inbound: Inbound[NoteTaken]) -> None:
        nonlocal attempts
        attempts += 1
        raise RuntimeError("database on fire")

    subs = subscriptions(InMemoryEventStore()).on(NoteTaken, on_note)

    dead = await dead_letters(subs, a_note_message())

    assert dead == [DeadLetter(EXHAUSTED, "RuntimeError", "database on fire")]
    assert attempts == 3


# -- timers over the in-memory store --------------------------------------------------------------


def a_timer(timer_id: str, due_at: datetime) -> Timer:
    return Timer(
        timer_id=timer_id, consumer="rtunit", stream_id="note-1", due_at=due_at, kind="remind"
    )


async def test_a_due_timer_fires_once_and_a_future_one_waits() -> None:
    store = InMemoryEventStore()
    metadata = Metadata(actor=automation("rtunit"))
    await store.append(
        "note-1",
        [NewEvent.of(NoteTaken(note_id="n1", text="x"), metadata)],
        expected_version=ANY,
        schedule=[a_timer("due", T0), a_timer("later", T0 + timedelta(hours=1))],
    )
    fired: list[str] = []

    async def fire(timer: Timer) -> None:
        fired.append(timer.timer_id)
        await store.append(
            timer.stream_id,
            [NewEvent.of(NoteErased(note_id="n1"), metadata)],
            expected_version=ANY,
            fired_timer=timer.timer_id,
        )

    loop = TimerLoop(store, handler=fire, clock=FrozenClock(T0))
    await loop.tick()
    await loop.tick()

    assert fired == ["due"]


async def test_a_failing_timer_handler_is_retried_on_the_next_tick() -> None:
    store = InMemoryEventStore()
    metadata = Metadata(actor=automation("rtunit"))
    await store.append(
        "note-1",
        [NewEvent.of(NoteTaken(note_id="n1", text="x"), metadata)],
        expected_version=ANY,
        schedule=[a_timer("flaky", T0)],
    )
    attempts = 0

    async def fire(timer: Timer) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("transient")
        await store.append(
            timer.stream_id,
            [NewEvent.of(NoteErased(note_id="n1"), metadata)],
            expected_version=ANY,
            fired_timer=timer.timer_id,
        )

    loop = TimerLoop(store, handler=fire, clock=FrozenClock(T0))

    assert [await loop.tick(), await loop.tick(), await loop.tick()] == [0, 1, 0]


async def test_a_raw_handler_gets_foreign_payloads_and_is_skipped_once_processed() -> None:
    store = InMemoryEventStore()
    seen: list[RawMessage] = []

    async def on_alert(message: RawMessage) -> None:
        seen.append(message)
        metadata = Metadata(actor=automation("rtunit"))
        await store.append(
            "alerts",
            [NewEvent.of(NoteErased(note_id=message.message_id), metadata)],
            expected_version=ANY,
            processed=ProcessedMessage("rtunit-consumer", message.message_id),
        )

    subs = subscriptions(store).on_raw(TOPIC, on_alert)
    first = await dead_letters(subs, a_message(b'{"alert": "disk full"}', []))

    again = await dead_letters(subs, a_message(b'{"alert": "disk full"}', []))

    assert (first, again) == ([], [])
    assert [m.value for m in seen] == [b'{"alert": "disk full"}']


async def test_a_raw_handler_refusing_a_payload_sends_it_to_the_dlq() -> None:
    async def on_alert(message: RawMessage) -> None:
        raise PermanentError("not an alert")

    subs = subscriptions(InMemoryEventStore()).on_raw(TOPIC, on_alert)

    dead = await dead_letters(subs, a_message(b"<xml/>", []))

    assert dead == [DeadLetter(PERMANENT, "PermanentError", "not an alert")]


async def test_a_per_message_handler_keeps_the_order_of_each_partition_and_key() -> None:
    seen: list[tuple[str, int]] = []

    async def on_note(inbound: Inbound[NoteTaken]) -> None:
        seen.append((inbound.event.text, inbound.offset))

    def note(key: str, offset: int) -> RawMessage:
        _, value, headers = envelope_record(
            Envelope(
                id=f"n-{offset}",
                source="lts-flow/rtunit",
                type=NoteTaken.type,
                data={"note_id": key, "text": key},
            )
        )
        return RawMessage.of(
            value=value, headers=headers, key=key.encode(), topic=TOPIC, partition=0, offset=offset
        )

    batch = [note("b", 4), note("a", 3), note("b", 2), note("a", 1)]
    dead = await subscriptions(InMemoryEventStore()).on(NoteTaken, on_note).process_batch(batch)

    assert dead == []
    assert sorted(seen) == [("a", 1), ("a", 3), ("b", 2), ("b", 4)]
    assert [o for t, o in seen if t == "a"] == [1, 3]
    assert [o for t, o in seen if t == "b"] == [2, 4]


def _raw(partition: int, offset: int, key: bytes | None) -> RawMessage:
    return RawMessage("t", (), key, "t", partition, offset, f"t:{partition}:{offset}")


def test_batch_lanes_keep_offset_order_per_partition_and_key() -> None:
    batch = [_raw(0, 3, b"a"), _raw(1, 1, b"b"), _raw(0, 1, b"a"), _raw(0, 2, b"c")]

    lanes = ordered_lanes(batch)

    assert [[(m.partition, m.offset) for m in lane] for lane in lanes] == [
        [(0, 1), (0, 3)],
        [(0, 2)],
        [(1, 1)],
    ]


# -- batch handlers --------------------------------------------------------------------------------


def _note(offset: int, text: str, *, partition: int = 0) -> RawMessage:
    return RawMessage.of(
        value=text.encode(),
        headers=[("ce_id", f"m-{partition}-{offset}".encode())],
        key=f"note-{text}".encode(),
        topic=TOPIC,
        partition=partition,
        offset=offset,
    )


async def test_a_batch_handler_gets_the_whole_batch_in_partition_and_offset_order() -> None:
    seen: list[list[str]] = []

    async def on_notes(messages: Sequence[RawMessage]) -> list[PermanentError | None]:
        seen.append([m.message_id for m in messages])
        return [PermanentError("empty") if m.value == b"" else None for m in messages]

    batch = [_note(2, "b"), _note(1, "x", partition=1), _note(1, "a"), _note(3, "")]
    failures = (
        await subscriptions(InMemoryEventStore()).on_raw_batch(TOPIC, on_notes).process_batch(batch)
    )

    assert seen == [["m-0-1", "m-0-2", "m-0-3", "m-1-1"]]
    assert [(m.message_id, f) for m, f in failures] == [
        ("m-0-3", DeadLetter(PERMANENT, "PermanentError", "empty"))
    ]


async def test_a_failing_batch_is_retried_then_split_so_only_the_culprit_is_dead_lettered() -> None:
    calls: list[int] = []

    async def on_notes(messages: Sequence[RawMessage]) -> list[PermanentError | None]:
        calls.append(len(messages))
        if any(m.value == b"poison" for m in messages):
            raise RuntimeError("cannot store poison")
        return [None] * len(messages)

    batch = [_note(1, "a"), _note(2, "poison"), _note(3, "c")]
    failures = (
        await subscriptions(InMemoryEventStore()).on_raw_batch(TOPIC, on_notes).process_batch(batch)
    )

    assert [(m.message_id, f) for m, f in failures] == [
        ("m-0-2", DeadLetter(EXHAUSTED, "RuntimeError", "cannot store poison"))
    ]
    assert calls == [3, 3, 3, 1, 1, 1, 1, 1]  # 3 attempts at the batch, then one by one


async def test_a_batch_raising_a_permanent_error_is_split_without_retries() -> None:
    calls: list[int] = []

    async def on_notes(messages: Sequence[RawMessage]) -> list[PermanentError | None]:
        calls.append(len(messages))
        if any(m.value == b"poison" for m in messages):
            raise PermanentError("poison is not a note")
        return [None] * len(messages)

    failures = (
        await subscriptions(InMemoryEventStore())
        .on_raw_batch(TOPIC, on_notes)
        .process_batch([_note(1, "poison"), _note(2, "b")])
    )

    assert [(m.message_id, f.reason) for m, f in failures] == [("m-0-1", PERMANENT)]
    assert calls == [2, 1, 1]


def test_a_topic_takes_either_a_batch_handler_or_per_message_handlers() -> None:
    async def on_notes(messages: Sequence[RawMessage]) -> list[PermanentError | None]:
        return [None] * len(messages)

    async def on_alert(message: RawMessage) -> None:
        return None

    subs = subscriptions(InMemoryEventStore()).on_raw_batch(TOPIC, on_notes)
    with pytest.raises(ValueError, match="already has handlers"):
        subs.on_raw(TOPIC, on_alert)
    with pytest.raises(ValueError, match="already has handlers"):
        subs.on_raw_batch(TOPIC, on_notes)

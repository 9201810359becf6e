"""`Subscriptions.on_batch`: decoded events of a Kafka batch handed to one handler (plain-call
tier: `process_batch` without a broker)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import pytest
from lts_events.actors import Role
from lts_events.consumer import (
    EXHAUSTED,
    INVALID,
    PERMANENT,
    UNDECODABLE,
    UNKNOWN_TYPE,
    Inbound,
    PermanentError,
    RawMessage,
    RetryPolicy,
    Subscriptions,
)
from lts_events.envelope import Envelope
from lts_events.event import Event
from lts_events.relay import envelope_record
from lts_events.store.memory import InMemoryEventStore

TOPIC = "lts.rtbatch.events"


class CardAdded(Event):
    type: ClassVar[str] = "lts.rtbatch.card_added"
    card_id: str
    text: str


class CardMoved(Event):
    type: ClassVar[str] = "lts.rtbatch.card_moved"
    card_id: str
    column: str


class CardWatched(Event):  # on the topic, but nobody's batch takes it
    type: ClassVar[str] = "lts.rtbatch.card_watched"
    card_id: str


def _message(
    type_: str, data: dict[str, Any], *, offset: int, partition: int = 0, value: bytes | None = None
) -> RawMessage:
    envelope = Envelope(
        id=f"m-{partition}-{offset}",
        source="lts-flow/rtbatch",
        type=type_,
        subject=f"card-{data.get('card_id')}",
        data=data,
        actorid="alice",
        actorrole=Role.MAINTAINER,
    )
    _, encoded, headers = envelope_record(envelope)
    return RawMessage.of(
        value=encoded if value is None else value,
        headers=headers,
        key=envelope.subject.encode() if envelope.subject else None,
        topic=TOPIC,
        partition=partition,
        offset=offset,
    )


def _added(offset: int, text: str = "t", *, partition: int = 0) -> RawMessage:
    return _message(
        CardAdded.type, {"card_id": f"c{offset}", "text": text}, offset=offset, partition=partition
    )


def _subscriptions(handler: Any) -> Subscriptions:
    return Subscriptions(
        "rtbatch",
        store=InMemoryEventStore(),
        retry=RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.002),
    ).on_batch((CardAdded, CardMoved), handler)


async def test_the_handler_gets_the_decoded_events_of_its_types_in_partition_and_offset_order() -> (
    None
):
    seen: list[list[tuple[str, Any]]] = []

    async def on_cards(inbounds: Sequence[Inbound[Event]]) -> list[PermanentError | None]:
        seen.append([(type(i.event).__name__, (i.partition, i.offset)) for i in inbounds])
        return [None] * len(inbounds)

    batch = [
        _message(CardMoved.type, {"card_id": "c1", "column": "done"}, offset=4),
        _added(1, partition=1),
        _message(CardWatched.type, {"card_id": "c1"}, offset=3),
        _added(1),
    ]

    dead = await _subscriptions(on_cards).process_batch(batch)

    assert dead == []
    assert seen == [[("CardAdded", (0, 1)), ("CardMoved", (0, 4)), ("CardAdded", (1, 1))]]


async def test_messages_that_do_not_decode_are_dead_lettered_with_the_runtimes_reasons() -> None:
    handed: list[str] = []

    async def on_cards(inbounds: Sequence[Inbound[Event]]) -> list[PermanentError | None]:
        handed.extend(i.envelope.id for i in inbounds)
        return [None] * len(inbounds)

    batch = [
        _message(CardAdded.type, {"card_id": "c1"}, offset=1, value=b"{not json"),
        _message("lts.rtbatch.card_burnt", {"card_id": "c2"}, offset=2),
        _message(CardAdded.type, {"card_id": "c3"}, offset=3),  # no text: invalid
        _added(4),
    ]

    dead = await _subscriptions(on_cards).process_batch(batch)

    assert [(m.offset, d.reason) for m, d in dead] == [
        (1, UNDECODABLE),
        (2, UNKNOWN_TYPE),
        (3, INVALID),
    ]
    assert handed == ["m-0-4"]


async def test_verdicts_and_failures_map_back_to_the_messages_they_came_from() -> None:
    calls: list[int] = []

    async def on_cards(inbounds: Sequence[Inbound[Event]]) -> list[PermanentError | None]:
        calls.append(len(inbounds))
        texts = [getattr(i.event, "text", "") for i in inbounds]
        if "crash" in texts:
            raise RuntimeError("store down for this one")
        return [PermanentError("too rude") if t == "rude" else None for t in texts]

    batch = [_added(1, "fine"), _added(2, "crash"), _added(3, "rude")]

    dead = await _subscriptions(on_cards).process_batch(batch)

    assert [(m.offset, d.reason, d.detail) for m, d in dead] == [
        (2, EXHAUSTED, "store down for this one"),
        (3, PERMANENT, "too rude"),
    ]
    assert calls == [3, 3, 1, 1, 1, 1]  # the batch twice, then one by one (the crash twice)


def test_a_batch_takes_events_of_one_topic_and_a_topic_has_one_kind_of_handler() -> None:
    class Elsewhere(Event):
        type: ClassVar[str] = "lts.rtbatch_other.thing_done"

    async def on_cards(inbounds: Sequence[Inbound[Event]]) -> list[PermanentError | None]:
        return [None] * len(inbounds)

    async def on_card(inbound: Inbound[CardAdded]) -> None:
        return None

    with pytest.raises(ValueError, match="one topic"):
        Subscriptions("x", store=InMemoryEventStore()).on_batch((CardAdded, Elsewhere), on_cards)
    subscriptions = _subscriptions(on_cards)
    with pytest.raises(ValueError, match="already has"):
        subscriptions.on(CardAdded, on_card)
    with pytest.raises(ValueError, match="already has handlers"):
        subscriptions.on_batch((CardMoved,), on_cards)

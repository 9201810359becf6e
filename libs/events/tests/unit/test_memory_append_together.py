"""The in-memory store's `append_together`, the in-memory twin of one `append_within`
transaction (what intake's shell writes on the in-memory store): a stream's several appends
chain in order in one transaction, a processed message makes its append a duplicate, and a stale
version refuses all of it."""

from __future__ import annotations

from typing import ClassVar

import pytest
from lts_events.actors import Actor, Role
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.store.memory import InMemoryEventStore
from lts_events.store.port import (
    NO_STREAM,
    Checkpoint,
    ConcurrencyError,
    ProcessedMessage,
    StreamAppend,
)


class Noted(Event):
    type: ClassVar[str] = "lts.test.append_together.noted"
    n: int


META = Metadata(actor=Actor(id="lts-intake", role=Role.AUTOMATION))


def notes(*numbers: int) -> list[NewEvent]:
    return [NewEvent.of(Noted(n=n), META) for n in numbers]


async def test_appends_together_chain_in_order_in_one_transaction() -> None:
    store = InMemoryEventStore()

    results = await store.append_together(
        [
            StreamAppend("a", notes(1, 2), NO_STREAM, ProcessedMessage("c", "m1")),
            StreamAppend("b", notes(3), NO_STREAM),
            StreamAppend("a", notes(4), 2, ProcessedMessage("c", "m2")),
        ]
    )

    assert [r.version for r in results] == [2, 1, 3]
    history = (await store.read_stream("a")).events
    numbers = [(e.stream_version, e.event.n) for e in history]  # type: ignore[attr-defined]
    assert numbers == [(1, 1), (2, 2), (3, 4)]
    everything = await store.read_all(after=Checkpoint.start())
    assert len({e.transaction_id for e in everything}) == 1
    both = {ProcessedMessage("c", "m1"), ProcessedMessage("c", "m2")}
    assert await store.processed_among(list(both)) == both


async def test_an_already_processed_message_makes_its_append_a_duplicate() -> None:
    store = InMemoryEventStore()
    await store.append(
        "a", notes(1), expected_version=NO_STREAM, processed=ProcessedMessage("c", "m")
    )

    results = await store.append_together(
        [StreamAppend("a", notes(2), 1, ProcessedMessage("c", "m")), StreamAppend("b", notes(3), 0)]
    )

    assert [(r.duplicate, r.version) for r in results] == [(True, 1), (False, 1)]
    assert len((await store.read_stream("a")).events) == 1


async def test_a_stale_version_writes_nothing_of_any_append() -> None:
    store = InMemoryEventStore()
    await store.append("a", notes(1), expected_version=NO_STREAM)

    with pytest.raises(ConcurrencyError):
        await store.append_together(
            [
                StreamAppend("b", notes(2), NO_STREAM, ProcessedMessage("c", "m")),
                StreamAppend("a", notes(3), NO_STREAM),
            ]
        )

    assert not (await store.read_stream("b")).exists
    assert not await store.is_processed(ProcessedMessage("c", "m"))

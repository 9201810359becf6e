"""What a consumer's appends written together by one statement (the group commit) hand back:
the events as stored, each append's own, whatever the others of its group did."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import ClassVar

from lts_events.actors import Actor, Role
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.store.port import NO_STREAM, AppendResult, ProcessedMessage, Timer
from lts_events.store.postgres import PostgresEventStore


class StepTaken(Event):
    type: ClassVar[str] = "lts.test.group_commit.step_taken"
    n: int


META = Metadata(actor=Actor(id="lts-triage", role=Role.AUTOMATION))


def steps(count: int) -> list[NewEvent]:
    return [NewEvent.of(StepTaken(n=n), META) for n in range(count)]


def a_stream() -> str:
    return f"group-{uuid.uuid4().hex[:12]}"


async def test_each_append_of_a_group_gets_its_own_events_as_stored(
    postgres_store: PostgresEventStore,
) -> None:
    moved, streams = a_stream(), [a_stream() for _ in range(9)]
    await postgres_store.append(moved, steps(1), expected_version=NO_STREAM)
    done = ProcessedMessage("c", f"done-{uuid.uuid4()}")
    await postgres_store.append(a_stream(), steps(1), expected_version=NO_STREAM, processed=done)
    sizes = [3, 0, 7, 1, 2, 5, 0, 4, 6]  # an append may hold no event, only its message
    due = datetime(2031, 1, 1, tzinfo=UTC)

    async def append(stream: str, size: int) -> AppendResult:
        return await postgres_store.append(
            stream,
            steps(size),
            expected_version=NO_STREAM,
            processed=ProcessedMessage("c", f"m-{stream}"),
            schedule=[Timer(f"t-{stream}", "c", stream, due, "sla")] if size % 2 else [],
        )

    outcomes = await asyncio.gather(
        postgres_store.append(moved, steps(2), expected_version=NO_STREAM),  # refused
        postgres_store.append(a_stream(), steps(2), expected_version=NO_STREAM, processed=done),
        *(append(s, n) for s, n in zip(streams, sizes, strict=True)),
        return_exceptions=True,
    )

    assert type(outcomes[0]).__name__ == "ConcurrencyError"
    assert getattr(outcomes[1], "duplicate", None) is True
    written = [o for o in outcomes[2:] if isinstance(o, AppendResult)]
    assert len(written) == len(streams)
    for stream, size, result in zip(streams, sizes, written, strict=True):
        stored = list((await postgres_store.read_stream(stream)).events)
        assert [e.event_id for e in stored] == [e.event_id for e in result.recorded]
        assert list(result.recorded) == stored  # positions, transaction, record time, hash
        assert result.version == size == len(stored)
        assert [e.stream_version for e in result.recorded] == list(range(1, size + 1))
    positions = [e.position for r in written for e in r.recorded]
    assert len(set(positions)) == len(positions) == sum(sizes)
    transactions = {e.transaction_id for r in written for e in r.recorded}
    assert len(transactions) <= 2  # written together: one statement (two at most), not nine
    assert (await postgres_store.verify()).ok

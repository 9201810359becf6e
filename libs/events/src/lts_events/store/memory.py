"""An in-memory event store for unit tests of handlers; it passes the same contract suite as the
PostgreSQL store."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from pydantic_core import to_json

from lts_events.envelope import NewEvent, RecordedEvent
from lts_events.hashing import GENESIS, appended_hash
from lts_events.store.commits import Commits
from lts_events.store.port import (
    ANY,
    NO_STREAM,
    AppendResult,
    Checkpoint,
    ConcurrencyError,
    ExpectedVersion,
    ProcessedMessage,
    StoredRow,
    StreamAppend,
    StreamHistory,
    Timer,
)


class InMemoryEventStore:
    def __init__(self) -> None:
        self._events: list[RecordedEvent] = []
        self._streams: dict[str, list[RecordedEvent]] = {}
        self._processed: set[ProcessedMessage] = set()
        self._checkpoints: dict[str, Checkpoint] = {}
        self._timers: dict[str, Timer] = {}
        self._fired: set[str] = set()
        self._lock = asyncio.Lock()
        self.commits = Commits()

    async def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        *,
        expected_version: ExpectedVersion,
        processed: ProcessedMessage | None = None,
        schedule: Sequence[Timer] = (),
        fired_timer: str | None = None,
    ) -> AppendResult:
        async with self._lock:
            stream = self._streams.get(stream_id, [])
            if processed is not None and processed in self._processed:
                return AppendResult(stream_id, len(stream), duplicate=True)
            if fired_timer is not None and (
                fired_timer in self._fired or fired_timer not in self._timers
            ):  # a timer fires once (and one never scheduled cannot fire)
                return AppendResult(stream_id, len(stream), duplicate=True)
            _check_version(stream_id, expected_version, actual=len(stream))
            recorded = self._write(stream_id, events, processed, len(self._events) + 1)
            for timer in schedule:
                self._timers.setdefault(timer.timer_id, timer)
            if fired_timer is not None:
                self._fired.add(fired_timer)
            if recorded:
                self.commits.notify()
            return AppendResult(stream_id, len(self._streams[stream_id]), recorded)

    async def append_together(self, appends: Sequence[StreamAppend]) -> list[AppendResult]:
        """Write `appends` all or nothing, in one transaction, as `SqlEventStore.append_within`
        writes them in its caller's: several appends to one stream chain in the given order; an
        append whose processed message is already recorded writes nothing and comes back
        `duplicate`; a stream not at its expected version raises `ConcurrencyError` and nothing
        of any append is written."""
        async with self._lock:
            heads: dict[str, int] = {}
            processed = set(self._processed)
            duplicate: list[bool] = []
            for append in appends:  # checked first: nothing is written unless all can be
                stream_id = append.stream_id
                head = heads.get(stream_id, len(self._streams.get(stream_id, ())))
                duplicate.append(append.processed in processed)
                if duplicate[-1]:
                    continue
                _check_version(stream_id, append.expected_version, actual=head)
                heads[stream_id] = head + len(append.events)
                if append.processed is not None:
                    processed.add(append.processed)
            transaction_id = len(self._events) + 1
            results: list[AppendResult] = []
            for append, again in zip(appends, duplicate, strict=True):
                stream_id = append.stream_id
                if again:
                    version = len(self._streams.get(stream_id, ()))
                    results.append(AppendResult(stream_id, version, duplicate=True))
                    continue
                recorded = self._write(stream_id, append.events, append.processed, transaction_id)
                results.append(AppendResult(stream_id, len(self._streams[stream_id]), recorded))
            if any(result.recorded for result in results):
                self.commits.notify()
            return results

    def _write(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        processed: ProcessedMessage | None,
        transaction_id: int,
    ) -> list[RecordedEvent]:
        stream = self._streams.get(stream_id, [])
        recorded = self._record(stream_id, stream, events, transaction_id)
        self._streams[stream_id] = stream + recorded
        self._events.extend(recorded)
        if processed is not None:
            self._processed.add(processed)
        return recorded

    def _record(
        self,
        stream_id: str,
        stream: list[RecordedEvent],
        events: Sequence[NewEvent],
        transaction_id: int,
    ) -> list[RecordedEvent]:
        recorded: list[RecordedEvent] = []
        previous = stream[-1].hash if stream else GENESIS
        for offset, new in enumerate(events):
            version = len(stream) + offset + 1
            data = new.event.to_data()
            metadata = new.metadata.model_dump(mode="json")
            _, digest = appended_hash(
                previous_hash=previous,
                event_id=new.event_id,
                stream_id=stream_id,
                stream_version=version,
                type_=new.event.type,
                schema_version=new.event.schema_version,
                data=data,
                metadata=metadata,
            )
            recorded.append(
                RecordedEvent(
                    event_id=new.event_id,
                    stream_id=stream_id,
                    stream_version=version,
                    position=len(self._events) + offset + 1,
                    transaction_id=transaction_id,
                    type=new.event.type,
                    schema_version=new.event.schema_version,
                    data=data,
                    metadata=new.metadata,
                    recorded_at=datetime.now(UTC),
                    hash=digest,
                )
            )
            previous = digest
        return recorded

    async def read_stream(self, stream_id: str) -> StreamHistory:
        return StreamHistory(stream_id, tuple(self._streams.get(stream_id, ())))

    async def read_streams(self, stream_ids: Sequence[str]) -> Mapping[str, StreamHistory]:
        return {stream_id: await self.read_stream(stream_id) for stream_id in stream_ids}

    async def read_stream_tails(
        self, after: Mapping[str, int]
    ) -> Mapping[str, Sequence[RecordedEvent]]:
        return {
            stream_id: tuple(e for e in self._streams.get(stream_id, ()) if e.stream_version > v)
            for stream_id, v in after.items()
        }

    async def read_all(self, *, after: Checkpoint, limit: int = 1000) -> Sequence[RecordedEvent]:
        newer = (e for e in self._events if (e.transaction_id, e.position) > after)
        return tuple(newer)[:limit]

    async def read_all_rows(self, *, after: Checkpoint, limit: int = 1000) -> Sequence[StoredRow]:
        return tuple(_stored_row(e) for e in await self.read_all(after=after, limit=limit))

    async def count_after(self, *, after: Checkpoint) -> int:
        return sum(1 for e in self._events if (e.transaction_id, e.position) > after)

    async def is_processed(self, message: ProcessedMessage) -> bool:
        return message in self._processed

    async def processed_among(self, messages: Sequence[ProcessedMessage]) -> set[ProcessedMessage]:
        return {message for message in messages if message in self._processed}

    async def load_checkpoint(self, name: str) -> Checkpoint:
        return self._checkpoints.get(name, Checkpoint.start())

    async def save_checkpoint(self, name: str, checkpoint: Checkpoint) -> None:
        self._checkpoints[name] = checkpoint

    async def due_timers(self, *, now: datetime, limit: int = 100) -> Sequence[Timer]:
        due = [
            t for t in self._timers.values() if t.due_at <= now and t.timer_id not in self._fired
        ]
        return sorted(due, key=lambda t: t.due_at)[:limit]


def _stored_row(event: RecordedEvent) -> StoredRow:
    meta = event.metadata
    return StoredRow(
        position=event.position,
        transaction_id=event.transaction_id,
        stream_id=event.stream_id,
        stream_version=event.stream_version,
        event_id=str(event.event_id),
        type=event.type,
        schema_version=event.schema_version,
        data=to_json(event.data).decode(),
        recorded_at=event.recorded_at.isoformat(),
        actor_id=meta.actor.id,
        actor_role=meta.actor.role.value,
        reason=meta.reason,
        correlation_id=meta.correlation_id,
        causation_id=meta.causation_id,
        traceparent=meta.traceparent,
        tracestate=meta.tracestate,
    )


def _check_version(stream_id: str, expected: ExpectedVersion, *, actual: int) -> None:
    if expected == ANY:
        return
    wanted = 0 if expected == NO_STREAM else expected
    if wanted != actual:
        raise ConcurrencyError(stream_id, expected=expected, actual=actual)

"""The event store port: what every store implementation (PostgreSQL, in-memory) provides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

from lts_events.envelope import NewEvent, RecordedEvent
from lts_events.store.commits import Commits

if TYPE_CHECKING:
    import asyncpg
    from sqlalchemy.ext.asyncio import AsyncEngine

ANY: Literal["any"] = "any"
NO_STREAM: Literal["no_stream"] = "no_stream"
ExpectedVersion = Literal["any", "no_stream"] | int


class ConcurrencyError(Exception):
    """The stream was not at the expected version; nothing was written."""

    def __init__(self, stream_id: str, *, expected: ExpectedVersion, actual: int) -> None:
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, expected {expected}: "
            "another writer appended first; reload the stream and decide again"
        )
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class Checkpoint(NamedTuple):
    """A position in the whole store: (transaction id, global position), ordered as a pair."""

    transaction_id: int
    position: int

    @staticmethod
    def start() -> Checkpoint:
        return Checkpoint(0, 0)


class StoredRow(NamedTuple):
    """An event as stored, undecoded, for readers that pass events on without looking into
    them (the relay): its data as JSON text and its metadata as the fields it was stored with
    (what `Metadata.model_dump(mode="json")` holds), without `RecordedEvent` or `Metadata`."""

    position: int
    transaction_id: int
    stream_id: str
    stream_version: int
    event_id: str  # the UUID's canonical text
    type: str
    schema_version: int
    data: str  # JSON of the data object (spacing is the store's own)
    recorded_at: str  # ISO 8601 with its UTC offset, as `datetime.fromisoformat` reads it
    actor_id: str
    actor_role: str  # a `Role` value
    reason: str | None
    correlation_id: str
    causation_id: str | None
    traceparent: str | None
    tracestate: str | None


@dataclass(frozen=True, slots=True)
class ProcessedMessage:
    """The input a handler answered (a Kafka message id, a timer id): recorded with its events."""

    consumer: str
    message_id: str


@dataclass(frozen=True, slots=True)
class Timer:
    """A durable request to feed `payload` to `consumer` for `stream_id` at `due_at`."""

    timer_id: str
    consumer: str
    stream_id: str
    due_at: datetime
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StreamHistory:
    stream_id: str
    events: Sequence[RecordedEvent]

    @property
    def version(self) -> int:
        return self.events[-1].stream_version if self.events else 0

    @property
    def exists(self) -> bool:
        return bool(self.events)


@dataclass(frozen=True, slots=True)
class StreamAppend:
    """One append of several written together (`SqlEventStore.append_within`)."""

    stream_id: str
    events: Sequence[NewEvent]
    expected_version: ExpectedVersion
    processed: ProcessedMessage | None = None


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append did. `duplicate` means the processed message was already recorded, or
    the timer it fires had fired, so nothing was written (redelivery, a second firing)."""

    stream_id: str
    version: int
    recorded: Sequence[RecordedEvent] = ()
    duplicate: bool = False


class EventStore(Protocol):
    """An append-only, hash-chained store of event streams, owned by one service."""

    @property
    def commits(self) -> Commits:
        """This process's commits of events in the store (after COMMIT), for a reader of
        `read_all` to wait on between polls."""
        ...

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
        """Append atomically. Versions continue the stream from `expected_version` (`ANY`: from
        its head; `NO_STREAM`: the stream must be empty). A stale version raises
        `ConcurrencyError` and writes nothing. `processed`, `schedule` and `fired_timer` commit in
        the same transaction; an already-processed message, or a `fired_timer` that fired
        already (or was never scheduled), makes the call a no-op that comes back `duplicate`."""
        ...

    async def read_stream(self, stream_id: str) -> StreamHistory:
        """Every event of one stream, in version order, upcast on decode."""
        ...

    async def read_streams(self, stream_ids: Sequence[str]) -> Mapping[str, StreamHistory]:
        """`read_stream` of each id (one round trip for a batch); every id is a key, an
        unknown stream maps to an empty history."""
        ...

    async def read_stream_tails(
        self, after: Mapping[str, int]
    ) -> Mapping[str, Sequence[RecordedEvent]]:
        """Each named stream's events after the version given (0: all of them), in version
        order, one round trip: for a reader that keeps what it folded of a stream and reads only
        what was appended since (events never change, versions have no gaps). Every name is a
        key; a stream with nothing newer maps to no events."""
        ...

    async def read_all(self, *, after: Checkpoint, limit: int = 1000) -> Sequence[RecordedEvent]:
        """Events committed after `after`, in (transaction id, position) order, never skipping an
        event whose transaction commits late (the transaction-id barrier)."""
        ...

    async def read_all_rows(self, *, after: Checkpoint, limit: int = 1000) -> Sequence[StoredRow]:
        """`read_all`'s events (the same ones, in the same order, behind the same barrier) as
        `StoredRow`s: nothing decoded, for readers that only pass events on."""
        ...

    async def count_after(self, *, after: Checkpoint) -> int:
        """How many events were committed after `after`, settled or not (a figure for progress
        reports, such as how far a projection is behind; not a way to read them)."""
        ...

    async def is_processed(self, message: ProcessedMessage) -> bool: ...

    async def processed_among(self, messages: Sequence[ProcessedMessage]) -> set[ProcessedMessage]:
        """Those of `messages` already recorded as processed (one round trip for a batch)."""
        ...

    async def load_checkpoint(self, name: str) -> Checkpoint: ...

    async def save_checkpoint(self, name: str, checkpoint: Checkpoint) -> None: ...

    async def due_timers(self, *, now: datetime, limit: int = 100) -> Sequence[Timer]:
        """Timers due at `now` that have not fired yet, earliest first."""
        ...


class SqlEventStore(EventStore, Protocol):
    """An event store in a PostgreSQL schema that its service shares for tables of its own
    (intake's claims and ticket views, metrics' audit envelopes, figures and projections): what
    the service writes on a `transaction()` commits or rolls back with the appends it makes
    there (`append_within`). `PostgresEventStore` only: the in-memory store has no SQL; its
    `append_together` writes several appends all or nothing, for a service whose own tables
    have an in-memory twin (intake's `memory.py`, metrics' `audit_tables.py`)."""

    @property
    def schema(self) -> str:
        """The store's PostgreSQL schema, where the service keeps its tables too."""
        ...

    @property
    def engine(self) -> AsyncEngine:
        """A SQLAlchemy engine on the store's database, for the service's queries and DDL."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A connection in a transaction, for `append_within` and whatever must commit or roll
        back with those appends."""
        ...

    async def settled_positions(self, *, after: Checkpoint, limit: int = 1000) -> list[Checkpoint]:
        """Where `read_all`'s events are (the same ones, in the same order, behind the same
        barrier), and nothing else of them: for a reader that already holds the events (the
        metrics projections, handed what their process just audited)."""
        ...

    async def append_within(
        self, db: asyncpg.Connection, appends: Sequence[StreamAppend]
    ) -> list[AppendResult]:
        """Write `appends` on `db`, in the caller's open transaction (several to one stream
        chain in the given order). An append whose processed message is already recorded
        writes nothing and comes back `duplicate`; a stream not at its expected version raises
        `ConcurrencyError`, after which the caller's transaction must roll back."""
        ...

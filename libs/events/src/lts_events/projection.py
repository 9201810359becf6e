"""The projection runner: keeps one read model up to date with a service's store.

A projection is a name and an `apply(db, events)` that writes its tables on `db`. The runner
owns its checkpoint (a row of the store schema's `projection_checkpoints`, by name), reads the
events settled after it through the store (`read_all`: the transaction-id barrier, so a
late-committing transaction is never skipped) and applies a batch and moves the checkpoint in
one transaction: a crash between the two cannot skip a batch or apply it twice.

Run it in one replica at a time (`ServiceContext.run_when_leading`). Should two overlap
(leadership changing hands, a rebuild swapping tables), the checkpoint row is locked before a
batch is applied and a batch read from a checkpoint that moved meanwhile is dropped and read
again, so a batch is still applied once."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Generic, TypeVar

import asyncpg

from lts_events.envelope import RecordedEvent
from lts_events.faults import Outage, is_transient
from lts_events.store.migrate import checked_schema
from lts_events.store.port import Checkpoint, SqlEventStore

log = logging.getLogger(__name__)

Apply = Callable[[asyncpg.Connection, Sequence[RecordedEvent]], Awaitable[None]]
"""Write a batch of events (in store order) into the projection's tables on the connection
given, in the transaction that then moves the checkpoint: never commit on it."""

Read = Callable[[Checkpoint, int], Awaitable[Sequence[RecordedEvent]]]
"""The events settled after a checkpoint (at most the limit given), as the store's `read_all`
returns them: the same events in the same order, behind the same barrier."""


class ProjectionRunner:
    def __init__(
        self,
        store: SqlEventStore,
        name: str,
        apply: Apply,
        *,
        batch: int = 1000,
        read: Read | None = None,
    ) -> None:
        """`read` stands in for the store's `read_all` where the projection holds the events
        already (metrics: those its own process just audited, `settled_positions` saying which)."""
        self._store = store
        self._read = read or self._read_all
        self.name = name
        self._apply = apply
        self._batch = batch
        table = f'"{checked_schema(store.schema)}".projection_checkpoints'
        self._load_sql = f"SELECT transaction_id, position FROM {table} WHERE name = $1"
        # Creates the row on first use; on conflict the no-op update locks the row and returns
        # it as it is (one round trip instead of an insert and a SELECT ... FOR UPDATE).
        self._hold_sql = (
            f"INSERT INTO {table} AS c (name, transaction_id, position) VALUES ($1, 0, 0) "
            "ON CONFLICT (name) DO UPDATE SET name = c.name RETURNING transaction_id, position"
        )
        self._move_sql = f"UPDATE {table} SET transaction_id = $2, position = $3 WHERE name = $1"

    async def checkpoint(self) -> Checkpoint:
        """Where the projection is: every event at or before it is applied."""
        async with self._store.transaction() as db:
            row = await db.fetchrow(self._load_sql, self.name)
        return Checkpoint.start() if row is None else Checkpoint(row[0], row[1])

    async def step(self, *, limit: int | None = None) -> int:
        """Apply the next batch of settled events (`limit` of them at most, else the runner's
        batch size); how many (0: caught up)."""
        while True:
            # Read before the transaction: one holding the checkpoint row has a transaction id,
            # which would hold back, behind the barrier, whatever commits after it began.
            after = await self.checkpoint()
            events = await self._read(after, limit or self._batch)
            if not events:
                return 0
            async with self._store.transaction() as db:
                if await self.hold(db) != after:
                    continue  # another runner (or a rebuild) moved it: read again from there
                await self._apply(db, events)
                last = events[-1]
                await self.move(db, Checkpoint(last.transaction_id, last.position))
            return len(events)

    async def _read_all(self, after: Checkpoint, limit: int) -> Sequence[RecordedEvent]:
        return await self._store.read_all(after=after, limit=limit)

    async def catch_up(self, *, limit: int | None = None) -> int:
        """Apply every settled event after the checkpoint, in batches; how many."""
        total = 0
        while applied := await self.step(limit=limit):
            total += applied
        return total

    async def behind(self) -> bool:
        """Whether a committed event is not applied yet: one still held back by the barrier (an
        older transaction on the server is open) is not applied either, so it counts."""
        return await self._store.count_after(after=await self.checkpoint()) > 0

    async def hold(self, db: asyncpg.Connection) -> Checkpoint:
        """Lock the checkpoint in `db`'s transaction (other runners wait until it ends)."""
        row = await db.fetchrow(self._hold_sql, self.name)
        return Checkpoint(row[0], row[1])

    async def move(self, db: asyncpg.Connection, checkpoint: Checkpoint) -> None:
        """Set the checkpoint in `db`'s transaction, held first (`hold`): for a rebuild that
        swaps in tables replayed up to `checkpoint`."""
        await db.execute(self._move_sql, self.name, checkpoint.transaction_id, checkpoint.position)

    async def run(self, *, idle: float = 0.5) -> None:
        """Catch up, then look again every `idle` seconds, until cancelled (leadership lost, the
        service stopping). An outage of the database is waited out, logged once as it starts and
        once as it ends; another failure is logged each time and retried after a pause."""
        outage = Outage(f"projection {self.name}: the database", log)
        while True:
            pause = idle
            try:
                await self.catch_up()
                outage.recovered()
            except Exception as error:
                if _cancelled():
                    # asyncpg reports a cancellation landing on a query as a connection error:
                    # looping on would keep a stopping service's projection alive
                    raise asyncio.CancelledError from error
                if is_transient(error):
                    pause = max(idle, outage.failed(error))
                else:
                    log.exception("projection failed; retrying", extra={"projection": self.name})
                    pause = max(idle, 1.0)
            await asyncio.sleep(pause)


Held = TypeVar("Held")


class HeldEvents(Generic[Held]):
    """Events this process committed and folded itself, kept by position for its projection
    runner (a `read` for `ProjectionRunner`), so that the runner does not read and decode them
    back from the store. Only the events come from memory, never which events nor their order:
    a batch is the store's `settled_positions` after the checkpoint (`read_all`'s barrier and
    order, without the data), served from memory only when every one of them is held, else read
    from the store (another replica's events, a restart, a batch evicted). Each held item is
    an event, or an event with what else its holder keeps of it (`event_of` finds the event).

    At most `keep` items are held: a replica that does not lead holds copies nobody asks for."""

    def __init__(
        self, store: SqlEventStore, *, keep: int, event_of: Callable[[Held], RecordedEvent]
    ) -> None:
        self._store = store
        self._keep = keep
        self._event_of = event_of
        # in commit order, near enough (concurrent transactions interleave; `keep` bounds the
        # rest); an OrderedDict drops its first entry in O(1), where a dict's first key is
        # found by walking past the slots of those deleted before it
        self._held: OrderedDict[Checkpoint, Held] = OrderedDict()
        self.served = 0
        """Events served from memory (a figure for tests and profiles)."""

    def hold(self, items: Iterable[tuple[Checkpoint, Held]]) -> None:
        """Hold items of a committed transaction (never before its COMMIT: an event held here
        must be in the store)."""
        held = self._held
        for position, item in items:
            held[position] = item
        while len(held) > self._keep:  # nobody asks (not the leader), or the runner is far behind
            held.popitem(last=False)

    def get(self, position: Checkpoint) -> Held | None:
        return self._held.get(position)

    async def read(self, after: Checkpoint, limit: int) -> Sequence[RecordedEvent]:
        """The runner's `read_all`: from memory when every settled event is held."""
        self._forget(after)
        positions = await self._store.settled_positions(after=after, limit=limit)
        held = self._held
        if not all(position in held for position in positions):
            return await self._store.read_all(after=after, limit=limit)
        self.served += len(positions)
        event_of = self._event_of
        return [event_of(held[position]) for position in positions]

    def _forget(self, applied: Checkpoint) -> None:
        """Drop what the runner applied (at or before its checkpoint), oldest first."""
        held = self._held
        while held and next(iter(held)) <= applied:
            held.popitem(last=False)


def _cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0

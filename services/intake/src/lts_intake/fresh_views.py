"""The events this process folded into the ticket views in their own append transaction, handed
to the views' projection runner so that it does not read and decode them back from the store.

Only the events come from memory, never which events nor their order: the runner's batch is
the store's `settled_positions` after its checkpoint (`read_all`'s barrier and order, without
the rows' data), and only when every one of them is held here is the batch served from memory;
otherwise (the Kafka path's events, which the runner folds; another replica's; a restart; a
batch evicted) it is read from the store as before. The runner still folds what it gets
(`IntakeRepository.catch_up_within`, which finds these shown already), so a view is never
left behind by this. As metrics' `FreshAudits` does for its audit copies.

Measured (docs/performance.md, "Intake: `intake_http`"): the runner's `read_all` and its
decoding were ~1.3% of intake's samples in the bench, for events it then skipped."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence

from lts_events.envelope import RecordedEvent
from lts_events.store import Checkpoint
from lts_events.store.port import SqlEventStore


class FreshViews:
    # At most this many events held: the runner takes what the last 0.5 s folded (~200 at the
    # bench's 400 requests/s); a replica that does not lead holds copies nobody asks for.
    def __init__(self, store: SqlEventStore, *, keep: int = 5_000) -> None:
        self._store = store
        self._keep = keep
        # in commit order, near enough; an OrderedDict drops its oldest entry in O(1)
        self._held: OrderedDict[Checkpoint, RecordedEvent] = OrderedDict()
        self.served = 0
        """Events served from memory (a figure for tests and profiles)."""

    def committed(self, folded: Iterable[RecordedEvent]) -> None:
        """Hold events whose views were written in their append's transaction, once it has
        committed (never before: an event held here must be in the store)."""
        held = self._held
        for event in folded:
            held[Checkpoint(event.transaction_id, event.position)] = event
        while len(held) > self._keep:  # nobody asks (not the leader), or the runner is far behind
            held.popitem(last=False)

    async def read(self, after: Checkpoint, limit: int) -> Sequence[RecordedEvent]:
        """The runner's `read_all`: from memory when every settled event is held."""
        self._forget(after)
        positions = await self._store.settled_positions(after=after, limit=limit)
        held = self._held
        if not all(position in held for position in positions):
            return await self._store.read_all(after=after, limit=limit)
        self.served += len(positions)
        return [held[position] for position in positions]

    def _forget(self, applied: Checkpoint) -> None:
        """Drop what the runner applied (at or before its checkpoint), oldest first."""
        held = self._held
        while held and next(iter(held)) <= applied:
            held.popitem(last=False)

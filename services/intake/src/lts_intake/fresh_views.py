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

from collections.abc import Iterable

from lts_events.envelope import RecordedEvent
from lts_events.projection import HeldEvents
from lts_events.store import Checkpoint
from lts_events.store.port import SqlEventStore


def _itself(event: RecordedEvent) -> RecordedEvent:
    return event


class FreshViews(HeldEvents[RecordedEvent]):
    # At most this many events held: the runner takes what the last 0.5 s folded (~200 at the
    # bench's 400 requests/s); a replica that does not lead holds copies nobody asks for.
    def __init__(self, store: SqlEventStore, *, keep: int = 5_000) -> None:
        super().__init__(store, keep=keep, event_of=_itself)

    def committed(self, folded: Iterable[RecordedEvent]) -> None:
        """Hold events whose views were written in their append's transaction, once it has
        committed (never before: an event held here must be in the store)."""
        self.hold((Checkpoint(event.transaction_id, event.position), event) for event in folded)

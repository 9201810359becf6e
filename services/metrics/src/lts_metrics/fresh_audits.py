"""The audit copies this process just committed, handed to its projection runner so that it
does not read and decode them back from the store.

Only the events come from memory, never which events nor their order: the runner's batch is
the store's `settled_positions` after its checkpoint (`read_all`'s barrier and order, without
the rows' data), and only when every one of them is held here is the batch served from memory;
otherwise (another replica's audit copies, adoption inputs, anchors, a restart, a batch
evicted, data that would not read back as it is held: `reads_back_alike`) it is read from the
store as before. So a late-committing transaction is never
skipped, and replicas stay correct: a replica that does not lead holds copies nobody asks for,
at most `keep` of them.

Measured (docs/performance.md, "Pipeline"): the runner's `read_all` decoding and the envelope
rows' query were 5-7% of metrics' CPU in the pipeline burst."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from math import isfinite
from typing import TYPE_CHECKING, cast
from uuid import UUID

from lts_events.envelope import RecordedEvent
from lts_events.projection import HeldEvents
from lts_events.store import AppendResult, Checkpoint
from lts_events.store.port import SqlEventStore

if TYPE_CHECKING:
    from lts_metrics.audit import EnvelopeFacts

EnvelopeRow = tuple[str, str | None, datetime]
"""An event's `audit_envelopes` facts the projections read: service, subject, occurred_at."""


def envelope_row(facts: EnvelopeFacts) -> EnvelopeRow:
    """What the projections read back of an `audit_envelopes` row as written (the time in UTC,
    as stored)."""
    return facts.service, facts.subject, facts.occurred_at.astimezone(UTC)


_SAFE_INTEGER = 2**53 - 1


def reads_back_alike(value: object) -> bool:
    """Whether JSON data reads back from the store as this very value, types included. The store
    keeps its canonical JSON (RFC 8785) as jsonb, so an integer beyond ±(2**53 - 1) may come
    back as another number (2**60 as 1152921504606847000) and an integral float (3.0, and any
    float of 2**53 or more) as an int; a non-finite float is not JSON. Everything else (str,
    bool, None, other ints and floats) comes back equal and of the same type, key order aside,
    which no projection reads (a property test holds this to the store)."""
    kind = type(value)
    if kind is dict:
        return _all_alike(cast("dict[str, object]", value).values())
    if kind is list:
        return _all_alike(cast("list[object]", value))
    return _scalar_alike(value)


def _all_alike(values: Iterable[object]) -> bool:
    # Strings, None and booleans, most of an event's values, are decided here, without a call
    # each (a call per value was most of the walk, which runs for every audit copy).
    for item in values:
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is dict or kind is list:
            if not reads_back_alike(item):
                return False
        elif not _scalar_alike(item):
            return False
    return True


def _scalar_alike(value: object) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -_SAFE_INTEGER <= cast("int", value) <= _SAFE_INTEGER
    if kind is float:
        number = cast("float", value)
        return isfinite(number) and not number.is_integer()
    return False


def _audited_event(held: tuple[RecordedEvent, EnvelopeRow]) -> RecordedEvent:
    return held[0]


class FreshAudits(HeldEvents[tuple[RecordedEvent, EnvelopeRow]]):
    def __init__(self, store: SqlEventStore, *, keep: int = 20_000) -> None:
        super().__init__(store, keep=keep, event_of=_audited_event)

    def committed(self, results: Iterable[AppendResult], facts: Iterable[EnvelopeFacts]) -> None:
        """Hold the audit copies of a committed transaction with their `audit_envelopes` rows
        (never before its COMMIT: an event held here must be in the store). Matched by event id:
        `append_within` gives its results stream by stream, not in the order of the rows."""
        by_event = {each.event_id: each for each in facts}
        self.hold(
            (Checkpoint(record.transaction_id, record.position), (record, envelope_row(row)))
            for result in results
            for record in result.recorded
            if (row := by_event.get(record.event_id)) is not None
            # otherwise its batch is read from the store
            and reads_back_alike(record.data)
        )

    def envelopes(self, records: Sequence[RecordedEvent]) -> Mapping[UUID, EnvelopeRow] | None:
        """The envelope rows of `records` if every one is held, else None (read them)."""
        rows: dict[UUID, EnvelopeRow] = {}
        for record in records:
            found = self.get(Checkpoint(record.transaction_id, record.position))
            if found is None:
                return None
            rows[record.event_id] = found[1]
        return rows

"""Between the store's rows and its Python values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic_core import from_json, to_json

from lts_events._fast import gc_paused, trusted_constructor
from lts_events.envelope import Metadata, RecordedEvent
from lts_events.store.chaining import ChainedEvent
from lts_events.store.port import Checkpoint, Timer


def dumps(value: Any) -> str:
    """Compact JSON for a jsonb column."""
    return to_json(value).decode()


def timer_columns(timers: Sequence[Timer]) -> tuple[list[Any], ...]:
    return (
        [t.timer_id for t in timers],
        [t.consumer for t in timers],
        [t.stream_id for t in timers],
        [t.due_at for t in timers],
        [t.kind for t in timers],
        [dumps(t.payload) for t in timers],
    )


# A RecordedEvent from values the store itself produced with the right types (columns of fixed
# SQL types, validated Metadata). A test checks it equals the validated model.
trusted_recorded = trusted_constructor(RecordedEvent)


def recorded_from_chained(
    stream_id: str, chained: ChainedEvent, *, position: int, transaction_id: int, at: datetime
) -> RecordedEvent:
    return trusted_recorded(
        {
            "event_id": chained.new.event_id,
            "stream_id": stream_id,
            "stream_version": chained.stream_version,
            "position": position,
            "transaction_id": transaction_id,
            "type": chained.new.event.type,
            "schema_version": chained.new.event.schema_version,
            "data": chained.data,
            "metadata": chained.new.metadata,
            "recorded_at": at,
            "hash": chained.hash,
        }
    )


_METADATA_CACHE_SIZE = 4096
_metadata_cache: dict[str, Metadata] = {}


def metadata_from_json(text: str) -> Metadata:
    """Events appended together share their metadata: validate each distinct text once (the
    model is frozen, so sharing the instance is safe)."""
    found = _metadata_cache.get(text)
    if found is None:
        if len(_metadata_cache) >= _METADATA_CACHE_SIZE:
            _metadata_cache.clear()
        found = _metadata_cache[text] = Metadata.model_validate_json(text)
    return found


def recorded_from_row(row: Sequence[Any]) -> RecordedEvent:
    """A row of `sql.RECORD_COLUMNS` (data and metadata as JSON text) as a RecordedEvent."""
    (position, transaction_id, stream_id, version, event_id, type_, schema_version) = row[:7]
    return trusted_recorded(
        {
            "event_id": event_id,
            "stream_id": stream_id,
            "stream_version": version,
            "position": position,
            "transaction_id": transaction_id,
            "type": type_,
            "schema_version": schema_version,
            "data": from_json(row[7]),
            "metadata": metadata_from_json(row[8]),
            "recorded_at": row[9],
            "hash": row[10],
        }
    )


_at_from_text = datetime.fromisoformat


def recorded_from_read_all_rows(rows: Sequence[Sequence[Any]]) -> tuple[RecordedEvent, ...]:
    """Rows of `sql.READ_ALL_COLUMNS` as RecordedEvents, equal to what `recorded_from_row`
    makes of the same events. The hot loop of every reader of the whole store: the metadata and
    record time are decoded once per run of rows that share them (events appended together
    share both), and the loop makes four tracked objects per row and no cycle, so the cyclic
    collector is paused (about a quarter of the read's CPU otherwise)."""
    recorded: list[RecordedEvent] = []
    add, parse, make, at_from_text = recorded.append, from_json, trusted_recorded, _at_from_text
    metadata_text: str | None = None
    at_text: str | None = None
    metadata: Metadata | None = None
    at: datetime | None = None
    with gc_paused():
        for (
            position,
            transaction_id,
            stream_id,
            stream_version,
            event_id,
            type_,
            schema_version,
            data,
            row_metadata,
            row_at,
            hash_,
        ) in rows:
            if row_metadata != metadata_text:
                metadata, metadata_text = metadata_from_json(row_metadata), row_metadata
            if row_at != at_text:
                at, at_text = at_from_text(row_at), row_at
            add(
                make(
                    {
                        "event_id": event_id,
                        "stream_id": stream_id,
                        "stream_version": stream_version,
                        "position": position,
                        "transaction_id": transaction_id,
                        "type": type_,
                        "schema_version": schema_version,
                        "data": parse(data),
                        "metadata": metadata,
                        "recorded_at": at,
                        "hash": hash_,
                    }
                )
            )
    return tuple(recorded)


def timer_from_row(row: Mapping[str, Any]) -> Timer:
    return Timer(
        timer_id=row["timer_id"],
        consumer=row["consumer"],
        stream_id=row["stream_id"],
        due_at=row["due_at"],
        kind=row["kind"],
        payload=from_json(row["payload"]),
    )


def checkpoint_from_row(row: Mapping[str, Any] | None) -> Checkpoint:
    if row is None:
        return Checkpoint.start()
    return Checkpoint(row["transaction_id"], row["position"])

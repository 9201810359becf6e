"""Between the store's rows and its Python values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic_core import from_json, to_json

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


# All fields are set; one set object serves every instance because the model is frozen, so
# pydantic never adds to it (a copy gets its own).
_ALL_FIELDS_SET = set(RecordedEvent.model_fields)
if not RecordedEvent.model_config.get("frozen"):
    raise TypeError("trusted_recorded shares one fields set: RecordedEvent must stay frozen")
_new = object.__new__
_set = object.__setattr__


def trusted_recorded(values: dict[str, Any]) -> RecordedEvent:
    """A RecordedEvent from values the store itself produced with the right types (columns of
    fixed SQL types, validated Metadata): what `model_construct` does, without its per-field
    Python loop, which costs more than the rest of decoding a row. A test checks it equals the
    validated model."""
    recorded = _new(RecordedEvent)
    _set(recorded, "__dict__", values)
    _set(recorded, "__pydantic_fields_set__", _ALL_FIELDS_SET)
    _set(recorded, "__pydantic_extra__", None)
    _set(recorded, "__pydantic_private__", None)
    return recorded


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


def recorded_from_compact_rows(rows: Sequence[Sequence[Any]]) -> tuple[RecordedEvent, ...]:
    """Rows of `read_all_compact`, where NULL metadata repeats the previous row's. (The hot
    loop of every reader of the whole store: plain indexing, no per-row helper calls.)"""
    recorded: list[RecordedEvent] = []
    add, parse, new, set_ = recorded.append, from_json, _new, _set
    fields_set, metadata = _ALL_FIELDS_SET, None
    for row in rows:
        if row[8] is not None:
            metadata = metadata_from_json(row[8])
        event = new(RecordedEvent)
        set_(
            event,
            "__dict__",
            {
                "event_id": row[4],
                "stream_id": row[2],
                "stream_version": row[3],
                "position": row[0],
                "transaction_id": row[1],
                "type": row[5],
                "schema_version": row[6],
                "data": parse(row[7]),
                "metadata": metadata,
                "recorded_at": row[9],
                "hash": row[10],
            },
        )
        set_(event, "__pydantic_fields_set__", fields_set)
        set_(event, "__pydantic_extra__", None)
        set_(event, "__pydantic_private__", None)
        add(event)
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

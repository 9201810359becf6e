"""Chaining new events onto a stream: versions, hashes, and the rows to insert them.

`chain_hash` computes exactly `lts_events.hashing.event_hash` (a property test holds them equal)
but takes the data and metadata already in canonical JSON. Events appended together share one
metadata object, so its canonical form is computed once per append, and the canonical data is
also what goes into the jsonb column: one serialisation per event instead of three. The
canonical JSON comes from `canonical` (orjson where its bytes are json.dumps's)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any
from uuid import UUID

from lts_events.envelope import NewEvent
from lts_events.event import Event
from lts_events.store.canonical import canonical_dump, canonical_json

__all__ = ["ChainedEvent", "canonical_json", "chain", "chain_hash", "event_rows"]

_quote: Any = encode_basestring  # the string encoder json.dumps uses with ensure_ascii=False


def chain_hash(
    *,
    previous_hash: str,
    event_id: UUID | str,
    stream_id: str,
    stream_version: int,
    type_: str,
    schema_version: int,
    data_json: str,
    metadata_json: str,
) -> str:
    """`event_hash` over canonical JSON already made: the same object, keys in sorted order."""
    content = (
        f'{{"data":{data_json},"id":{_quote(str(event_id))},"metadata":{metadata_json},'
        f'"previous":{_quote(previous_hash)},"schema_version":{int(schema_version)!r},'
        f'"stream":{_quote(stream_id)},"type":{_quote(type_)},"version":{int(stream_version)!r}}}'
    )
    return hashlib.sha256(content.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainedEvent:
    """A new event with its version, hash and canonical JSON, ready to insert."""

    new: NewEvent
    event_id: str
    stream_version: int
    data: dict[str, Any]
    data_json: str
    metadata_json: str
    hash: str


def chain(
    stream_id: str, events: Sequence[NewEvent], *, head_version: int, head_hash: str
) -> list[ChainedEvent]:
    chained: list[ChainedEvent] = []
    previous = head_hash
    metadata_texts: dict[int, str] = {}
    for offset, new in enumerate(events, start=1):
        data = new.event.to_data()
        data_json = _data_json(new.event, data)
        if "e+" in data_json or "-0.0" in data_json:  # maybe floats jsonb would rewrite
            data = as_jsonb_reads_back(data)
            data_json = canonical_json(data)
        metadata_json = metadata_texts.get(id(new.metadata))
        if metadata_json is None:
            metadata = new.metadata
            metadata_json = canonical_dump(type(metadata), metadata.model_dump(mode="json"))
            metadata_texts[id(metadata)] = metadata_json
        version = head_version + offset
        event_id = str(new.event_id)
        previous = chain_hash(
            previous_hash=previous,
            event_id=event_id,
            stream_id=stream_id,
            stream_version=version,
            type_=new.event.type,
            schema_version=new.event.schema_version,
            data_json=data_json,
            metadata_json=metadata_json,
        )
        chained.append(
            ChainedEvent(new, event_id, version, data, data_json, metadata_json, previous)
        )
    return chained


def _data_json(event: Event, data: Any) -> str:
    """The canonical JSON of `event.to_data()`, which is the event's JSON-mode dump unless a
    subclass made its own."""
    if type(event).to_data is Event.to_data:
        return canonical_dump(type(event), data)
    return canonical_json(data)


def as_jsonb_reads_back(value: Any) -> Any:
    """`value` with the floats that come back from a jsonb column as other JSON turned into
    what comes back: floats of 1e16 and above print as `1e+16` but are stored as the integer
    they are, and -0.0 is stored as 0.0. Hashing what will be read back keeps `verify` true
    for such events (the hash is recomputed from the stored data)."""
    if isinstance(value, float):
        if value == 0.0:
            return 0.0
        if math.isfinite(value) and abs(value) >= 1e16:
            return int(value)
        return value
    if isinstance(value, dict):
        return {k: as_jsonb_reads_back(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_jsonb_reads_back(v) for v in value]
    return value


def event_rows(chained: Sequence[ChainedEvent]) -> str:
    """The events as one JSON array of rows [version, id, type, schema version, data, metadata,
    hash], made by joining the canonical JSON already computed: one parameter, parsed once by
    the server, instead of seven arrays the driver would encode element by element."""
    return "[" + ",".join(_row(c) for c in chained) + "]"


def _row(c: ChainedEvent) -> str:
    return (
        f'[{c.stream_version},"{c.event_id}",{_quote(c.new.event.type)},'
        f'{int(c.new.event.schema_version)},{c.data_json},{c.metadata_json},"{c.hash}"]'
    )

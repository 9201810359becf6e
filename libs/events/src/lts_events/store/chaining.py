"""Chaining new events onto a stream: versions, hashes, and the rows to insert them.

Each hash is exactly `lts_events.hashing.appended_hash` (property tests hold them equal) over
canonical JSON (RFC 8785, hash version 2; version 1 for an event whose data JCS cannot hold)
made once and also sent as the jsonb values: one serialisation per event instead of three.
Per event class, what does not change is found once (its type and schema version as JSON, its
pydantic serializer, where its dump may hold floats); per append, the stream and the metadata
parts the events share (`canonical.MetadataWriter`); per event, the data dump, its canonical
JSON (`canonical`: orjson where its bytes are JCS's), the id, the hash. `chain_hash` assembles
the same content from arguments, for callers with their own."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from json.encoder import encode_basestring
from typing import Any, NamedTuple
from uuid import UUID

from pydantic import BaseModel

from lts_events.envelope import NewEvent
from lts_events.event import Event
from lts_events.hashing import JCS_HASH, LEGACY_HASH, canonical_text
from lts_events.jcs import NotIJson
from lts_events.store.canonical import (
    MetadataWriter,
    canonical_dump,
    canonical_json,
    float_free_json,
)
from lts_events.store.schema_floats import float_fields

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


class ChainedEvent(NamedTuple):
    """A new event with its version, hash (of `hash_version`) and canonical JSON, ready to
    insert. A named tuple: one is made per appended event, in a third of a frozen dataclass's
    time."""

    new: NewEvent
    event_id: str
    stream_version: int
    data: dict[str, Any]
    data_json: str
    metadata_json: str
    hash: str
    hash_version: int


def chain(
    stream_id: str, events: Sequence[NewEvent], *, head_version: int, head_hash: str
) -> list[ChainedEvent]:
    """The events with versions after `head_version` and hashes chained from `head_hash`.
    Each hash covers `chain_hash`'s content, assembled here from parts made once per append
    (the stream, the metadata parts the events share) or once per event class (type, schema
    version); a property test holds the hashes equal to `event_hash`'s."""
    chained: list[ChainedEvent] = []
    stream_json = _quote(stream_id)
    previous_json = _quote(head_hash)
    metadata_texts: dict[int, str] = {}  # events appended together may share one Metadata
    metadata_writer = MetadataWriter()  # or, each their own, parts of it
    version = head_version
    for new in events:
        version += 1
        event = new.event
        plan = _plans.get(type(event)) or _plan(type(event))
        data, data_json, hash_version = _canonical_data(event, plan)
        metadata = new.metadata
        metadata_json = metadata_texts.get(id(metadata))
        if metadata_json is None:
            metadata_json = metadata_writer.text(metadata)
            metadata_texts[id(metadata)] = metadata_json
        if hash_version != JCS_HASH:  # the whole content in the legacy form
            metadata_json = canonical_text(metadata.model_dump(mode="json"), hash_version)
        event_id, id_json = _id_texts(new.event_id)
        content = (
            f'{{"data":{data_json},"id":{id_json},"metadata":{metadata_json},'
            f'"previous":{previous_json},"schema_version":{plan.schema_version_json},'
            f'"stream":{stream_json},"type":{plan.type_json},"version":{version!r}}}'
        )
        digest = _sha256(content.encode()).hexdigest()
        previous_json = f'"{digest}"'  # hex digits: nothing to escape
        chained.append(
            _new_chained(
                (new, event_id, version, data, data_json, metadata_json, digest, hash_version)
            )
        )
    return chained


_sha256 = hashlib.sha256
_new_chained: Callable[[tuple[Any, ...]], ChainedEvent] = partial(tuple.__new__, ChainedEvent)


def _id_texts(event_id: UUID | str) -> tuple[str, str]:
    """`str(event_id)` and its JSON; for a UUID, made as `UUID.__str__` makes it, without
    its method call, and quoted without escaping (hex digits and dashes)."""
    if type(event_id) is not UUID:
        text = str(event_id)
        return text, _quote(text)
    digits = event_id.int.to_bytes(16).hex()
    text = f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
    return text, f'"{text}"'


@dataclass(frozen=True, slots=True)
class _Plan:
    """What chaining an event class needs, found once: its type and schema version as JSON;
    its pydantic serializer when `to_data()` is its plain JSON-mode dump (called directly, it
    skips `model_dump`'s Python frame; None when a subclass changed `to_data` or `model_dump`);
    the top-level keys where floats may be (`float_fields`: empty, none at all; None,
    anywhere)."""

    type_json: str
    schema_version_json: str
    serializer: Any
    float_keys: frozenset[str] | None


_plans: dict[type[Event], _Plan] = {}


def _plan(event_class: type[Event]) -> _Plan:
    plain = event_class.to_data is Event.to_data and event_class.model_dump is BaseModel.model_dump
    plan = _Plan(
        type_json=_quote(event_class.type),
        schema_version_json=repr(int(event_class.schema_version)),
        serializer=event_class.__pydantic_serializer__ if plain else None,
        float_keys=float_fields(event_class),
    )
    _plans[event_class] = plan
    return plan


def _canonical_data(event: Event, plan: _Plan) -> tuple[dict[str, Any], str, int]:
    """`event.to_data()`, its canonical JSON and the hash version of that JSON: JCS, or the
    legacy form when JCS cannot hold a number of it (`jcs.NotIJson`)."""
    try:
        if plan.serializer is None:  # a to_data of its own: anything
            data = event.to_data()
            return data, canonical_json(data), JCS_HASH
        data = plan.serializer.to_python(event, mode="json")
        keys = plan.float_keys
        if keys is None:
            return data, canonical_json(data), JCS_HASH
        if not keys:  # no float anywhere
            return data, float_free_json(data), JCS_HASH
        return data, canonical_dump(type(event), data), JCS_HASH
    except NotIJson:
        data = as_jsonb_reads_back(event.to_data())
        return data, canonical_text(data, LEGACY_HASH), LEGACY_HASH


def as_jsonb_reads_back(value: Any) -> Any:
    """`value` with the floats that come back from a jsonb column as other JSON turned into
    what comes back: floats of 1e16 and above print as `1e+16` but are stored as the integer
    they are, and -0.0 is stored as 0.0. Hashing what will be read back keeps `verify` true
    for such events (the hash is recomputed from the stored data). Only the legacy form needs
    it: JCS writes those floats as jsonb gives them back."""
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


def event_rows(chained: Sequence[ChainedEvent]) -> tuple[str, str]:
    """The events as one JSON array of rows [version, id, type, schema version, data, metadata
    index, hash, hash version], and their distinct metadata as another JSON array, which the
    rows' metadata index points into. Both are joined from the canonical JSON already
    computed: one parameter each, parsed once by the server, instead of eight arrays the driver
    would encode element by element. Events appended together mostly share their metadata
    (`chain` makes its text once for them): sent once, it is neither sent nor parsed again per
    event (it was 40% of the bytes of a 50-event append)."""
    index: dict[str, int] = {}
    rows = []
    for c in chained:
        metadata = index.get(c.metadata_json)
        if metadata is None:
            metadata = index[c.metadata_json] = len(index)
        rows.append(_row(c, metadata))
    return "[" + ",".join(rows) + "]", "[" + ",".join(index) + "]"


def _row(c: ChainedEvent, metadata: int) -> str:
    return (
        f'[{c.stream_version},"{c.event_id}",{_quote(c.new.event.type)},'
        f'{int(c.new.event.schema_version)},{c.data_json},{metadata},"{c.hash}",'
        f"{c.hash_version}]"
    )

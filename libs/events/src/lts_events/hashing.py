"""The tamper-evident hash chain: each event's hash covers its content and the hash of the
previous event of the same stream (per-stream chains stay well defined under concurrent writers).
The reference every fast path is tested against; the algorithm is in docs/hash-chain.md.

An event's `hash_version` says which canonical JSON its hash covers:
- 1 (`LEGACY_HASH`): `json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`,
  what every event appended before hash versions existed was hashed with;
- 2 (`JCS_HASH`): RFC 8785 (`lts_events.jcs`), verifiable with any JCS library. Appends write
  it, unless the content holds a number JCS cannot (`jcs.NotIJson`): that event is version 1."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import UUID

from lts_events.jcs import NotIJson, jcs

GENESIS = "0" * 64  # the "previous" of a stream's first event
LEGACY_HASH = 1
JCS_HASH = 2
HASH_VERSIONS = (LEGACY_HASH, JCS_HASH)


def hashed_object(
    *,
    previous_hash: str,
    event_id: UUID | str,
    stream_id: str,
    stream_version: int,
    type_: str,
    schema_version: int,
    data: Any,
    metadata: Any,
) -> dict[str, Any]:
    """The JSON object an event's hash covers."""
    return {
        "previous": previous_hash,
        "id": str(event_id),
        "stream": stream_id,
        "version": stream_version,
        "type": type_,
        "schema_version": schema_version,
        "data": data,
        "metadata": metadata,
    }


def canonical_text(value: Any, hash_version: int) -> str:
    """`value` in the canonical JSON of `hash_version`."""
    if hash_version == JCS_HASH:
        return jcs(value)
    if hash_version == LEGACY_HASH:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    raise ValueError(f"unknown hash version {hash_version}")


def event_hash(
    *,
    previous_hash: str,
    event_id: UUID | str,
    stream_id: str,
    stream_version: int,
    type_: str,
    schema_version: int,
    data: Any,
    metadata: Any,
    hash_version: int = JCS_HASH,
) -> str:
    """SHA-256, as lower-case hex, of the UTF-8 canonical JSON of `hashed_object`."""
    content = hashed_object(
        previous_hash=previous_hash,
        event_id=event_id,
        stream_id=stream_id,
        stream_version=stream_version,
        type_=type_,
        schema_version=schema_version,
        data=data,
        metadata=metadata,
    )
    return hashlib.sha256(canonical_text(content, hash_version).encode()).hexdigest()


def appended_hash(
    *,
    previous_hash: str,
    event_id: UUID | str,
    stream_id: str,
    stream_version: int,
    type_: str,
    schema_version: int,
    data: Any,
    metadata: Any,
) -> tuple[int, str]:
    """The hash version and hash an append gives an event: JCS where it can hold the content."""
    arguments: dict[str, Any] = {
        "previous_hash": previous_hash,
        "event_id": event_id,
        "stream_id": stream_id,
        "stream_version": stream_version,
        "type_": type_,
        "schema_version": schema_version,
        "data": data,
        "metadata": metadata,
    }
    try:
        return JCS_HASH, event_hash(**arguments, hash_version=JCS_HASH)
    except NotIJson:
        return LEGACY_HASH, event_hash(**arguments, hash_version=LEGACY_HASH)

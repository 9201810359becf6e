"""The tamper-evident hash chain: each event's hash covers its content and the hash of the
previous event of the same stream (per-stream chains stay well defined under concurrent writers)."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import UUID

GENESIS = "0" * 64


def event_hash(
    *,
    previous_hash: str,
    event_id: UUID,
    stream_id: str,
    stream_version: int,
    type_: str,
    schema_version: int,
    data: dict[str, Any],
    metadata: dict[str, Any],
) -> str:
    content = json.dumps(
        {
            "previous": previous_hash,
            "id": str(event_id),
            "stream": stream_id,
            "version": stream_version,
            "type": type_,
            "schema_version": schema_version,
            "data": data,
            "metadata": metadata,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(content.encode()).hexdigest()

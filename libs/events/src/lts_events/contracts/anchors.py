"""Events every event store writes about itself (`lts_events.store.anchors`).

`ChainAnchored` pins the heads of every hash chain of one store at a settled point of it, signed,
in the store's own stream `chain-anchors`. It is relayed like any event, so the metrics audit
log keeps a copy outside the store: a store whose streams lost their tail, or that was restored
from an older backup, no longer matches its latest anchor (`lts store verify`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from lts_events.event import Event


class ChainAnchored(Event):
    type: ClassVar[str] = "lts.store.chain_anchored"
    store: str = Field(description="The anchored store: its PostgreSQL schema")
    streams: int = Field(ge=0, description="Streams with an event at or before the point")
    events: int = Field(ge=0, description="Events at or before the point (sum of head versions)")
    last_transaction_id: int = Field(description="The point: the transaction id of its event")
    last_position: int = Field(description="The point: the position of its event")
    digest: str = Field(
        description="SHA-256 (hex) over the heads at the point, one JSON line "
        '`["<stream>",<version>,"<hash>"]` per stream in stream id (code point) order'
    )
    key_id: str = Field(description="First 16 hex digits of SHA-256 of the signing key")
    signature: str = Field(description="HMAC-SHA256 (hex) of the fields above (store/anchors.py)")

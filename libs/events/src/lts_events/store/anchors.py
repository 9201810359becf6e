"""Chain anchors, decided: what an anchor pins, how it is signed, and what a store that no
longer matches its anchor has lost. Pure; the I/O is in `store/anchoring.py`.

The hash chains show an event changed in place, but not a stream whose last events were cut
off, nor a whole store restored from an older backup: what is left still chains. An anchor pins
the heads of every stream at a settled point of the store (every transaction that could commit
an event at or before it has ended, so the set of events up to it never changes again):

- `events` = the sum of the heads' versions (versions have no gaps) and `streams`;
- `digest` = SHA-256 over one line per head, `["<stream>",<version>,"<hash>"]` + newline
  (compact JSON, UTF-8), in stream id order by Unicode code point;
- `signature` = HMAC-SHA256, with the anchor key, of the JSON array
  `[store, streams, events, last_transaction_id, last_position, digest]` (compact).

A store matches an anchor when the heads of its events up to the anchor's point give the same
counts and digest. The HMAC key proves the anchor was written by a holder of the key (a service),
not forged by someone who could only write to the database; whoever verifies needs the key."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable

from lts_events.contracts.anchors import ChainAnchored
from lts_events.store.inspect import Head
from lts_events.store.port import Checkpoint

ANCHOR_STREAM = "chain-anchors"
"""The stream of a store's own anchors."""

STORE_FRACTION = 50
"""An anchor is due after `every_events` new events, or after a fiftieth of the events the last
anchor pinned when that is more (`events_before_anchor`)."""


def events_before_anchor(every_events: int, anchored_events: int) -> int:
    """New events after which an anchor is due, however long since the last. Writing one reads
    the head of every stream of the store, a cost that grows with the store; at a fixed count
    the cost per event appended would grow with it too (81 ms per anchor in a bench store of
    ~100,000 events, seconds at millions). At a fraction of the store it stays flat: about
    STORE_FRACTION rows read per event appended. The time trigger (`every_seconds`) is kept, so
    a large store is still anchored at least that often while events come."""
    return max(every_events, anchored_events // STORE_FRACTION)


def anchor_due(new: int, elapsed: float, *, threshold: int, every_seconds: float) -> bool:
    """Whether to anchor `new` settled events `elapsed` seconds after the last anchor."""
    return new > 0 and (new >= threshold or elapsed >= every_seconds)


def _line(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def heads_digest(heads: Iterable[Head]) -> str:
    """The digest of heads given in stream id order."""
    digest = hashlib.sha256()
    for head in heads:
        digest.update(_line([head.stream_id, head.stream_version, head.hash]) + b"\n")
    return digest.hexdigest()


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def _signed_part(store: str, streams: int, events: int, point: Checkpoint, digest: str) -> bytes:
    return _line([store, streams, events, point.transaction_id, point.position, digest])


def signature(
    key: bytes, store: str, streams: int, events: int, point: Checkpoint, digest: str
) -> str:
    return hmac.new(key, _signed_part(store, streams, events, point, digest), "sha256").hexdigest()


def anchor(store: str, heads: list[Head], point: Checkpoint, *, key: bytes) -> ChainAnchored:
    """The anchor of `store` at `point`, given the heads of its events up to it, in order."""
    streams, events, digest = len(heads), sum(h.stream_version for h in heads), heads_digest(heads)
    return ChainAnchored(
        store=store,
        streams=streams,
        events=events,
        last_transaction_id=point.transaction_id,
        last_position=point.position,
        digest=digest,
        key_id=key_id(key),
        signature=signature(key, store, streams, events, point, digest),
    )


def point_of(anchored: ChainAnchored) -> Checkpoint:
    return Checkpoint(anchored.last_transaction_id, anchored.last_position)


def signature_problem(anchored: ChainAnchored, key: bytes) -> str | None:
    """Why the anchor's signature is not one made with `key`, or None when it is."""
    expected = signature(
        key,
        anchored.store,
        anchored.streams,
        anchored.events,
        point_of(anchored),
        anchored.digest,
    )
    if hmac.compare_digest(expected, anchored.signature):
        return None
    return (
        f"signature does not match (signed with key id {anchored.key_id}, checked with "
        f"{key_id(key)}): forged, or another key"
    )


def mismatch(anchored: ChainAnchored, heads: list[Head]) -> str | None:
    """What the store lost since `anchored`, given its heads up to the anchor's point now; None
    when they still match."""
    events = sum(h.stream_version for h in heads)
    if (len(heads), events, heads_digest(heads)) == (
        anchored.streams,
        anchored.events,
        anchored.digest,
    ):
        return None
    if events < anchored.events or len(heads) < anchored.streams:
        return (
            f"the store holds {events} events in {len(heads)} streams up to the anchor's point, "
            f"the anchor {anchored.events} in {anchored.streams}: "
            f"{anchored.events - events} events lost (a stream's tail cut, or an older backup)"
        )
    return (
        f"the heads up to the anchor's point differ from the anchor's ({events} events in "
        f"{len(heads)} streams, as many as anchored): events replaced"
    )

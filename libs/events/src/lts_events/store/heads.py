"""Stream heads this process has seen: (version, hash) of a stream's last event.

An append chains its hashes from the head, so without a known head it must read it first (one
more round trip). A remembered head may be stale but never wrong: events are immutable, so the
event at (stream, version) always has the same hash, and the append statement only writes if
the stream is still at that version. A stale guess costs a re-read, never a bad chain."""

from __future__ import annotations

from lts_events.hashing import GENESIS
from lts_events.store.port import ANY, NO_STREAM, ExpectedVersion


class StreamHeads:
    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._heads: dict[str, tuple[int, str]] = {}

    def remember(self, stream_id: str, version: int, hash_: str) -> None:
        known = self._heads.pop(stream_id, None)
        if known is not None and known[0] > version:
            version, hash_ = known
        elif len(self._heads) >= self._capacity:
            del self._heads[next(iter(self._heads))]  # the least recently touched
        self._heads[stream_id] = (version, hash_)

    def guess(self, stream_id: str, expected: ExpectedVersion) -> tuple[int, str] | None:
        """The head to chain from without reading it, if `expected` and memory agree."""
        if expected == NO_STREAM:
            return 0, GENESIS
        known = self._heads.get(stream_id)
        if known is None or (expected != ANY and known[0] != expected):
            return None
        return known

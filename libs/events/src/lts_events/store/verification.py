"""Tamper evidence: re-walk each stream's hash chain and name the first event that breaks it.
Each event is checked in the canonical form of its own `hash_version` (docs/hash-chain.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

from lts_events.hashing import GENESIS, JCS_HASH, LEGACY_HASH, event_hash
from lts_events.jcs import loads_as_doubles


class StoredEvent(NamedTuple):
    """The columns of one stored event that its hash covers, plus where it sits; the data and
    metadata as the JSON text the database gives back."""

    position: int
    stream_id: str
    stream_version: int
    event_id: UUID
    type: str
    schema_version: int
    data: str
    metadata: str
    hash: str
    hash_version: int


@dataclass(frozen=True, slots=True)
class ChainBreak:
    position: int
    stream_id: str
    stream_version: int
    event_id: UUID
    reason: str

    def __str__(self) -> str:
        return (
            f"event {self.event_id} (position {self.position}, stream {self.stream_id!r} "
            f"version {self.stream_version}): {self.reason}"
        )


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """`checked` events in `streams` streams; `first_break` is the first event (in stream, then
    version order) whose hash does not match its content or whose version leaves a gap."""

    checked: int
    streams: int
    breaks: int = 0
    first_break: ChainBreak | None = None

    @property
    def ok(self) -> bool:
        return self.first_break is None


class ChainWalker:
    """Feed events ordered by (stream id, stream version); `report()` says what was found."""

    def __init__(self) -> None:
        self._checked = 0
        self._streams = 0
        self._breaks = 0
        self._first: ChainBreak | None = None
        self._stream: str | None = None
        self._version = 0
        self._previous = GENESIS

    def feed(self, event: StoredEvent) -> None:
        if event.stream_id != self._stream:
            self._stream, self._version, self._previous = event.stream_id, 0, GENESIS
            self._streams += 1
        self._checked += 1
        reason = self._problem(event)
        if reason is not None:
            self._breaks += 1
            if self._first is None:
                self._first = ChainBreak(
                    event.position, event.stream_id, event.stream_version, event.event_id, reason
                )
        self._version, self._previous = event.stream_version, event.hash

    def _problem(self, event: StoredEvent) -> str | None:
        if event.stream_version != self._version + 1:
            return f"version gap: expected version {self._version + 1}"
        if event.hash_version == JCS_HASH:
            return self._jcs_problem(event)
        if event.hash_version == LEGACY_HASH:
            return self._legacy_problem(event)
        return f"unknown hash version {event.hash_version}"

    def _jcs_problem(self, event: StoredEvent) -> str | None:
        try:
            data, metadata = loads_as_doubles(event.data), loads_as_doubles(event.metadata)
            if self._hash(event, data, metadata) == event.hash:
                return None
        except ValueError as error:  # a number JCS cannot hold, or no JSON at all
            return f"content not canonicalizable as RFC 8785 ({error})"
        return _MISMATCH

    def _legacy_problem(self, event: StoredEvent) -> str | None:
        data, metadata = json.loads(event.data), json.loads(event.metadata)
        if self._hash(event, data, metadata) == event.hash:
            return None
        # jsonb keeps numbers as decimals: a float of 1e16 or more comes back as the integer
        # it is. Appends now hash that integer (`chaining.as_jsonb_reads_back`); events
        # appended before hashed the float's `1e+16`: read such integers as floats again.
        data, metadata = _big_ints_as_floats(data), _big_ints_as_floats(metadata)
        if self._hash(event, data, metadata) == event.hash:
            return None
        return _MISMATCH

    def _hash(self, event: StoredEvent, data: Any, metadata: Any) -> str:
        return event_hash(
            previous_hash=self._previous,
            event_id=event.event_id,
            stream_id=event.stream_id,
            stream_version=event.stream_version,
            type_=event.type,
            schema_version=event.schema_version,
            data=data,
            metadata=metadata,
            hash_version=event.hash_version,
        )

    def report(self) -> VerifyReport:
        return VerifyReport(self._checked, self._streams, self._breaks, self._first)


_MISMATCH = "hash does not match the event's content and the previous event's hash"
_FLOAT_EXPONENT_FROM = 10**16  # from here on `repr(float)` uses an exponent


def _big_ints_as_floats(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _big_ints_as_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_big_ints_as_floats(item) for item in value]
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and abs(value) >= _FLOAT_EXPONENT_FROM
    ):
        return float(value)
    return value

"""Dead-lettered messages and the pure decisions about them: which a filter selects, and which
of those may be replayed given the replays already recorded. No I/O here."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from lts_events.kafka import header

# The facts the consumer runtime adds to a dead-lettered message (`consumer.dlq_headers` writes
# them by these names: their one home).
DLQ_PREFIX = "dlq_"
REASON = "dlq_reason"
ERROR_TYPE = "dlq_error_type"
ERROR = "dlq_error"
SOURCE_TOPIC = "dlq_source_topic"
SOURCE_PARTITION = "dlq_source_partition"
SOURCE_OFFSET = "dlq_source_offset"
CONSUMER = "dlq_consumer"
FAILED_AT = "dlq_failed_at"

Headers = tuple[tuple[str, bytes], ...]


class DlqRef(NamedTuple):
    """A message's place in the DLQ topic, written `partition:offset` (e.g. `0:17`)."""

    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.partition}:{self.offset}"

    @staticmethod
    def parse(text: str) -> DlqRef:
        partition, sep, offset = text.strip().partition(":")
        if not sep or not partition.isdigit() or not offset.isdigit():
            raise ValueError(f"{text!r} is not a DLQ reference PARTITION:OFFSET, e.g. 0:17")
        return DlqRef(int(partition), int(offset))


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """One record of the DLQ topic: the original message (key, value, headers) plus the `dlq_*`
    facts saying why, where from and when it failed."""

    ref: DlqRef
    key: bytes | None
    value: bytes | None
    headers: Headers
    timestamp: datetime  # Kafka's: when the record reached the DLQ

    def _fact(self, name: str) -> str | None:
        return header(self.headers, name)

    def _number(self, name: str) -> int | None:
        text = self._fact(name)
        return int(text) if text is not None and text.strip().isdigit() else None

    @property
    def reason(self) -> str:
        return self._fact(REASON) or "unknown"

    @property
    def error_type(self) -> str | None:
        return self._fact(ERROR_TYPE)

    @property
    def error(self) -> str | None:
        return self._fact(ERROR)

    @property
    def source_topic(self) -> str | None:
        return self._fact(SOURCE_TOPIC)

    @property
    def source_partition(self) -> int | None:
        return self._number(SOURCE_PARTITION)

    @property
    def source_offset(self) -> int | None:
        return self._number(SOURCE_OFFSET)

    @property
    def consumer(self) -> str | None:
        return self._fact(CONSUMER)

    @property
    def failed_at(self) -> datetime:
        """`dlq_failed_at`, else the record's timestamp (both in UTC)."""
        text = self._fact(FAILED_AT)
        try:
            return _utc(datetime.fromisoformat(text)) if text else self.timestamp
        except ValueError:
            return self.timestamp

    @property
    def message_id(self) -> str | None:
        """The CloudEvents id, which a replay keeps (consumers dedup on it)."""
        return self._fact("ce_id")

    @property
    def event_type(self) -> str | None:
        return self._fact("ce_type")

    @property
    def original_headers(self) -> Headers:
        """The headers the message had before it failed: every one but the `dlq_*` facts."""
        return tuple((k, v) for k, v in self.headers if not k.lower().startswith(DLQ_PREFIX))


@dataclass(frozen=True, slots=True)
class Replay:
    """A replay recorded in the ops store (a `DeadLetterReplayed` event)."""

    at: datetime
    by: str
    forced: bool


@dataclass(frozen=True)
class Selection:
    """Which DLQ messages a command works on: every criterion given must hold (an empty one
    is no constraint)."""

    refs: frozenset[DlqRef] = frozenset()
    topics: frozenset[str] = frozenset()
    reasons: frozenset[str] = frozenset()
    consumers: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    pending_only: bool = False

    @property
    def narrows(self) -> bool:
        """False when it selects every message (a replay then needs `--all`)."""
        criteria = (self.refs, self.topics, self.reasons, self.consumers, self.since, self.until)
        return self.pending_only or any(criteria)

    def matches(self, record: DeadLetterRecord, replays: Sequence[Replay] = ()) -> bool:
        return (
            (not self.refs or record.ref in self.refs)
            and (not self.topics or record.source_topic in self.topics)
            and (not self.reasons or record.reason in self.reasons)
            and (not self.consumers or record.consumer in self.consumers)
            and (self.since is None or record.failed_at >= self.since)
            and (self.until is None or record.failed_at < self.until)
            and not (self.pending_only and replays)
        )


def select(
    records: Iterable[DeadLetterRecord],
    selection: Selection,
    replays: Mapping[DlqRef, Sequence[Replay]],
) -> list[DeadLetterRecord]:
    """The selected records, in the order they failed (DLQ position breaks ties)."""
    chosen = [r for r in records if selection.matches(r, replays.get(r.ref, ()))]
    return sorted(chosen, key=lambda r: (r.failed_at, r.ref))


@dataclass(frozen=True)
class ReplayPlan:
    send: list[DeadLetterRecord] = field(default_factory=list)
    refused: list[tuple[DeadLetterRecord, Replay]] = field(default_factory=list)
    """Already replayed (with the latest replay), not sent again without `force`."""
    unreplayable: list[tuple[DeadLetterRecord, str]] = field(default_factory=list)


def plan_replay(
    selected: Sequence[DeadLetterRecord],
    replays: Mapping[DlqRef, Sequence[Replay]],
    *,
    force: bool,
) -> ReplayPlan:
    """What a replay sends: each selected message once, never one already replayed unless
    `force`, never one that does not say which topic it came from."""
    plan = ReplayPlan()
    for record in selected:
        earlier = replays.get(record.ref, ())
        if record.source_topic is None:
            plan.unreplayable.append((record, f"no {SOURCE_TOPIC} header"))
        elif earlier and not force:
            plan.refused.append((record, earlier[-1]))
        else:
            plan.send.append(record)
    return plan


_AGO = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_moment(text: str, *, now: datetime) -> datetime:
    """`--since`/`--until`: an ISO 8601 time (UTC when it names no offset) or a span before
    `now` such as `90m`, `2h`, `3d`."""
    ago = _AGO.fullmatch(text.strip().lower())
    if ago:
        return now - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
    try:
        return _utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an ISO 8601 time nor a span such as 90m, 2h, 3d"
        ) from None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

"""The audit log: every event of every `lts.*.events` topic, copied into the metrics store.

How a copy is kept (decided here, see the README of the service):
- stream `<source service>:<subject>` (e.g. `triage:ticket-123`; the service comes from the topic
  `lts.<service>.events`), so one ticket's history per producer stays in the producer's order;
- the original event id (the CloudEvents `id`; a non-UUID id becomes a UUIDv5 of source + id), the
  original type and schema version, and the original data, byte for byte the same JSON, even when
  the type is unknown to this build (a future service's events are still audited);
- the original actor, reason, correlation, causation and trace context as the record's metadata;
- the envelope-only facts (CloudEvents `source`, `subject`, `time`, stream version, and where it
  came from on Kafka) in the side table `audit_envelopes`, written in the same transaction; the
  original event id is unique in the store, so a redelivered message appends nothing
  (`audit_tables`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, NamedTuple, cast
from uuid import NAMESPACE_URL, UUID, uuid5

from lts_events._fast import extra_carrier
from lts_events.envelope import Envelope, NewEvent
from lts_events.event import Event, JsonDict
from lts_events.kafka import events_topic
from pydantic import ConfigDict

CONSUMER = "metrics"


class AuditedEvent(Event):
    """Carries an event's original data unchanged into the store, whatever its type: `type` and
    `schema_version` are set per original type on a subclass that is never registered, so the
    registry keeps decoding the real classes on read. Its data is the original dict itself
    (`to_data`): the store makes its canonical JSON from it without dumping a copy."""

    model_config = ConfigDict(frozen=True, extra="allow")

    def to_data(self) -> JsonDict:
        return cast("JsonDict", self.__pydantic_extra__)


# The data of a decoded envelope is a JSON object already (`Envelope.data`): validating it
# again as an AuditedEvent checks nothing, copies it, and the store then dumped the copy.
_carrying = extra_carrier(AuditedEvent)


@cache
def audited_class(type_: str, schema_version: int) -> type[AuditedEvent]:
    cls = cast(
        "type[AuditedEvent]", type(f"Audited[{type_}@{schema_version}]", (AuditedEvent,), {})
    )
    cls.type = type_  # set after creation: `__init_subclass__` does not register it
    cls.schema_version = schema_version
    return cls


class EnvelopeFacts(NamedTuple):
    """What the envelope says beyond the event itself: the `audit_envelopes` row, its values in
    the order of `COLUMNS` (a named tuple: the statement takes it as it is, and one is made per
    audited event, in a third of a frozen dataclass's time)."""

    event_id: UUID
    ce_id: str
    ce_source: str
    service: str
    subject: str | None
    occurred_at: datetime
    stream_version: int | None
    topic: str
    partition: int | None
    offset: int | None

    @property
    def stream_id(self) -> str:
        return audit_stream(self.service, self.subject or self.ce_id)

    def row(self) -> dict[str, Any]:
        return dict(zip(COLUMNS, self, strict=True))


COLUMNS = (
    "event_id",
    "ce_id",
    "ce_source",
    "service",
    "subject",
    "occurred_at",
    "stream_version",
    "topic",
    "kafka_partition",
    "kafka_offset",
)
"""The `audit_envelopes` columns `EnvelopeFacts` holds, in its order."""


SEPARATOR = ":"
"""Between the producing service and its stream id in an audit stream id."""


def audit_stream(service: str, subject: str) -> str:
    """The audit log's stream of a producer's stream (its CloudEvents subject)."""
    return f"{service}{SEPARATOR}{subject}"


def topic_of(service: str, *, namespace: str = "") -> str:
    """The topic a service publishes on (the inverse of `service_of`)."""
    return f"{namespace}{events_topic(service)}"


def service_of(topic: str) -> str:
    """`lts.triage.events` (or a namespaced `<ns>.lts.triage.events`) -> `triage`; any other
    topic name is kept whole."""
    parts = topic.split(".")
    if len(parts) >= 3 and parts[-3] == "lts" and parts[-1] == "events":
        return parts[-2]
    return topic


_service_of = cache(service_of)  # a consumer reads a handful of topics, a message at a time


def event_id_of(envelope: Envelope) -> UUID:
    try:
        return UUID(envelope.id)
    except ValueError:
        return uuid5(NAMESPACE_URL, f"{envelope.source}/{envelope.id}")


def facts_of(
    envelope: Envelope,
    *,
    topic: str,
    partition: int | None = None,
    offset: int | None = None,
    received_at: datetime | None = None,
) -> EnvelopeFacts:
    return EnvelopeFacts(
        event_id=event_id_of(envelope),
        ce_id=envelope.id,
        ce_source=envelope.source,
        service=_service_of(topic),
        subject=envelope.subject,
        occurred_at=envelope.time or received_at or datetime.now(UTC),
        stream_version=envelope.streamversion,
        topic=topic,
        partition=partition,
        offset=offset,
    )


def audit_copy(envelope: Envelope, facts: EnvelopeFacts) -> NewEvent:
    """The event to append to the metrics store for one received envelope."""
    cls = audited_class(envelope.type, envelope.schema_version)
    return NewEvent.of(_carrying(cls, envelope.data), envelope.metadata(), event_id=facts.event_id)


def lanes_of(
    entries: Sequence[tuple[EnvelopeFacts, NewEvent]], *, lanes: int
) -> list[list[tuple[EnvelopeFacts, NewEvent]]]:
    """`entries` shared out among at most `lanes` lists of about the same size, each stream's
    entries whole in one of them and in their order, so that lanes written at once never
    chain onto the same stream."""
    streams: dict[str, list[tuple[EnvelopeFacts, NewEvent]]] = {}
    for entry in entries:
        streams.setdefault(entry[0].stream_id, []).append(entry)
    shared: list[list[tuple[EnvelopeFacts, NewEvent]]] = [[] for _ in range(max(1, lanes))]
    for stream in sorted(streams.values(), key=len, reverse=True):
        min(shared, key=len).extend(stream)
    return [lane for lane in shared if lane]

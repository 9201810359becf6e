"""What travels with an event: metadata at append, the stored record, and the CloudEvents 1.0
envelope used on Kafka (binary content mode: attributes as `ce_*` headers, data as the value)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, InstanceOf

from lts_events._fast import json_loads, slot_setter, trusted_constructor
from lts_events.actors import Actor, Role
from lts_events.event import REGISTRY, Event, JsonDict
from lts_events.ids import uuid4, uuid7

SPEC_VERSION = "1.0"
JSON = "application/json"
_STRUCTURED = "application/cloudevents"  # the media types of the event formats


class Metadata(BaseModel):
    """Audit and tracing facts recorded with every event: who, why, and in answer to what."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    actor: Actor
    reason: str | None = None
    correlation_id: str = Field(default_factory=lambda: str(uuid4()))
    causation_id: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None

    def caused_by(self, *, event_id: str, actor: Actor, reason: str | None = None) -> Metadata:
        """Metadata for an event that follows from `event_id`, keeping the correlation."""
        return Metadata(
            actor=actor,
            reason=reason,
            correlation_id=self.correlation_id,
            causation_id=event_id,
            traceparent=self.traceparent,
            tracestate=self.tracestate,
        )

    @staticmethod
    def trusted(
        *,
        actor: Actor,
        reason: str | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        traceparent: str | None = None,
        tracestate: str | None = None,
    ) -> Metadata:
        """The Metadata `Metadata(...)` makes of values already valid (a validated Actor, str
        or None), without validating them again: validation costs more than the rest of making
        an event to append. Without a correlation id a new correlation starts, as by default.
        Every field counts as set, as in metadata read back from the store. A test checks it
        equals the validated model."""
        return _trusted_metadata(
            {
                "actor": actor,
                "reason": reason,
                "correlation_id": str(uuid4()) if correlation_id is None else correlation_id,
                "causation_id": causation_id,
                "traceparent": traceparent,
                "tracestate": tracestate,
            }
        )


_trusted_metadata = trusted_constructor(Metadata)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event about to be appended, with its metadata and a pre-assigned id."""

    event: Event
    metadata: Metadata
    event_id: UUID = field(default_factory=uuid7)  # time-ordered: see lts_events.ids

    @staticmethod
    def of(event: Event, metadata: Metadata, *, event_id: UUID | None = None) -> NewEvent:
        """`NewEvent(event, metadata, event_id or a new time-ordered id)`, set slot by slot: the
        frozen dataclass's `__init__` goes through `object.__setattr__`, twice as slow."""
        new = _new(NewEvent)
        _set_event(new, event)
        _set_metadata(new, metadata)
        _set_event_id(new, uuid7() if event_id is None else event_id)
        return new


_new = object.__new__
_set_event = slot_setter(NewEvent, "event")
_set_metadata = slot_setter(NewEvent, "metadata")
_set_event_id = slot_setter(NewEvent, "event_id")


class RecordedEvent(BaseModel):
    """An event as the store holds it. `data` is raw JSON; `event` decodes it (with upcasting)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    stream_id: str
    stream_version: int
    position: int
    transaction_id: int
    type: str
    schema_version: int
    data: JsonDict
    metadata: Metadata
    recorded_at: datetime
    hash: str

    @property
    def event(self) -> Event:
        return REGISTRY.decode(self.type, self.schema_version, self.data)

    def to_envelope(self, *, source: str) -> Envelope:
        return Envelope(
            id=str(self.event_id),
            source=source,
            type=self.type,
            subject=self.stream_id,
            time=self.recorded_at,
            data=self.data,
            correlationid=self.metadata.correlation_id,
            causationid=self.metadata.causation_id,
            streamversion=self.stream_version,
            schemaversion=self.schema_version,
            actorid=self.metadata.actor.id,
            actorrole=self.metadata.actor.role,
            reason=self.metadata.reason,
            traceparent=self.metadata.traceparent,
            tracestate=self.metadata.tracestate,
        )


_ROLES = frozenset(role.value for role in Role)


class Envelope(BaseModel):
    """A CloudEvents 1.0 event. Extension attribute names are lower-case alphanumerics, as the
    spec requires; `traceparent`/`tracestate` are the spec's distributed-tracing extension.
    Unknown extensions from other producers are kept, as the spec asks of consumers."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    subject: str | None = None
    # RFC 3339 (the spec's Timestamp) requires an offset: a naive time is refused, not guessed.
    time: AwareDatetime | None = None
    datacontenttype: str = JSON
    # Checked as a dict and kept as it is: validating it as `JsonDict` copied it key by key
    # (every consumer decodes every message through here; the JSON schema is the same).
    data: InstanceOf[JsonDict]
    correlationid: str | None = None
    causationid: str | None = None
    streamversion: int | None = None
    schemaversion: int = 1
    actorid: str | None = None
    actorrole: str | None = None  # a Role of ours; kept as text so other producers' roles decode
    reason: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None

    @property
    def event(self) -> Event:
        return REGISTRY.decode(self.type, self.schema_version, self.data)

    @property
    def schema_version(self) -> int:
        return self.schemaversion

    @property
    def actor(self) -> Actor | None:
        if self.actorid is None or self.actorrole not in _ROLES:
            return None
        return _actor(self.actorid, self.actorrole)

    def metadata(self) -> Metadata:
        """The metadata the event was stored with, as far as the envelope carries it: made of
        attributes validated as the envelope was (strings or None, the actor validated by
        `actor`), so not validated again (the metrics audit log makes one per event)."""
        return Metadata.trusted(
            actor=self.actor or Actor(id=self.source, role=Role.AUTOMATION),
            reason=self.reason,
            correlation_id=self.correlationid or self.id,
            causation_id=self.causationid,
            traceparent=self.traceparent,
            tracestate=self.tracestate,
        )

    @staticmethod
    def from_kafka(value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> Envelope:
        """Decode either CloudEvents content mode: binary (`ce_*` headers) or structured (a
        `content-type` starting with `application/cloudevents`, in any case, and a JSON value
        holding every attribute and `data` or `data_base64`)."""
        # One pass over the headers (names case-insensitive, the last of a name wins, every
        # value UTF-8): a dict of every header, then one of the attributes, cost twice as much.
        attributes: dict[str, Any] = {}
        content_type = JSON
        for key, raw in headers:
            name, text = key.lower(), raw.decode("utf-8")
            if name[:3] == "ce_":
                attributes[name[3:]] = text
            elif name == "content-type":
                content_type = text
        # Kafka binding §3: the media type is matched case-insensitively (lowered only when
        # it is not our own `application/json`).
        if content_type != JSON and content_type[:23].lower() == _STRUCTURED:
            return Envelope.model_validate(_structured(_json_object(value), None))
        data = _json_object(value)
        if "specversion" not in attributes and "specversion" in data and "id" not in attributes:
            # No `ce_specversion` nor `ce_id`: no binary-mode CloudEvent, but a JSON event
            # format document sent with the data's content type (sdk-python's Kafka
            # `to_structured`): read as structured mode.
            return Envelope.model_validate(_structured(data, content_type))
        attributes["datacontenttype"] = content_type
        attributes["data"] = data
        return Envelope.model_validate(attributes)


@lru_cache(maxsize=4096)
def _actor(actor_id: str, role: str) -> Actor:
    """The actor of an envelope's attributes, validated once per (id, role): a consumer decodes
    thousands of envelopes from a handful of actors (an Actor was 2.4 µs to validate; the metrics
    audit log makes one per event). Actor is frozen, so one instance can be shared."""
    return Actor(id=actor_id, role=Role(role))


def _json_object(value: bytes | None) -> JsonDict:
    if not value:
        raise ValueError("data: the message has no body (a CloudEvent without data)")
    try:
        decoded = json_loads(value)
    except ValueError as error:
        raise ValueError(f"data: not JSON ({error})") from None
    if not isinstance(decoded, dict):
        raise ValueError(f"data: event data must be a JSON object, got {type(decoded).__name__}")
    return decoded


def _structured(document: JsonDict, content_type: str | None) -> JsonDict:
    """The attributes of a JSON event format document, its `data` a JSON object. A member
    whose value is null is unset (JSON format §2.2). `data_base64` (JSON format §3.1.1: the
    data is binary) is decoded and read as JSON when `datacontenttype` declares JSON or is
    absent, as binary mode reads a value. `content_type` is the data's content type when the
    document came without the structured media type and carries no `datacontenttype`."""
    document = {name: value for name, value in document.items() if value is not None}
    if content_type is not None:
        document.setdefault("datacontenttype", content_type)
    if "data_base64" in document:
        document["data"] = _base64_data(document)
    if not isinstance(document.get("data"), dict):
        raise ValueError("data: a structured CloudEvent must carry a JSON object in `data`")
    return document


def _base64_data(document: JsonDict) -> JsonDict:
    if "data" in document:
        raise ValueError("data, data_base64: a CloudEvent carries one of them, not both")
    content_type = document.get("datacontenttype", JSON)
    if not isinstance(content_type, str) or not _is_json(content_type):
        raise ValueError(
            f"data_base64: event data must be JSON, not datacontenttype {content_type!r}"
        )
    encoded = document.pop("data_base64")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (TypeError, ValueError):
        raise ValueError("data_base64: not a Base64 string") from None
    try:
        return _json_object(raw)
    except ValueError as error:
        raise ValueError(f"data_base64: {error}") from None


def _is_json(content_type: str) -> bool:
    """Whether a media type declares JSON (JSON format §3.1.1): `*/json` or `*/*+json`,
    parameters stripped."""
    subtype = content_type.partition(";")[0].strip().lower().rpartition("/")[2]
    return subtype == "json" or subtype.endswith("+json")

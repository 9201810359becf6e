"""The delivery outbox of the comms service (topic `lts.comms.events`). Owned by the comms
service's delivery part (`lts_comms.delivery`).

A released revision (`documents.DocumentReleased`) is planned into deliveries, one per
(document revision, channel, recipient): `DeliveriesPlanned` in the revision's outbox stream
(`outbox_stream`). Each delivery then lives in its own stream (`delivery_stream`):
`DeliveryAttempted` is stored before anything is sent, then `DeliverySucceeded`, or
`DeliveryFailed` (a transient failure is retried at `retry_at`), or, after the last try or on a
permanent failure, `DeliveryGaveUp` with the reason. Every attempt of one delivery carries the
same `idempotency_key`: the mail's Message-ID, the webhook's `Idempotency-Key` header and
CloudEvent id, so a re-send after a restart is recognisable as the same message."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from lts_events.contracts.comms.documents import Audience, DocumentId, DocumentKind
from lts_events.event import Event


class Channel(StrEnum):
    """How a delivery travels: mail over SMTP, a chat incoming webhook (Slack, Mattermost,
    Microsoft Teams Workflows), or a generic webhook receiving a signed CloudEvent."""

    EMAIL = "email"
    SLACK = "slack"
    MATTERMOST = "mattermost"
    TEAMS = "teams"
    WEBHOOK = "webhook"


class DeliveryTarget(BaseModel):
    """Where one delivery goes. `recipient` is a mail address, or the configured name of a
    webhook (never its URL, which may hold a secret)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: Channel
    recipient: str
    audience: Audience


class DeliveriesPlanned(Event):
    """The deliveries a released revision calls for (empty when no channel is configured for
    its kind and audience)."""

    type: ClassVar[str] = "lts.comms.deliveries_planned"

    document_id: DocumentId
    kind: DocumentKind
    revision: int = Field(ge=1)
    audience: Audience
    targets: tuple[DeliveryTarget, ...]
    planned_at: datetime


class DeliveryAttempted(Event):
    """An attempt, stored before it is sent. `resends_unconfirmed` is true when the previous
    attempt was stored but its outcome never was (the service stopped mid-send): this attempt
    sends the same message again, with the same idempotency key."""

    type: ClassVar[str] = "lts.comms.delivery_attempted"

    delivery_id: str
    document_id: DocumentId
    revision: int = Field(ge=1)
    target: DeliveryTarget
    attempt: int = Field(ge=1)
    idempotency_key: str
    resends_unconfirmed: bool = False
    attempted_at: datetime


class DeliverySucceeded(Event):
    """The channel accepted the message (`response`: the SMTP reply or the HTTP status)."""

    type: ClassVar[str] = "lts.comms.delivery_succeeded"

    delivery_id: str
    attempt: int = Field(ge=1)
    response: str
    delivered_at: datetime


class DeliveryFailed(Event):
    """An attempt that failed transiently; the next one is due at `retry_at`."""

    type: ClassVar[str] = "lts.comms.delivery_failed"

    delivery_id: str
    attempt: int = Field(ge=1)
    reason: str
    retry_at: datetime
    failed_at: datetime


class DeliveryGaveUp(Event):
    """No more attempts: the last one failed permanently, or `attempts` transient failures."""

    type: ClassVar[str] = "lts.comms.delivery_gave_up"

    delivery_id: str
    attempts: int = Field(ge=0)
    reason: str
    gave_up_at: datetime


def outbox_stream(document_id: DocumentId, revision: int, audience: Audience) -> str:
    """The stream planning the deliveries of one released revision."""
    return f"outbox-{document_id}-r{revision}-{audience.value}"


def delivery_stream(delivery_id: str) -> str:
    """The stream of one delivery's attempts and outcome."""
    return f"delivery-{delivery_id}"

"""Adoption inputs: download counts from the package channel (CloudEvents on
`lts.inbound.adoption`) and telemetry pings of running deployments (`POST /telemetry/ping`),
stored as events of the metrics store (`lts_events.contracts.metrics`) and projected into
`adoption_counts`.

Nothing personal is kept: the stored events hold a package, a version, a count and a time; the
ping route reads no address, header or cookie, and its requests are logged without the client's
address (`ForgetTelemetryClients`)."""

from __future__ import annotations

import logging
from datetime import datetime

from lts_events.actors import Actor, Role
from lts_events.consumer import PermanentError, RawMessage
from lts_events.contracts.metrics import (
    PACKAGE_PATTERN,
    VERSION_PATTERN,
    DownloadsCounted,
    TelemetryPingReceived,
    adoption_stream,
)
from lts_events.envelope import Envelope, Metadata, NewEvent
from lts_events.store import ANY, EventStore, ProcessedMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lts_metrics.audit import CONSUMER

TELEMETRY_PATH = "/telemetry/ping"
TELEMETRY = Actor(id="telemetry", role=Role.AUTOMATION)


def downloads_of(message: RawMessage) -> tuple[Envelope, DownloadsCounted]:
    """The CloudEvent and the downloads it reports (`data`: package, version, count and
    optionally time, else the event's `time`), or `PermanentError` saying what is wrong."""
    try:
        envelope = Envelope.from_kafka(message.value, message.headers)
    except (ValueError, ValidationError) as error:
        raise PermanentError(f"not a CloudEvent: {_short(error)}") from None
    data = envelope.data
    try:
        event = DownloadsCounted.model_validate(
            {
                "package": data.get("package"),
                "version": data.get("version"),
                "count": data.get("count"),
                "counted_at": data.get("time") or envelope.time,
                "origin": envelope.source[:200],
            }
        )
    except ValidationError as error:
        raise PermanentError(
            f"CloudEvent {envelope.id} does not report downloads: {_short(error)}"
        ) from None
    if event.counted_at.tzinfo is None:
        raise PermanentError(f"CloudEvent {envelope.id}: the time has no time zone")
    return envelope, event


def _short(error: Exception) -> str:
    return str(error).replace("\n", " ")[:500]


class PingIn(BaseModel):
    """What a deployment sends: which package and version it runs. Nothing else is accepted."""

    model_config = ConfigDict(extra="forbid")

    package: str = Field(pattern=PACKAGE_PATTERN)
    version: str = Field(pattern=VERSION_PATTERN)


class AdoptionInbox:
    """Appends adoption inputs to the metrics store, each once."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    async def on_downloads(self, message: RawMessage) -> None:
        envelope, event = downloads_of(message)
        metadata = Metadata(
            actor=Actor(id=event.origin, role=Role.AUTOMATION),
            reason=f"downloads reported by {envelope.type}",
            causation_id=envelope.id,
            traceparent=envelope.traceparent,
            tracestate=envelope.tracestate,
        )
        await self._store.append(
            adoption_stream("downloads", event.package),
            [NewEvent.of(event, metadata)],
            expected_version=ANY,
            processed=ProcessedMessage(CONSUMER, f"adoption/{message.message_id}"),
        )

    async def ping(self, ping: PingIn, *, at: datetime) -> None:
        event = TelemetryPingReceived(package=ping.package, version=ping.version, received_at=at)
        await self._store.append(
            adoption_stream("pings", ping.package),
            [NewEvent.of(event, Metadata(actor=TELEMETRY, reason="telemetry ping"))],
            expected_version=ANY,
        )


class ForgetTelemetryClients(logging.Filter):
    """For `uvicorn.access`, whose records carry (client, method, path, http version, status):
    a telemetry ping is logged without the client's address."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and str(args[2]).startswith(TELEMETRY_PATH):
            record.args = ("-", *args[1:])
        return True


def forget_telemetry_clients(logger_name: str = "uvicorn.access") -> None:
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, ForgetTelemetryClients) for f in logger.filters):
        logger.addFilter(ForgetTelemetryClients())

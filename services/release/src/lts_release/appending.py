"""How the release service's shells append: decided events with their actor and reason, the
message or timer they answer (so a redelivery is a no-op) and the trace they belong to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lts_events.actors import Actor, automation
from lts_events.consumer import Inbound
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.store.port import (
    AppendResult,
    EventStore,
    ExpectedVersion,
    ProcessedMessage,
    Timer,
)
from lts_events.telemetry import current_traceparent

SERVICE = automation("release")


@dataclass(frozen=True, slots=True)
class Outcome:
    """A decided event, who decided it and why."""

    event: Event
    actor: Actor = SERVICE
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a decision came from, for the events' metadata and idempotency."""

    processed: ProcessedMessage | None = None
    fired_timer: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None

    @property
    def answers_something(self) -> bool:
        """An answer to a message or a timer is appended even when empty: it marks it done."""
        return self.processed is not None or self.fired_timer is not None


NO_ORIGIN = Origin()  # a request over HTTP: nothing to record as processed


def origin_of(inbound: Inbound[Event], *, part: str | None = None) -> Origin:
    """The origin of an answer to `inbound`. One message answered on several streams is
    recorded once per stream: `part` (e.g. the line) makes each its own processed id."""
    envelope = inbound.envelope
    processed = inbound.processed
    if part is not None:
        processed = ProcessedMessage(processed.consumer, f"{processed.message_id}:{part}")
    return Origin(
        processed=processed,
        correlation_id=envelope.correlationid or envelope.id,
        causation_id=envelope.id,
        traceparent=current_traceparent() or envelope.traceparent,
    )


def fired(timer: Timer) -> Origin:
    return Origin(fired_timer=timer.timer_id)


async def append(
    store: EventStore,
    stream_id: str,
    outcomes: Sequence[Outcome],
    *,
    version: ExpectedVersion,
    origin: Origin = NO_ORIGIN,
    schedule: Sequence[Timer] = (),
) -> AppendResult:
    traceparent = origin.traceparent or current_traceparent()
    events = [
        NewEvent.of(
            outcome.event,
            Metadata.trusted(
                actor=outcome.actor,
                reason=outcome.reason,
                correlation_id=origin.correlation_id,
                causation_id=origin.causation_id,
                traceparent=traceparent,
            ),
        )
        for outcome in outcomes
    ]
    return await store.append(
        stream_id,
        events,
        expected_version=version,
        processed=origin.processed,
        schedule=schedule,
        fired_timer=origin.fired_timer,
    )

"""The shell that records CI results: each observation appended as a `CiResultRecorded` to its
branch's stream, with its delivery id as the processed message, so whatever arrives twice (a
redelivered webhook, a CloudEvent read again, the same report uploaded again) is recorded once.
The HTTP routes and the `lts.inbound.ci` subscriber both end here."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from lts_events.actors import Actor, Role
from lts_events.clock import Clock
from lts_events.consumer import PermanentError, RawMessage
from lts_events.contracts.release.ci import CiResultRecorded, ci_stream
from lts_events.envelope import Envelope, Metadata, NewEvent
from lts_events.store.port import ANY, EventStore, ProcessedMessage
from lts_events.telemetry import current_traceparent
from pydantic import ValidationError

from lts_release.ci import cloudevents
from lts_release.ci.errors import BadInput
from lts_release.ci.gates import GateMap
from lts_release.ci.observation import Observation
from lts_release.ci.recording import recorded
from lts_release.ci.reports import ReportPolicy

log = logging.getLogger(__name__)
CONSUMER = "release.ci"  # the processed-message namespace of every CI delivery id


@dataclass(frozen=True, slots=True)
class Recorded:
    """What became of one observation: its event, and whether it was already recorded."""

    event: CiResultRecorded
    duplicate: bool


@dataclass(frozen=True)
class CiRecorder:
    store: EventStore
    gates: GateMap
    policy: ReportPolicy
    clock: Clock

    async def record(
        self, observations: Sequence[Observation], *, delivery: str, metadata: Metadata
    ) -> list[Recorded]:
        now = self.clock()
        results = []
        for observation in observations:
            event = recorded(observation, delivery=delivery, gates=self.gates, now=now)
            appended = await self.store.append(
                ci_stream(event.branch),
                [NewEvent.of(event, metadata)],
                expected_version=ANY,
                processed=ProcessedMessage(CONSUMER, event.delivery_id),
            )
            results.append(Recorded(event, appended.duplicate))
        return results

    async def on_inbound(self, message: RawMessage) -> None:
        """A CloudEvent of `lts.inbound.ci`; what can never be recorded goes to the DLQ with
        the reason (`PermanentError`), what carries no CI result is skipped."""
        envelope = _envelope(message)
        try:
            delivery, observations = cloudevents.observe(envelope, self.policy)
        except cloudevents.Ignored as ignored:
            log.info("CloudEvent %s skipped: %s", envelope.id, ignored)
            return
        except BadInput as error:
            raise PermanentError(f"CloudEvent {envelope.id} ({envelope.type}): {error}") from None
        metadata = Metadata(
            actor=Actor(id=envelope.source[:200], role=Role.AUTOMATION),
            reason=f"CI result {envelope.type}"[:500],
            correlation_id=envelope.correlationid or envelope.id,
            causation_id=envelope.id,
            traceparent=current_traceparent() or envelope.traceparent,
            tracestate=envelope.tracestate,
        )
        await self.record(observations, delivery=delivery, metadata=metadata)


def _envelope(message: RawMessage) -> Envelope:
    try:
        return Envelope.from_kafka(message.value, message.headers)
    except (ValueError, ValidationError) as error:
        reason = str(error).replace("\n", " ")[:500]
        raise PermanentError(f"not a CloudEvent: {reason}") from None

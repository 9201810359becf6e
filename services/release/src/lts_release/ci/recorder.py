"""The shell that records CI results: each observation appended as a `CiResultRecorded` to its
branch's stream, with its delivery id as the processed message, so whatever arrives twice (a
redelivered webhook, a CloudEvent read again, the same report uploaded again) is recorded once.
The HTTP routes and the `lts.inbound.ci` subscriber both end here."""

from __future__ import annotations

import asyncio
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


# Streams appended to at once: the store's group commit writes their appends together.
_CONCURRENT_STREAMS = 64


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
        events = [recorded(o, delivery=delivery, gates=self.gates, now=now) for o in observations]
        return await self._append([(event, metadata) for event in events])

    async def on_inbound_batch(self, messages: Sequence[RawMessage]) -> list[PermanentError | None]:
        """A Kafka batch of `lts.inbound.ci` at once (one verdict per message): what can never
        be recorded goes to the DLQ with the reason (`PermanentError`), what carries no CI
        result is skipped, the rest is appended together (`_append`)."""
        now = self.clock()
        verdicts: list[PermanentError | None] = []
        work: list[tuple[CiResultRecorded, Metadata]] = []
        for message in messages:
            try:
                decoded = self._decoded(message)
            except PermanentError as error:
                verdicts.append(error)
                continue
            verdicts.append(None)
            if decoded is None:
                continue
            delivery, observations, metadata = decoded
            work += [
                (recorded(o, delivery=delivery, gates=self.gates, now=now), metadata)
                for o in observations
            ]
        await self._append(work)
        return verdicts

    def _decoded(self, message: RawMessage) -> tuple[str, list[Observation], Metadata] | None:
        """The delivery id, observations and metadata of one CloudEvent; None when it carries
        no CI result."""
        envelope = _envelope(message)
        try:
            delivery, observations = cloudevents.observe(envelope, self.policy)
        except cloudevents.Ignored as ignored:
            log.info("CloudEvent %s skipped: %s", envelope.id, ignored)
            return None
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
        return delivery, observations, metadata

    async def _append(self, work: Sequence[tuple[CiResultRecorded, Metadata]]) -> list[Recorded]:
        """One append per result, each with its delivery id as the processed message: a
        branch's in the order given, the branches' concurrently (their appends share
        statements in the store's group commit)."""
        streams: dict[str, list[int]] = {}
        for index, (event, _) in enumerate(work):
            streams.setdefault(ci_stream(event.branch), []).append(index)
        duplicate = [False] * len(work)
        limit = asyncio.Semaphore(_CONCURRENT_STREAMS)

        async def in_order(stream: str, indexes: list[int]) -> None:
            async with limit:
                for index in indexes:
                    event, metadata = work[index]
                    appended = await self.store.append(
                        stream,
                        [NewEvent.of(event, metadata)],
                        expected_version=ANY,
                        processed=ProcessedMessage(CONSUMER, event.delivery_id),
                    )
                    duplicate[index] = appended.duplicate

        await asyncio.gather(*(in_order(s, indexes) for s, indexes in streams.items()))
        return [Recorded(event, duplicate[i]) for i, (event, _) in enumerate(work)]


def _envelope(message: RawMessage) -> Envelope:
    try:
        return Envelope.from_kafka(message.value, message.headers)
    except (ValueError, ValidationError) as error:
        reason = str(error).replace("\n", " ")[:500]
        raise PermanentError(f"not a CloudEvent: {reason}") from None

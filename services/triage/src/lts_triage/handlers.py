"""The async shell: load a ticket's stream, decide, append (with the processed message or the
fired timer, and the timers `lts_triage.timers` says the new events call for). Nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from lts_events.clock import Clock
from lts_events.consumer import Inbound
from lts_events.contracts.common import ticket_id_of, ticket_stream
from lts_events.contracts.intake import AdvisoryWithdrawn, TicketLabelled, TicketOpened
from lts_events.contracts.triage import ApprovalRefused, RequestRefused
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.http_versions import PreconditionFailed, Tags, Versions, etag, is_stale
from lts_events.store.port import (
    ANY,
    NO_STREAM,
    ConcurrencyError,
    EventStore,
    ExpectedVersion,
    ProcessedMessage,
    Timer,
)
from lts_events.telemetry import current_traceparent

from lts_triage.domain import (
    GUARDED,
    Command,
    Decided,
    Outcome,
    ReceiveTicket,
    RelabelTicket,
    TicketState,
    WithdrawAdvisory,
    decide,
    fold,
    refuse_stale,
)
from lts_triage.policy import Policy
from lts_triage.timers import command_for, timers_for

CONSUMER = "triage"
_ATTEMPTS = 5
_AUDIT_ONLY = (RequestRefused, ApprovalRefused)  # records of refused requests: no view shows them


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a command came from, for the events' metadata and idempotency."""

    processed: ProcessedMessage | None = None
    fired_timer: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None


def _origin(inbound: Inbound[Event], traceparent: str | None) -> Origin:
    envelope = inbound.envelope
    return Origin(
        processed=inbound.processed,
        correlation_id=envelope.correlationid or envelope.id,
        causation_id=envelope.id,
        traceparent=traceparent,
    )


class TriageHandlers:
    def __init__(
        self, store: EventStore, *, policy: Policy, clock: Clock, consumer: str = CONSUMER
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.consumer = consumer

    async def load(self, ticket_id: int) -> tuple[TicketState, Versions]:
        """The ticket and its stream's versions (the read model's is its ETag: a recorded
        refusal is no change of it)."""
        history = await self.store.read_stream(ticket_stream(ticket_id))
        versions = Versions.of(history.events, audit_only=_AUDIT_ONLY)
        return fold(recorded.event for recorded in history.events), versions

    async def execute(
        self,
        ticket_id: int,
        command: Command,
        origin: Origin = Origin(),
        *,
        if_match: Tags | None = None,
    ) -> Decided:
        """Decide on the current stream and append; on a concurrent writer, reload and retry.
        A request whose `if_match` names another version of the ticket is refused (recorded,
        then `PreconditionFailed`), compared again on each reload: a writer appending after the
        read makes it 412, never pass. (A sign-off names the plan revision instead.)"""
        for _ in range(_ATTEMPTS):
            state, versions = await self.load(ticket_id)
            now = self.clock()
            if isinstance(command, GUARDED) and is_stale(if_match, versions.model):
                current = etag(versions.model)
                decided, stale = refuse_stale(state, command, current, now=now), True
            else:
                decided, stale = decide(state, command, now=now, policy=self.policy), False
            if not decided.outcomes and origin.fired_timer is None and origin.processed is None:
                return decided
            try:
                await self._append(ticket_id, decided, version=versions.stream, origin=origin)
            except ConcurrencyError:
                continue
            if stale:
                raise PreconditionFailed(versions.model)
            return decided
        raise ConcurrencyError(ticket_stream(ticket_id), expected="any", actual=-1)

    async def _append(
        self, ticket_id: int, decided: Decided, *, version: ExpectedVersion, origin: Origin
    ) -> None:
        traceparent = origin.traceparent or current_traceparent()  # once, not per event
        events = [
            NewEvent.of(o.event, self._metadata(o, origin, traceparent)) for o in decided.outcomes
        ]
        await self.store.append(
            ticket_stream(ticket_id),
            events,
            expected_version=version,
            processed=origin.processed,
            schedule=self._timers(ticket_id, decided),
            fired_timer=origin.fired_timer,
        )

    def _timers(self, ticket_id: int, decided: Decided) -> list[Timer]:
        stream = ticket_stream(ticket_id)
        return [
            Timer(t.timer_id, self.consumer, stream, t.due_at, t.kind, t.payload)
            for t in timers_for(ticket_id, decided.events, policy=self.policy)
        ]

    @staticmethod
    def _metadata(outcome: Outcome, origin: Origin, traceparent: str | None) -> Metadata:
        # the values are already valid (a validated Actor, str or None): not validated again
        return Metadata.trusted(
            actor=outcome.actor,
            reason=outcome.reason,
            correlation_id=origin.correlation_id or None,
            causation_id=origin.causation_id,
            traceparent=traceparent,
        )

    # -- inputs ---------------------------------------------------------------------------

    async def on_ticket_opened(self, inbound: Inbound[TicketOpened]) -> None:
        origin = _origin(inbound, current_traceparent() or inbound.envelope.traceparent)
        await self._open(inbound.event, origin)

    async def on_ticket_labelled(self, inbound: Inbound[TicketLabelled]) -> None:
        origin = _origin(inbound, current_traceparent() or inbound.envelope.traceparent)
        await self._relabel(inbound.event, origin)

    async def _open(self, ticket: TicketOpened, origin: Origin) -> None:
        command = ReceiveTicket(ticket)
        decided = decide(TicketState(), command, now=self.clock(), policy=self.policy)
        try:  # a ticket is new to triage: append without reading its (empty) stream first
            await self._append(ticket.ticket_id, decided, version=NO_STREAM, origin=origin)
        except ConcurrencyError:
            await self.execute(ticket.ticket_id, command, origin)

    async def _withdraw(self, withdrawn: AdvisoryWithdrawn, origin: Origin) -> None:
        command = WithdrawAdvisory(withdrawn.advisory_id)
        await self.execute(withdrawn.ticket_id, command, origin)

    async def _relabel(self, labelled: TicketLabelled, origin: Origin) -> None:
        command = RelabelTicket(tuple(labelled.labels), labelled.reason)
        await self.execute(labelled.ticket_id, command, origin)

    async def on_intake_batch(self, inbounds: Sequence[Inbound[Event]]) -> list[None]:
        """The intake events of one Kafka batch, in order. A ticket's first event in the batch,
        when it is its `TicketOpened`, is decided on the empty stream and all of them are
        appended at once (the store's group commit: a few statements for the whole batch);
        every other event follows, one by one in order, after those appends. Each ticket's
        events are thus handled in their order, and a redelivered batch changes nothing (the
        appends carry their processed messages)."""
        opened: list[tuple[int, ReceiveTicket, Origin]] = []
        rest: list[Inbound[Event]] = []
        seen: set[int] = set()
        for inbound in inbounds:
            event = inbound.event
            ticket_id = getattr(event, "ticket_id", None)
            if isinstance(event, TicketOpened) and event.ticket_id not in seen:
                # the message's own trace: the batch's span (if any) is no ticket's parent
                origin = _origin(inbound, inbound.envelope.traceparent or current_traceparent())
                opened.append((event.ticket_id, ReceiveTicket(event), origin))
            else:
                rest.append(inbound)
            if isinstance(ticket_id, int):
                seen.add(ticket_id)
        await self._receive_all(opened)
        for inbound in rest:
            origin = _origin(inbound, inbound.envelope.traceparent or current_traceparent())
            match inbound.event:
                case TicketOpened() as ticket:
                    await self._open(ticket, origin)
                case TicketLabelled() as labelled:
                    await self._relabel(labelled, origin)
                case AdvisoryWithdrawn() as withdrawn:
                    await self._withdraw(withdrawn, origin)
        return [None] * len(inbounds)

    async def _receive_all(self, opened: Sequence[tuple[int, ReceiveTicket, Origin]]) -> None:
        """Append the new tickets together; a ticket whose stream exists already (another
        writer, or a redelivery before its message was recorded) is decided on its stream."""
        appends = []
        for ticket_id, command, origin in opened:
            decided = decide(TicketState(), command, now=self.clock(), policy=self.policy)
            appends.append(self._append(ticket_id, decided, version=NO_STREAM, origin=origin))
        results = await asyncio.gather(*appends, return_exceptions=True)
        for (ticket_id, command, origin), result in zip(opened, results, strict=True):
            if isinstance(result, ConcurrencyError):
                await self.execute(ticket_id, command, origin)
            elif isinstance(result, BaseException):
                raise result

    async def on_timer(self, timer: Timer) -> None:
        ticket_id = ticket_id_of(timer.stream_id)
        command = command_for(timer.kind, timer.due_at, timer.payload)
        if command is None or ticket_id is None:
            # not ours to answer: mark it fired, nothing else
            await self.store.append(
                timer.stream_id, [], expected_version=ANY, fired_timer=timer.timer_id
            )
            return
        await self.execute(ticket_id, command, Origin(fired_timer=timer.timer_id))

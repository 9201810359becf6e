"""The async shell: claim the ticket a command leads to, load it, decide, append (with the
processed message id) in the claim's transaction, update the read model. Nothing else."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg
from lts_events.actors import Actor
from lts_events.clock import Clock
from lts_events.contracts.common import ticket_stream
from lts_events.contracts.intake import GitMetadata, ReleaseRef
from lts_events.envelope import Metadata, NewEvent, RecordedEvent
from lts_events.event import Event
from lts_events.store.port import (
    NO_STREAM,
    ConcurrencyError,
    ProcessedMessage,
    StreamAppend,
    StreamHistory,
)
from lts_events.store.postgres import PostgresEventStore

from lts_intake.claims import Claim, ClaimRequest
from lts_intake.domain import Context, TicketState, decide, evolve, fold
from lts_intake.model import Command, OpenTicket
from lts_intake.repository import IntakeRepository
from lts_intake.standardize import IntakePolicy

log = logging.getLogger(__name__)

_ATTEMPTS = 8

Releases = Callable[[], Awaitable[Sequence[ReleaseRef]]]
GitLookup = Callable[[OpenTicket], Awaitable[GitMetadata | None]]


async def _no_releases() -> Sequence[ReleaseRef]:
    return ()


async def _no_git(command: OpenTicket) -> GitMetadata | None:
    return None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one command did: the ticket it concerns (if any) and the events appended."""

    command: Command
    ticket_id: int | None
    events: Sequence[Event] = ()
    duplicate_delivery: bool = False

    def describe(self) -> dict[str, object]:
        return {
            "ticket_id": self.ticket_id,
            "events": [e.type for e in self.events],
            "duplicate_delivery": self.duplicate_delivery,
        }


class _Undo(Exception):
    """Ends a transaction without its writes (a duplicate delivery claims nothing)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__("undo")
        self.outcome = outcome


@dataclass(frozen=True, slots=True)
class Work:
    """One command of a consumer batch, with what its events carry and the message it answers."""

    command: Command
    metadata: Metadata
    processed: ProcessedMessage


@dataclass(slots=True)
class _Planned:
    work: Work
    ticket_id: int
    events: list[Event]
    expected_version: int


@dataclass
class Intake:
    store: PostgresEventStore
    repository: IntakeRepository
    clock: Clock
    policy: IntakePolicy = field(default_factory=IntakePolicy)
    releases: Releases = _no_releases
    git: GitLookup = _no_git
    regression_window: timedelta = timedelta(hours=24)

    async def execute(
        self,
        command: Command,
        *,
        metadata: Metadata,
        processed: ProcessedMessage | None = None,
        update_view: bool = True,
    ) -> Outcome:
        """Decide and append; `update_view` also folds the new events into the ticket view
        before returning (read-your-writes for HTTP callers). Without it the background
        projection picks them up within a fraction of a second, in batches."""
        for _ in range(_ATTEMPTS):
            try:
                return await self._execute_once(
                    command, metadata=metadata, processed=processed, update_view=update_view
                )
            except ConcurrencyError:
                log.info("ticket moved while deciding; deciding again", exc_info=True)
        raise RuntimeError(f"could not append after {_ATTEMPTS} attempts: {command!r}")

    async def _execute_once(
        self,
        command: Command,
        *,
        metadata: Metadata,
        processed: ProcessedMessage | None,
        update_view: bool,
    ) -> Outcome:
        """Claim, decide and append in one transaction: a failed append leaves no claim."""
        try:
            async with self.repository.transaction() as db:
                outcome, recorded = await self._decide_within(db, command, metadata, processed)
                if outcome.duplicate_delivery:
                    raise _Undo(outcome)
        except _Undo as undo:
            return undo.outcome
        if update_view and recorded:
            await self.repository.apply(recorded)
        return outcome

    async def _decide_within(
        self,
        db: asyncpg.Connection,
        command: Command,
        metadata: Metadata,
        processed: ProcessedMessage | None,
    ) -> tuple[Outcome, Sequence[RecordedEvent]]:
        claim = await self.repository.claim(
            command.keys, reserve=isinstance(command, OpenTicket), within=db
        )
        if claim.ticket_id is None:
            return Outcome(command, None), ()
        stream = ticket_stream(claim.ticket_id)
        history = StreamHistory(stream, ()) if claim.new else await self.store.read_stream(stream)
        state = fold(e.event for e in history.events)
        context = await self._context(claim.ticket_id, command, opening=state is None)
        events = decide(state, command, context)
        if not events and processed is None:
            return Outcome(command, claim.ticket_id), ()
        # a delivery that changes nothing is recorded too: its redelivery is then answered as
        # one (`duplicate_delivery`) by the append, like the redelivery of one that did
        new = [NewEvent.of(e, metadata) for e in events]
        (result,) = await self.store.append_within(
            db, [StreamAppend(stream, new, history.version or NO_STREAM, processed)]
        )
        if result.duplicate:
            return Outcome(command, claim.ticket_id, duplicate_delivery=True), ()
        return Outcome(command, claim.ticket_id, events), result.recorded

    async def execute_batch(self, batch: Sequence[Work]) -> None:
        """`execute` for a consumer batch, in its order, with the I/O of all of it shared and
        one transaction for all of it: every ticket claimed, the tickets already known read
        in one query, the appends written together (`append_within`). A ticket's later
        commands see its earlier ones' events. Commands answering an already-processed message
        are skipped, so a redelivered batch decides on the stored history only. When a ticket
        moved meanwhile (another writer), nothing of the batch is written and each command is
        executed on its own."""
        done = await self.store.processed_among([work.processed for work in batch])
        todo = [work for work in batch if work.processed not in done]
        if not todo:
            return
        try:
            async with self.repository.transaction() as db:
                planned = await self._plan_batch(db, todo)
                await self.store.append_within(
                    db,
                    [
                        StreamAppend(
                            ticket_stream(p.ticket_id),
                            [NewEvent.of(e, p.work.metadata) for e in p.events],
                            p.expected_version or NO_STREAM,
                            p.work.processed,
                        )
                        for p in planned
                    ],
                )
        except ConcurrencyError:
            log.info("a ticket moved while deciding a batch; deciding one by one", exc_info=True)
            for work in todo:
                await self.execute(
                    work.command,
                    metadata=work.metadata,
                    processed=work.processed,
                    update_view=False,
                )

    async def _plan_batch(self, db: asyncpg.Connection, todo: Sequence[Work]) -> list[_Planned]:
        claims = await self.repository.claim_many(
            [ClaimRequest(w.command.keys, isinstance(w.command, OpenTicket)) for w in todo],
            within=db,
        )
        tickets = await self._tickets(claims)
        commands_left = Counter(c.ticket_id for c in claims if c.ticket_id is not None)
        planned: list[_Planned] = []
        for work, claim in zip(todo, claims, strict=True):
            if claim.ticket_id is None:
                continue
            state, version = tickets[claim.ticket_id]
            context = await self._context(claim.ticket_id, work.command, opening=state is None)
            events = decide(state, work.command, context)
            commands_left[claim.ticket_id] -= 1
            if events:
                planned.append(_Planned(work, claim.ticket_id, events, version))
                if commands_left[claim.ticket_id]:  # a later command of the batch needs it
                    for event in events:
                        state = evolve(state, event)
                tickets[claim.ticket_id] = (state, version + len(events))
        return planned

    async def _tickets(self, claims: Sequence[Claim]) -> dict[int, tuple[TicketState | None, int]]:
        """The state and version of each claimed ticket; new ones are empty without a read (the
        read is of committed events: the claims' locks keep other claimers of these keys out)."""
        known = {c.ticket_id for c in claims if c.ticket_id is not None and not c.new}
        histories = await self.store.read_streams([ticket_stream(t) for t in sorted(known)])
        tickets: dict[int, tuple[TicketState | None, int]] = {
            c.ticket_id: (None, 0) for c in claims if c.ticket_id is not None
        }
        for ticket_id in known:
            history = histories[ticket_stream(ticket_id)]
            tickets[ticket_id] = (fold(e.event for e in history.events), history.version)
        return tickets

    async def _context(self, ticket_id: int, command: Command, *, opening: bool) -> Context:
        wants_enrichment = opening and isinstance(command, OpenTicket)
        releases = await self.releases() if wants_enrichment and command.alert_starts_at else ()  # type: ignore[union-attr]
        git = await self.git(command) if wants_enrichment else None  # type: ignore[arg-type]
        return Context(
            ticket_id=ticket_id,
            now=self.clock(),
            policy=self.policy,
            releases=releases,
            regression_window=self.regression_window,
            git=git,
        )


def metadata_for(actor: Actor, *, reason: str, traceparent: str | None = None) -> Metadata:
    return Metadata(actor=actor, reason=reason, traceparent=traceparent)

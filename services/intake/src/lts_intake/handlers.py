"""The async shell: claim the ticket a command leads to, load it, decide, append (with the
processed message id) in the claim's transaction, update the read model. Nothing else."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from lts_events.actors import Actor
from lts_events.clock import Clock
from lts_events.contracts.common import ticket_stream
from lts_events.contracts.intake import GitMetadata, ReleaseRef
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.store.port import (
    NO_STREAM,
    ConcurrencyError,
    EventStore,
    ProcessedMessage,
    StreamAppend,
)

from lts_intake.claims import Claim, ClaimRequest
from lts_intake.domain import Context, TicketState, decide, evolve, fold
from lts_intake.model import Command, OpenTicket
from lts_intake.standardize import IntakePolicy
from lts_intake.tables import IntakeTables

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


@dataclass(frozen=True, slots=True)
class Work:
    """One command to execute, with what its events carry and the message it answers (a Kafka
    message, a webhook delivery id; None for an input without one)."""

    command: Command
    metadata: Metadata
    processed: ProcessedMessage | None = None


@dataclass(slots=True)
class _Planned:
    index: int  # the work's place in its batch
    work: Work
    ticket_id: int
    events: list[Event]
    expected_version: int


@dataclass
class Intake:
    store: EventStore
    tables: IntakeTables  # claims and ticket views, in the appends' transaction
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
        """One command: a batch of one (`execute_batch`)."""
        (outcome,) = await self.execute_batch(
            [Work(command, metadata, processed)], update_view=update_view
        )
        return outcome

    async def execute_batch(
        self, batch: Sequence[Work], *, update_view: bool = False
    ) -> list[Outcome]:
        """What each command of `batch` did, in its order, with the I/O of all of it shared and
        one transaction for all of it (see `_execute_together`). `update_view` also folds the
        new events into the ticket views in that transaction (read-your-writes for HTTP
        callers, and no BEGIN and COMMIT of its own); without it the background projection
        picks them up within a fraction of a second.
        When a ticket moved meanwhile (another writer), nothing of the batch is written and it
        is decided again: a batch of one up to `_ATTEMPTS` times, a larger one command by
        command."""
        for _ in range(_ATTEMPTS):
            try:
                return await self._execute_together(batch, update_view=update_view)
            except ConcurrencyError:
                if len(batch) > 1:
                    log.info("a ticket moved while deciding a batch; one by one", exc_info=True)
                    return [
                        outcome
                        for work in batch
                        for outcome in await self.execute_batch([work], update_view=update_view)
                    ]
                log.info("ticket moved while deciding; deciding again", exc_info=True)
        raise RuntimeError(f"could not append after {_ATTEMPTS} attempts: {batch[0].command!r}")

    async def _execute_together(self, batch: Sequence[Work], *, update_view: bool) -> list[Outcome]:
        """Ask once which messages were already processed (those decide nothing: a redelivery
        is answered on the stored history), then in one transaction claim every ticket, read
        the tickets already known in one query, decide in order (a ticket's later commands see
        its earlier ones' events) and write the appends together (`TicketTransaction.append`),
        so claims, events and processed messages commit or roll back together. A delivery that
        changes nothing is recorded too: its redelivery is then answered as one
        (`duplicate_delivery`)."""
        done = await self.store.processed_among(
            [work.processed for work in batch if work.processed is not None]
        )
        redelivered = [work.processed in done for work in batch]
        async with self.tables.transaction() as transaction:
            claims = await transaction.claim_many(
                [
                    ClaimRequest(
                        work.command.keys,
                        reserve=isinstance(work.command, OpenTicket) and not again,
                        link=not again,
                    )
                    for work, again in zip(batch, redelivered, strict=True)
                ]
            )
            deciding = [
                (index, claim)
                for index, (claim, again) in enumerate(zip(claims, redelivered, strict=True))
                if not again and claim.ticket_id is not None
            ]
            planned = await self._plan(batch, deciding)
            results = await transaction.append(
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
            if update_view:
                await transaction.update_views([e for r in results for e in r.recorded])
        outcomes = [
            Outcome(work.command, claim.ticket_id, duplicate_delivery=again)
            for work, claim, again in zip(batch, claims, redelivered, strict=True)
        ]
        for p, result in zip(planned, results, strict=True):
            # a duplicate here: processed meanwhile, by another delivery of the same message
            outcomes[p.index] = Outcome(
                p.work.command, p.ticket_id, () if result.duplicate else p.events, result.duplicate
            )
        return outcomes

    async def _plan(
        self, batch: Sequence[Work], deciding: Sequence[tuple[int, Claim]]
    ) -> list[_Planned]:
        """Each command (by its index in `batch`) decided on its ticket's state, in order; the
        appends to make."""
        tickets = await self._tickets([claim for _, claim in deciding])
        commands_left = Counter(claim.ticket_id for _, claim in deciding)
        planned: list[_Planned] = []
        for index, claim in deciding:
            work, ticket_id = batch[index], claim.ticket_id
            assert ticket_id is not None
            state, version = tickets[ticket_id]
            context = await self._context(ticket_id, work.command, opening=state is None)
            events = decide(state, work.command, context)
            commands_left[ticket_id] -= 1
            if events or work.processed is not None:
                planned.append(_Planned(index, work, ticket_id, events, version))
                if commands_left[ticket_id]:  # a later command of the batch needs it
                    for event in events:
                        state = evolve(state, event)
                tickets[ticket_id] = (state, version + len(events))
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

"""The async shell: claim the ticket a command leads to, load it, decide, append (with the
processed message id), update the read model. Nothing else."""

from __future__ import annotations

import asyncio
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
    StreamHistory,
)

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
    store: EventStore
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
        claim = await self.repository.claim(command.keys, reserve=isinstance(command, OpenTicket))
        if claim.ticket_id is None:
            return Outcome(command, None)
        stream = ticket_stream(claim.ticket_id)
        history = StreamHistory(stream, ()) if claim.new else await self.store.read_stream(stream)
        state = fold(e.event for e in history.events)
        context = await self._context(claim.ticket_id, command, opening=state is None)
        events = decide(state, command, context)
        if not events:
            return Outcome(command, claim.ticket_id)
        result = await self.store.append(
            stream,
            [NewEvent.of(e, metadata) for e in events],
            expected_version=history.version if history.exists else NO_STREAM,
            processed=processed,
        )
        if result.duplicate:
            return Outcome(command, claim.ticket_id, duplicate_delivery=True)
        if update_view:
            await self.repository.apply(result.recorded)
        return Outcome(command, claim.ticket_id, events)

    async def execute_batch(self, batch: Sequence[Work]) -> None:
        """`execute` for a consumer batch, in its order, with the I/O of all of it shared: one
        transaction claims every ticket, one query reads the tickets already known, and the
        appends go out together (the store's group commit). A ticket's later commands see its
        earlier ones' events. Commands answering an already-processed message are skipped, so
        a redelivered batch decides on the stored history only."""
        done = await self.store.processed_among([work.processed for work in batch])
        todo = [work for work in batch if work.processed not in done]
        claims = await self.repository.claim_many(
            [ClaimRequest(w.command.keys, isinstance(w.command, OpenTicket)) for w in todo]
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
        await self._append_in_order(planned)

    async def _tickets(self, claims: Sequence[Claim]) -> dict[int, tuple[TicketState | None, int]]:
        """The state and version of each claimed ticket; new ones are empty without a read."""
        known = {c.ticket_id for c in claims if c.ticket_id is not None and not c.new}
        histories = await self.store.read_streams([ticket_stream(t) for t in sorted(known)])
        tickets: dict[int, tuple[TicketState | None, int]] = {
            c.ticket_id: (None, 0) for c in claims if c.ticket_id is not None
        }
        for ticket_id in known:
            history = histories[ticket_stream(ticket_id)]
            tickets[ticket_id] = (fold(e.event for e in history.events), history.version)
        return tickets

    async def _append_in_order(self, planned: Sequence[_Planned]) -> None:
        """Append each ticket's commands in order: the first command of every ticket at once,
        then the second ones, and so on. A ticket some other writer moved meanwhile has its
        remaining commands executed one by one (reading the stream again)."""
        waves: list[list[_Planned]] = []
        depth: dict[int, int] = {}
        for plan in planned:
            level = depth.get(plan.ticket_id, 0)
            depth[plan.ticket_id] = level + 1
            if level == len(waves):
                waves.append([])
            waves[level].append(plan)
        moved: set[int] = set()
        for wave in waves:
            left = [p for p in wave if p.ticket_id not in moved]
            results = await asyncio.gather(
                *(self._append_planned(p) for p in left), return_exceptions=True
            )
            for plan, result in zip(left, results, strict=True):
                if isinstance(result, ConcurrencyError):
                    moved.add(plan.ticket_id)
                elif isinstance(result, BaseException):
                    raise result
            for plan in wave:
                if plan.ticket_id in moved:
                    work = plan.work
                    await self.execute(
                        work.command,
                        metadata=work.metadata,
                        processed=work.processed,
                        update_view=False,
                    )

    async def _append_planned(self, plan: _Planned) -> None:
        version = plan.expected_version
        await self.store.append(
            ticket_stream(plan.ticket_id),
            [NewEvent.of(e, plan.work.metadata) for e in plan.events],
            expected_version=version if version else NO_STREAM,
            processed=plan.work.processed,
        )

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

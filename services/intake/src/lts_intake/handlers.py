"""The async shell: claim the ticket a command leads to, load it, decide, append (with the
processed message id), update the read model. Nothing else."""

from __future__ import annotations

import logging
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

from lts_intake.domain import Context, decide, fold
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

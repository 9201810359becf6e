"""The async shell: note the facts an input brings (with its processed message), then bring the
documents those facts call for up to date; run reviewers' requests and the embargo timers
through the pure `document.decide`. Loads, decides, appends; nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from lts_events.actors import Actor, Role, automation
from lts_events.clock import Clock
from lts_events.consumer import Inbound
from lts_events.contracts.common import ticket_stream
from lts_events.contracts.comms.documents import DocumentKind, document_stream
from lts_events.contracts.comms.facts import (
    ReleaseFactsNoted,
    TicketFactsNoted,
    release_stream,
)
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.http_versions import PreconditionFailed, Tags, etag, is_stale
from lts_events.store.port import ANY, ConcurrencyError, EventStore, ProcessedMessage, Timer

from lts_comms.document import (
    AUTOMATION,
    Approve,
    Command,
    Decided,
    DocumentState,
    Draft,
    DraftContent,
    FireEmbargoTimer,
    Refuse,
    RequestRelease,
    SetEmbargo,
    decide,
    embargo_lift_due,
    fold,
    fold_onto,
    refuse_stale,
)
from lts_comms.drafting import Drafter
from lts_comms.inputs import Facts, facts_of
from lts_comms.projection import ReleaseView, TicketView, release_view, ticket_view

CONSUMER = "comms"
EMBARGO_TIMER = "embargo_lift"
_ATTEMPTS = 5


def facts_stream(facts: Facts) -> str:
    if isinstance(facts, TicketFactsNoted):
        return ticket_stream(facts.ticket_id)
    return release_stream(facts.version)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: the actor (with the role recorded in the metadata) and every role they hold."""

    actor: Actor
    roles: frozenset[Role]


_REQUESTS = (Approve, Refuse, SetEmbargo, RequestRelease)  # a person's, which If-Match may guard


class CommsHandlers:
    def __init__(
        self, store: EventStore, *, clock: Clock, drafter: Drafter, consumer: str = CONSUMER
    ) -> None:
        self.store = store
        self.clock = clock
        self.drafter = drafter
        self.consumer = consumer

    # -- inputs ---------------------------------------------------------------------------

    async def on_input(self, inbound: Inbound[Event]) -> None:
        """Note the facts (a redelivery notes nothing: the append is a no-op), then draft: the
        drafting is idempotent on its own, so a crash between the two is mended by the
        redelivery."""
        facts = facts_of(inbound.event, now=self.clock())
        if facts is not None:
            metadata = inbound.follow_up(actor=automation(self.consumer))
            await self.note(facts, metadata, processed=inbound.processed)

    async def note(
        self, facts: Facts, metadata: Metadata, *, processed: ProcessedMessage | None = None
    ) -> None:
        await self.store.append(
            facts_stream(facts),
            [NewEvent.of(facts, metadata)],
            expected_version=ANY,
            processed=processed,
        )
        if isinstance(facts, ReleaseFactsNoted):
            release = await self.release(facts.version)
            await self._index_tickets(release, metadata)
            await self.draft_release(release.version, metadata)
            return
        # a ticket's facts may come after the releases carrying it (another topic): redraft
        # what they are in
        ticket = (await self.tickets((facts.ticket_id,)))[0]
        for version in ticket.releases:
            await self.draft_release(version, metadata)

    async def _index_tickets(self, release: ReleaseView, metadata: Metadata) -> None:
        """Note on each of the release's tickets that the release carries it (once)."""
        for ticket in await self.tickets(release.ticket_ids):
            if release.version in ticket.releases:
                continue
            indexed = TicketFactsNoted(
                ticket_id=ticket.ticket_id,
                source_type=ReleaseFactsNoted.type,
                releases=(release.version,),
                noted_at=self.clock(),
            )
            await self.store.append(
                ticket_stream(ticket.ticket_id),
                [NewEvent.of(indexed, metadata)],
                expected_version=ANY,
            )

    async def draft_release(self, version: str, metadata: Metadata) -> None:
        """The release's documents, then the advisory of each security ticket it carries."""
        release = await self.release(version)
        tickets = await self.tickets(release.ticket_ids)
        for content in self.drafter.for_release(release, tickets):
            await self.execute(content.document_id, Draft(content, AUTOMATION), metadata)
        for ticket in tickets:
            if ticket.is_security and ticket.releases:
                await self.draft_advisory(ticket, metadata)

    async def draft_advisory(self, ticket: TicketView, metadata: Metadata) -> None:
        """(Re)draft a security ticket's advisory from every release that carries it."""
        content = await self._advisory(ticket)
        await self.execute(content.document_id, Draft(content, AUTOMATION), metadata)

    async def _advisory(self, ticket: TicketView) -> DraftContent:
        releases = [await self.release(v) for v in ticket.releases]
        return self.drafter.advisory(ticket, releases)

    async def preview(
        self, kind: DocumentKind, *, version: str | None, ticket_id: int | None
    ) -> list[DraftContent]:
        """The documents of `kind` as drafting would write them now, appending nothing. A
        release not published yet is previewed as if published now."""
        if kind is DocumentKind.SECURITY_ADVISORY:
            return await self._preview_advisories(version=version, ticket_id=ticket_id)
        if version is None:
            raise ValueError(f"a {kind.value} is drafted for a release: name its version")
        release = await self.release(version)
        if release.status is None:
            raise LookupError(f"comms knows no release {version}")
        if release.published_at is None:
            release = replace(release, published_at=self.clock())
        drafts = self.drafter.for_release(release, await self.tickets(release.ticket_ids))
        return [d for d in drafts if d.kind is kind]

    async def _preview_advisories(
        self, *, version: str | None, ticket_id: int | None
    ) -> list[DraftContent]:
        if ticket_id is not None:
            ticket_ids: tuple[int, ...] = (ticket_id,)
        elif version is not None:
            ticket_ids = (await self.release(version)).ticket_ids
        else:
            raise ValueError("an advisory is drafted for a ticket or a release: name one")
        tickets = await self.tickets(ticket_ids)
        return [await self._advisory(t) for t in tickets if t.is_security and t.releases]

    async def release(self, version: str) -> ReleaseView:
        history = await self.store.read_stream(release_stream(version))
        noted = [r.event for r in history.events if isinstance(r.event, ReleaseFactsNoted)]
        return release_view(version, noted)

    async def tickets(self, ticket_ids: Sequence[int]) -> list[TicketView]:
        streams = await self.store.read_streams([ticket_stream(t) for t in ticket_ids])
        return [
            ticket_view(
                t,
                [
                    r.event
                    for r in streams[ticket_stream(t)].events
                    if isinstance(r.event, TicketFactsNoted)
                ],
            )
            for t in ticket_ids
        ]

    # -- documents ------------------------------------------------------------------------

    async def load(self, document_id: str) -> tuple[DocumentState, int]:
        history = await self.store.read_stream(document_stream(document_id))
        return fold(r.event for r in history.events), history.version

    async def execute(
        self,
        document_id: str,
        command: Command,
        metadata: Metadata,
        *,
        fired_timer: str | None = None,
        if_match: Tags | None = None,
    ) -> Decided:
        """Decide on the current stream and append (with the embargo timer the new state calls
        for); on a concurrent writer, reload and decide again. A request whose `if_match` names
        another version than the document's (its ETag: the stream version, since the view lists
        every event) is refused, recorded, then `PreconditionFailed`; it is compared again on
        each reload, so a writer appending after the read makes it 412, never pass."""
        stream = document_stream(document_id)
        for _ in range(_ATTEMPTS):
            state, version = await self.load(document_id)
            now = self.clock()
            if isinstance(command, _REQUESTS) and is_stale(if_match, version):
                decided, stale = refuse_stale(state, command, etag(version), now=now), True
            else:
                decided, stale = decide(state, command, now=now), False
            if not decided.events and fired_timer is None:
                return decided
            after = fold_onto(state, decided.events)
            try:
                appended = await self.store.append(
                    stream,
                    [NewEvent.of(event, metadata) for event in decided.events],
                    expected_version=version,
                    schedule=self._timers(document_id, after),
                    fired_timer=fired_timer,
                )
            except ConcurrencyError:
                continue
            if stale:
                raise PreconditionFailed(appended.version)
            return decided
        raise ConcurrencyError(stream, expected="any", actual=-1)

    def _timers(self, document_id: str, state: DocumentState) -> list[Timer]:
        due = embargo_lift_due(state)
        if due is None:
            return []
        return [
            Timer(
                f"embargo:{document_id}:{due.isoformat()}",
                self.consumer,
                document_stream(document_id),
                due,
                EMBARGO_TIMER,
            )
        ]

    async def ask(
        self, document_id: str, command: Command, caller: Caller, *, if_match: Tags | None = None
    ) -> Decided:
        """A person's request; the metadata's reason is what they wrote (comment, reason)."""
        written = getattr(command, "reason", None) or getattr(command, "comment", None)
        metadata = Metadata(actor=caller.actor, reason=written or None)
        return await self.execute(document_id, command, metadata, if_match=if_match)

    async def on_timer(self, timer: Timer) -> None:
        document_id = timer.stream_id.removeprefix("document-")
        metadata = Metadata(actor=automation(self.consumer), reason="embargo timer")
        await self.execute(document_id, FireEmbargoTimer(), metadata, fired_timer=timer.timer_id)

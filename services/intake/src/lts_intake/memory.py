"""Intake's tables in memory, next to the in-memory event store, so that the service's shell
(`main.build`) runs in unit tests: the same claim rule (`claims.resolve_claims`) and views
(`views.view_of`) as on PostgreSQL, without SQL.

One transaction at a time (the lock stands for PostgreSQL's counter row, which every claim
holds until its commit); its claims are kept only when it ends without an error, and its appends
are written all or nothing (`InMemoryEventStore.append_together`). Unlike PostgreSQL, an error
raised after the appends does not undo them: intake's shell appends last. The ticket views are
folded from the store when read, so they are always up to date (no projection to run)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from lts_events.clock import Clock
from lts_events.contracts.common import ticket_id_of, ticket_stream
from lts_events.contracts.intake import ReleaseRef
from lts_events.envelope import RecordedEvent
from lts_events.store.memory import InMemoryEventStore
from lts_events.store.port import AppendResult, Checkpoint, StreamAppend

from lts_intake.claims import Claim, ClaimRequest, resolve_claims
from lts_intake.views import TicketView, folded_view


class InMemoryIntakeTables:
    """`IntakeTables` on the in-memory store."""

    def __init__(self, store: InMemoryEventStore) -> None:
        self._store = store
        self.keys: dict[str, int] = {}  # dedup key -> ticket id
        self.counter = 0  # the last ticket id taken
        self._lock = asyncio.Lock()

    async def create_tables(self) -> None:
        return None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[InMemoryTicketTransaction]:
        async with self._lock:
            transaction = InMemoryTicketTransaction(self._store, dict(self.keys), self.counter)
            yield transaction
            self.keys, self.counter = transaction.keys, transaction.counter

    async def ticket(self, ticket_id: int) -> TicketView | None:
        history = await self._store.read_stream(ticket_stream(ticket_id))
        return folded_view(history.events)

    async def tickets(
        self, *, label: str | None, state: str | None, source: str | None, limit: int, after: int
    ) -> list[TicketView]:
        by_ticket: dict[int, list[RecordedEvent]] = {}
        for event in await self._store.read_all(after=Checkpoint.start(), limit=2**31):
            ticket_id = ticket_id_of(event.stream_id)
            if ticket_id is not None and ticket_id > after:
                by_ticket.setdefault(ticket_id, []).append(event)
        views = [folded_view(by_ticket[ticket_id]) for ticket_id in sorted(by_ticket)]
        return [
            view
            for view in views
            if view is not None
            and (label is None or label in view.labels)
            and (state is None or view.state == state)
            and (source is None or view.source.value == source)
        ][:limit]


class InMemoryTicketTransaction:
    def __init__(self, store: InMemoryEventStore, keys: dict[str, int], counter: int) -> None:
        self._store = store
        self.keys = keys
        self.counter = counter

    async def claim_many(self, requests: Sequence[ClaimRequest]) -> list[Claim]:
        plan = resolve_claims(requests, known=self.keys, counter=self.counter)
        self.keys.update(plan.links)
        self.counter = plan.counter
        return plan.claims

    async def append(self, appends: Sequence[StreamAppend]) -> list[AppendResult]:
        return await self._store.append_together(appends)

    async def update_views(self, recorded: Sequence[RecordedEvent]) -> None:
        return None  # the views are folded from the store when read


class InMemoryReleaseTable:
    """`ReleaseTable` in memory; "the last `lookback`" by the service's clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.releases: dict[tuple[str, datetime], ReleaseRef] = {}  # PostgreSQL's primary key

    async def create_tables(self) -> None:
        return None

    async def insert(self, release: ReleaseRef) -> None:
        self.releases.setdefault((release.version, release.released_at), release)

    async def within(self, lookback: timedelta) -> Sequence[ReleaseRef]:
        since = self._clock() - lookback
        recent = [r for r in self.releases.values() if r.released_at > since]
        return sorted(recent, key=lambda r: r.released_at, reverse=True)[:100]

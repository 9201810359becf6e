"""The port for what intake keeps next to its events, so that its shell runs on either store:
the dedup keys and the ticket counter (claims) and the ticket views, written in the transaction
of the appends they lead to, and the releases an alert may be a regression of.

Implementations: PostgreSQL's tables on the PostgreSQL store (`repository.PostgresIntakeTables`,
`releases.SqlReleaseTable`), dictionaries on the in-memory store for unit tests
(`memory.InMemoryIntakeTables`, `memory.InMemoryReleaseTable`); `main.build` chooses them from
the service context."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Protocol

from lts_events.contracts.intake import ReleaseRef
from lts_events.envelope import RecordedEvent
from lts_events.store.port import AppendResult, StreamAppend

from lts_intake.claims import Claim, ClaimRequest
from lts_intake.views import TicketView


class TicketTransaction(Protocol):
    """One transaction of claims, appends and view updates: all of it commits, or none."""

    async def claim_many(self, requests: Sequence[ClaimRequest]) -> list[Claim]:
        """The ticket each request's keys lead to (`claims.resolve_claims`); the keys and the
        counter are held until the transaction ends, so concurrent claims of the same keys (or
        of new ids) wait for the events."""
        ...

    async def append(self, appends: Sequence[StreamAppend]) -> list[AppendResult]:
        """The store's appends, in this transaction (see `SqlEventStore.append_within`)."""
        ...

    async def update_views(self, recorded: Sequence[RecordedEvent]) -> None:
        """Fold `recorded` into the ticket views, in this transaction (read-your-writes)."""
        ...


class TicketViews(Protocol):
    """The ticket read model, for GET /tickets."""

    async def ticket(self, ticket_id: int) -> TicketView | None: ...

    async def tickets(
        self, *, label: str | None, state: str | None, source: str | None, limit: int, after: int
    ) -> list[TicketView]:
        """Views by id after `after`, up to `limit`, filtered by label, state and source."""
        ...


class IntakeTables(TicketViews, Protocol):
    async def create_tables(self) -> None: ...

    def transaction(self) -> AbstractAsyncContextManager[TicketTransaction]: ...


class ReleaseTable(Protocol):
    """Published releases, as intake heard of them on the release topic."""

    async def create_tables(self) -> None: ...

    async def insert(self, release: ReleaseRef) -> None:
        """Keep `release` (once: a redelivered one changes nothing)."""
        ...

    async def within(self, lookback: timedelta) -> Sequence[ReleaseRef]:
        """The releases published in the last `lookback`, newest first (up to 100)."""
        ...

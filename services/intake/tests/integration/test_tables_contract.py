"""One contract for both implementations of intake's tables (`tables.IntakeTables`): PostgreSQL's
(`PostgresIntakeTables` on a real schema) and the in-memory twin the unit tests of the built
service run on (`InMemoryIntakeTables`). Claims lead to tickets in input order, a later
transaction continues the ids and finds the keys linked before, a transaction whose append is
refused keeps no claim, and the views show what a transaction appended."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from lts_events.actors import Actor, Role
from lts_events.contracts.common import TicketSource, ticket_stream
from lts_events.contracts.intake import TicketKind, TicketOpened
from lts_events.envelope import Metadata, NewEvent
from lts_events.store.memory import InMemoryEventStore
from lts_events.store.port import NO_STREAM, ConcurrencyError, EventStore, StreamAppend
from lts_events.store.postgres import PostgresEventStore
from lts_intake.claims import Claim, ClaimRequest
from lts_intake.memory import InMemoryIntakeTables
from lts_intake.repository import PostgresIntakeTables
from lts_intake.tables import IntakeTables
from sqlalchemy import text

pytestmark = pytest.mark.integration

REQUESTS = [
    ClaimRequest(["alert:a"], reserve=True),
    ClaimRequest(["advisory:GHSA-1", "advisory:CVE-1"], reserve=True),
    ClaimRequest(["alert:a"], reserve=True),
    ClaimRequest(["alert:unknown"], reserve=False),
    ClaimRequest(["advisory:PYSEC-9", "advisory:CVE-1"], reserve=True),
    ClaimRequest(["alert:b", "alert:b"], reserve=True),
    ClaimRequest(["advisory:PYSEC-9"], reserve=False),
]
META = Metadata(actor=Actor(id="carol", role=Role.REQUESTER))


@pytest.fixture(params=["memory", "postgres"])
async def tables(
    request: pytest.FixtureRequest, database_url: str
) -> AsyncIterator[tuple[IntakeTables, EventStore]]:
    if request.param == "memory":
        memory = InMemoryEventStore()
        yield InMemoryIntakeTables(memory), memory
        return
    schema = f"tables_{uuid.uuid4().hex[:10]}"
    store = await PostgresEventStore.connect(database_url, schema=schema)
    try:
        postgres = PostgresIntakeTables(store)
        await postgres.create_tables()
        yield postgres, store
    finally:
        async with store.engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await store.close()


async def claimed(tables: IntakeTables, requests: list[ClaimRequest]) -> list[Claim]:
    async with tables.transaction() as transaction:
        return await transaction.claim_many(requests)


def opened(ticket_id: int) -> NewEvent:
    return NewEvent.of(
        TicketOpened(
            ticket_id=ticket_id,
            title="Login times out",
            source=TicketSource.REPORT,
            kind=TicketKind.BUG,
            opened_at=datetime(2026, 12, 4, 9, 0, tzinfo=UTC),
        ),
        META,
    )


async def test_a_batch_claims_tickets_in_input_order(
    tables: tuple[IntakeTables, EventStore],
) -> None:
    claims = await claimed(tables[0], REQUESTS)

    assert claims == [
        Claim(1, new=True),
        Claim(2, new=True),
        Claim(1),
        Claim(None),
        Claim(2),
        Claim(3, new=True),
        Claim(2),
    ]


async def test_a_later_batch_continues_the_ids_and_finds_the_keys_linked_before(
    tables: tuple[IntakeTables, EventStore],
) -> None:
    await claimed(tables[0], REQUESTS)

    later = await claimed(
        tables[0],
        [
            ClaimRequest(["alert:c"], reserve=True),
            ClaimRequest(["advisory:PYSEC-9"], reserve=False),
            ClaimRequest(["alert:a"], reserve=True),
        ],
    )

    assert later == [Claim(4, new=True), Claim(2), Claim(1)]


async def test_a_lookup_links_no_key(tables: tuple[IntakeTables, EventStore]) -> None:
    await claimed(tables[0], [ClaimRequest(["alert:a"], reserve=True)])

    found = await claimed(
        tables[0], [ClaimRequest(["alert:a", "alert:z"], reserve=False, link=False)]
    )
    after = await claimed(tables[0], [ClaimRequest(["alert:z"], reserve=False)])

    assert found == [Claim(1)]
    assert after == [Claim(None)]


async def open_claimed_ticket_with(tables: IntakeTables, *, stale: str) -> None:
    """Claim a new ticket and append its opening together with a refused append to `stale`."""
    async with tables.transaction() as transaction:
        (claim,) = await transaction.claim_many([ClaimRequest(["alert:a"], reserve=True)])
        assert claim.ticket_id is not None
        await transaction.append(
            [
                StreamAppend(ticket_stream(claim.ticket_id), [opened(claim.ticket_id)], NO_STREAM),
                StreamAppend(stale, [opened(9)], NO_STREAM),
            ]
        )


async def test_a_transaction_whose_append_is_refused_keeps_no_claim_and_writes_nothing(
    tables: tuple[IntakeTables, EventStore],
) -> None:
    intake_tables, store = tables
    async with intake_tables.transaction() as transaction:
        await transaction.append([StreamAppend(ticket_stream(9), [opened(9)], NO_STREAM)])

    with pytest.raises(ConcurrencyError):
        await open_claimed_ticket_with(intake_tables, stale=ticket_stream(9))

    assert not (await store.read_stream(ticket_stream(1))).exists
    assert await claimed(intake_tables, [ClaimRequest(["alert:a"], reserve=True)]) == [
        Claim(1, new=True)  # the refused transaction took no id and linked no key
    ]


async def test_the_views_show_what_a_transaction_appended(
    tables: tuple[IntakeTables, EventStore],
) -> None:
    intake_tables, _ = tables

    async with intake_tables.transaction() as transaction:
        results = await transaction.append(
            [StreamAppend(ticket_stream(n), [opened(n)], NO_STREAM) for n in (1, 2)]
        )
        await transaction.update_views([e for r in results for e in r.recorded])

    view = await intake_tables.ticket(1)
    assert view is not None
    assert (view.ticket_id, view.version, view.state) == (1, 1, "open")
    assert await intake_tables.ticket(3) is None
    listed = await intake_tables.tickets(
        label=None, state="open", source="report", limit=1, after=0
    )
    assert [v.ticket_id for v in listed] == [1]
    later = await intake_tables.tickets(label=None, state=None, source=None, limit=10, after=1)
    assert [v.ticket_id for v in later] == [2]
    assert (
        await intake_tables.tickets(label=None, state="resolved", source=None, limit=10, after=0)
        == []
    )

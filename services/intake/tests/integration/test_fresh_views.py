"""The ticket views' projection runner takes the events the request path folded in their own
transaction from memory (`FreshViews`), and reads from the store whatever it did not fold (the
Kafka path's events): each batch the runner applies is still the store's, in its order."""

from __future__ import annotations

import asyncio

import pytest
from lts_events.projection import ProjectionRunner
from lts_events.store.postgres import PostgresEventStore
from lts_intake.handlers import Intake
from lts_intake.kafka import alert_batch_handler
from lts_intake.repository import PostgresIntakeTables

from .test_one_transaction import alert_message, intake, sql, webhook_request

__all__ = ["intake"]  # the fixture, shared with test_one_transaction

pytestmark = pytest.mark.integration


def parts(intake: Intake) -> tuple[PostgresEventStore, PostgresIntakeTables]:
    assert isinstance(intake.store, PostgresEventStore)
    assert isinstance(intake.tables, PostgresIntakeTables)
    return intake.store, intake.tables


async def applied_all(runner: ProjectionRunner, store: PostgresEventStore) -> None:
    """Catch up until every committed event is applied (another session's open transaction in
    the shared database may hold ours back behind the barrier for a while)."""
    async with asyncio.timeout(30):
        while True:
            await runner.catch_up()
            if await store.count_after(after=await runner.checkpoint()) == 0:
                return
            await asyncio.sleep(0.05)


async def test_events_the_request_path_folded_are_not_read_back(intake: Intake) -> None:
    store, tables = parts(intake)
    runner = ProjectionRunner(
        store, "fresh-views", tables.repository.catch_up_within, read=tables.fresh.read
    )
    for fingerprint in ("fp-1", "fp-2", "fp-3"):
        command, metadata = webhook_request(intake, fingerprint)
        await intake.execute(command, metadata=metadata, update_view=True)

    await applied_all(runner, store)

    assert tables.fresh.served == 3  # one TicketOpened each
    assert [r["ticket_id"] for r in await sql(intake, "SELECT ticket_id FROM {s}.tickets")] == [
        1,
        2,
        3,
    ]


async def test_events_appended_without_their_views_are_read_and_folded(intake: Intake) -> None:
    store, tables = parts(intake)
    runner = ProjectionRunner(
        store, "fresh-views", tables.repository.catch_up_within, read=tables.fresh.read
    )
    command, metadata = webhook_request(intake, "fp-http")
    await intake.execute(command, metadata=metadata, update_view=True)
    await alert_batch_handler(intake)([alert_message("fp-kafka", 0)])  # no view written

    await applied_all(runner, store)

    # a batch holding the Kafka path's event is read from the store (the HTTP path's may have
    # been a batch of its own, had the barrier held the later one back for a while)
    assert tables.fresh.served <= 1
    rows = await sql(intake, "SELECT ticket_id, version FROM {s}.tickets ORDER BY ticket_id")
    assert [(r["ticket_id"], r["version"]) for r in rows] == [(1, 1), (2, 1)]

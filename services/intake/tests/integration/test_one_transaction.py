"""A ticket's claim (dedup keys -> ticket id, the id counter) and its first events commit in one
transaction: an append that fails after the claim leaves no key leading to a ticket without
events, and the redelivered input then opens exactly one ticket. On real PostgreSQL, with the
failure injected by a trigger on the store's events table (no code of ours replaced)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from lts_events.actors import Actor, Role
from lts_events.clock import FrozenClock
from lts_events.consumer import RawMessage
from lts_events.contracts.common import TicketSource, ticket_stream
from lts_events.contracts.intake import TicketOpened
from lts_events.envelope import Metadata
from lts_events.store.port import ProcessedMessage
from lts_events.store.postgres import PostgresEventStore
from lts_intake import standardize
from lts_intake.formats import AlertIn
from lts_intake.handlers import Intake, metadata_for
from lts_intake.kafka import CONSUMER, alert_batch_handler
from lts_intake.model import Command
from lts_intake.repository import PostgresIntakeTables
from sqlalchemy import text

pytestmark = pytest.mark.integration

POISON = "fp-append-fails"
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
async def intake(database_url: str) -> AsyncIterator[Intake]:
    schema = f"onetxn_{uuid.uuid4().hex[:10]}"
    store = await PostgresEventStore.connect(database_url, schema=schema)
    tables = PostgresIntakeTables(store)
    try:
        await tables.create_tables()
        yield Intake(store=store, tables=tables, clock=FrozenClock(NOW))
    finally:
        async with store.engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await store.close()


async def sql(intake: Intake, statement: str) -> list[asyncpg.Record]:
    """The rows of `statement` (several statements: none), `{s}` naming the store's schema."""
    store = intake.store
    assert isinstance(store, PostgresEventStore)
    statement = statement.replace("{s}", f'"{store.schema}"')
    connection = await asyncpg.connect(
        store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        if ";" in statement:
            await connection.execute(statement)
            return []
        return list(await connection.fetch(statement))
    finally:
        await connection.close()


async def fail_appends_of(intake: Intake, fingerprint: str) -> None:
    """From now on, any transaction inserting an event about `fingerprint` fails (as a crash
    between the claim and the append would leave it: the append never commits)."""
    await sql(
        intake,
        f"""CREATE FUNCTION {{s}}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'injected: append failed'; END $$;
            CREATE TRIGGER refuse BEFORE INSERT ON {{s}}.events FOR EACH ROW
            WHEN (NEW.data->>'alert_fingerprint' = '{fingerprint}')
            EXECUTE FUNCTION {{s}}.refuse()""",
    )


async def appends_work_again(intake: Intake) -> None:
    await sql(intake, "DROP TRIGGER refuse ON {s}.events")


async def keys_without_events(intake: Intake) -> list[str]:
    """Dedup keys leading to a ticket whose stream holds no event."""
    rows = await sql(
        intake,
        """SELECT k.key FROM {s}.ticket_keys AS k WHERE NOT EXISTS (
               SELECT 1 FROM {s}.events AS e WHERE e.stream_id = 'ticket-' || k.ticket_id)""",
    )
    return [row["key"] for row in rows]


async def opened_by_fingerprint(intake: Intake) -> dict[str, list[int]]:
    rows = await sql(
        intake,
        "SELECT stream_id, data::text AS data FROM {s}.events "
        "WHERE type = 'lts.intake.ticket_opened' ORDER BY position",
    )
    found: dict[str, list[int]] = {}
    for row in rows:
        opened = TicketOpened.model_validate_json(row["data"])
        assert row["stream_id"] == ticket_stream(opened.ticket_id)
        found.setdefault(str(opened.alert_fingerprint), []).append(opened.ticket_id)
    return found


async def processed_ids(intake: Intake) -> set[str]:
    rows = await sql(intake, "SELECT message_id FROM {s}.processed_messages")
    return {row["message_id"] for row in rows}


def alert(
    fingerprint: str, *, starts: str = "2026-12-03T11:00:00Z", status: str = "firing"
) -> dict[str, object]:
    return {
        "status": status,
        "labels": {"alertname": "DiskFull", "severity": "warning"},
        "startsAt": starts,
        "endsAt": "2026-12-03T11:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "fingerprint": fingerprint,
    }


def alert_message(fingerprint: str, offset: int, **changes: str) -> RawMessage:
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "//monitoring.example.org",
        "type": "org.prometheus.alert.firing",
        "data": alert(fingerprint, **changes),
    }
    headers = [("content-type", b"application/cloudevents+json")]
    return RawMessage.of(
        value=json.dumps(event).encode(),
        headers=headers,
        key=fingerprint.encode(),
        topic="lts.inbound.alerts",
        partition=0,
        offset=offset,
    )


def webhook_request(intake: Intake, fingerprint: str) -> tuple[Command, Metadata]:
    """The command and metadata of one Alertmanager webhook alert, as the HTTP path makes them."""
    (command,) = standardize.from_alerts(
        [AlertIn.model_validate({**alert(fingerprint), "labels": {"alertname": "a"}})],
        source=TicketSource.ALERTMANAGER,
        now=NOW,
        policy=intake.policy,
    )
    return command, metadata_for(Actor(id="alertmanager", role=Role.AUTOMATION), reason="webhook")


async def test_an_alert_batch_whose_append_fails_leaves_no_claim_and_opens_once_when_redelivered(
    intake: Intake,
) -> None:
    batch = [alert_message("fp-healthy", 0), alert_message(POISON, 1)]
    handle = alert_batch_handler(intake)
    await fail_appends_of(intake, POISON)

    with pytest.raises(asyncpg.RaiseError, match="injected"):
        await handle(batch)

    assert await keys_without_events(intake) == []
    await appends_work_again(intake)
    assert await handle(batch) == [None, None]  # the redelivery
    await handle([alert_message("fp-later", 2)])
    opened = await opened_by_fingerprint(intake)
    assert sorted(opened) == sorted(["fp-healthy", POISON, "fp-later"])
    assert all(len(ids) == 1 for ids in opened.values()), opened
    assert sorted(ids[0] for ids in opened.values()) == [1, 2, 3]  # none lost, none reused
    assert await keys_without_events(intake) == []
    assert {m.message_id for m in batch} <= await processed_ids(intake)


async def test_every_alert_of_a_batch_that_changes_a_ticket_leaves_its_processed_row(
    intake: Intake,
) -> None:
    batch = [
        alert_message("fp-a", 0),  # opens
        alert_message("fp-a", 1, starts="2026-12-03T11:05:00Z"),  # fires again
        alert_message("fp-b", 2),  # opens
        alert_message("fp-a", 3, status="resolved"),  # resolves
    ]

    await alert_batch_handler(intake)(batch)

    assert await processed_ids(intake) == {message.message_id for message in batch}


async def test_a_single_request_whose_append_fails_leaves_no_claim_and_opens_once_when_retried(
    intake: Intake,
) -> None:
    command, metadata = webhook_request(intake, POISON)
    delivery = ProcessedMessage(CONSUMER, f"request-{uuid.uuid4()}")
    await fail_appends_of(intake, POISON)

    with pytest.raises(asyncpg.RaiseError, match="injected"):
        await intake.execute(command, metadata=metadata, processed=delivery)

    assert await keys_without_events(intake) == []
    await appends_work_again(intake)
    outcome = await intake.execute(command, metadata=metadata, processed=delivery)
    assert outcome.ticket_id == 1
    assert await opened_by_fingerprint(intake) == {POISON: [1]}
    assert await keys_without_events(intake) == []


async def test_a_request_whose_ticket_view_fails_leaves_no_event_and_opens_once_when_retried(
    intake: Intake,
) -> None:
    """The HTTP path's view update commits with the events it folds: a view that cannot be
    written takes the events and claims with it, and the retry finds the view in step."""
    command, metadata = webhook_request(intake, POISON)
    await sql(
        intake,
        """CREATE FUNCTION {s}.refuse_view() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'injected: view write failed'; END $$;
            CREATE TRIGGER refuse_view BEFORE INSERT ON {s}.tickets FOR EACH ROW
            EXECUTE FUNCTION {s}.refuse_view()""",
    )

    with pytest.raises(asyncpg.RaiseError, match="injected"):
        await intake.execute(command, metadata=metadata, update_view=True)

    assert await opened_by_fingerprint(intake) == {}
    assert await sql(intake, "SELECT key FROM {s}.ticket_keys") == []
    await sql(intake, "DROP TRIGGER refuse_view ON {s}.tickets")
    outcome = await intake.execute(command, metadata=metadata, update_view=True)
    assert outcome.ticket_id == 1
    assert await opened_by_fingerprint(intake) == {POISON: [1]}
    assert [r["ticket_id"] for r in await sql(intake, "SELECT ticket_id FROM {s}.tickets")] == [1]

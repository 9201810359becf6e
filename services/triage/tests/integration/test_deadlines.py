"""SLA timers against real PostgreSQL and Kafka, with a settable clock: a deadline that passes
while the service is down still produces the breach event after the restart, exactly once, and
an unanswered breach escalates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from faststream.kafka import KafkaBroker
from lts_events.clock import FrozenClock
from lts_events.consumer import Subscriptions
from lts_events.contracts.common import ticket_stream
from lts_events.contracts.intake import TicketOpened
from lts_events.contracts.triage import (
    ApprovalReminderDue,
    BackportPlanned,
    BreachEscalated,
    BreachNotificationRequested,
    PlanSlaBreached,
    SeverityProposed,
    TriageSlaBreached,
)
from lts_events.kafka import ensure_topics
from lts_events.relay import Relay
from lts_events.store.postgres import PostgresEventStore
from lts_events.timers import TimerLoop
from lts_triage.config import Settings
from lts_triage.handlers import TriageHandlers

from .conftest import consume_until, publish, ticket_opened, types

pytestmark = pytest.mark.integration

CVSS_HIGH = "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N"  # 8.1


@dataclass
class Life:
    store: PostgresEventStore
    timers: TimerLoop
    relay: Relay


@asynccontextmanager
async def service_life(
    *, kafka: str, database_url: str, schema: str, intake_topic: str, clock: FrozenClock
) -> AsyncIterator[Life]:
    """One run of the triage service: store, consumer, timer loop, relay; all closed on exit.
    The topics exist before the consumer starts, as the service host makes sure: a topic
    auto-created later by the first publish reaches a running consumer only at its next metadata
    refresh (minutes), and the test timed out waiting under load."""
    await ensure_topics(kafka, [intake_topic, f"lts.{schema}.events"])
    store = await PostgresEventStore.connect(database_url, schema=schema)
    handlers = TriageHandlers(store, policy=Settings().policy(), clock=clock, consumer=schema)
    broker = KafkaBroker(kafka)
    Subscriptions(schema, store=store, topics={"lts.intake.events": intake_topic}).on(
        TicketOpened, handlers.on_ticket_opened
    ).attach(broker)
    relay = Relay(
        store, bootstrap_servers=kafka, topic=f"lts.{schema}.events", source="lts-flow/triage"
    )
    await broker.start()
    try:
        yield Life(store, TimerLoop(store, handler=handlers.on_timer, clock=clock), relay)
    finally:
        await broker.stop()
        await relay.close()
        await store.close()


async def published_everything(life: Life, *, within: float = 30.0) -> None:
    """Publish until nothing is left: an event held back by the barrier (a transaction open
    elsewhere on the server) is not readable yet, so one pass can leave it behind."""
    async with asyncio.timeout(within):
        while True:
            await life.relay.publish_pending()
            checkpoint = await life.store.load_checkpoint(life.relay.checkpoint_name)
            if await life.store.count_after(after=checkpoint) == 0:
                return
            await asyncio.sleep(0.1)  # a poll, as the relay's own loop waits for the barrier


async def stored_types(store: PostgresEventStore, ticket_id: int) -> list[str]:
    history = await store.read_stream(ticket_stream(ticket_id))
    return [event.type for event in history.events]


async def wait_for(store: PostgresEventStore, ticket_id: int, kind: str) -> None:
    for _ in range(300):
        if kind in await stored_types(store, ticket_id):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{kind} not stored for ticket {ticket_id}")


async def test_sla_deadlines_passing_across_a_restart_produce_breaches_once(
    kafka: str, database_url: str, unique: str, drop_schemas: list[str], ticket_id: int
) -> None:
    schema, intake_topic = f"triage_{unique}", f"lts.intake_{unique}.events"
    drop_schemas.append(schema)
    opened_at = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # Wednesday
    clock = FrozenClock(opened_at)
    waiting, planned = ticket_id, ticket_id + 1
    settings = {
        "kafka": kafka,
        "database_url": database_url,
        "schema": schema,
        "intake_topic": intake_topic,
        "clock": clock,
    }

    async with service_life(**settings) as life:  # type: ignore[arg-type]
        await publish(kafka, intake_topic, ticket_opened(waiting, opened_at))
        await publish(
            kafka, intake_topic, ticket_opened(planned, opened_at, cvss_vectors=[CVSS_HIGH])
        )
        await wait_for(life.store, waiting, SeverityProposed.type)
        await wait_for(life.store, planned, BackportPlanned.type)
        assert await life.timers.tick() == 0
    clock.advance(timedelta(days=7))  # the service is down while every deadline passes
    async with service_life(**settings) as life:  # type: ignore[arg-type]
        fired = await life.timers.tick()
        fired_again = await life.timers.tick()
        clock.advance(Settings().policy().escalate_after)  # nobody answered the breaches
        escalated = await life.timers.tick()
        await published_everything(life)

    breach = await consume_until(
        kafka,
        f"lts.{schema}.events",
        ticket_stream(waiting),
        lambda seen: BreachEscalated.type in types(seen),
    )
    late = await consume_until(
        kafka,
        f"lts.{schema}.events",
        ticket_stream(planned),
        lambda seen: BreachEscalated.type in types(seen),
    )

    assert (fired, fired_again, escalated) == (4, 0, 2)  # 2 triage SLAs, 1 plan SLA, 1 reminder
    for stream in (breach, late):  # each breach was told, then escalated to the next role
        assert types(stream).count(BreachNotificationRequested.type) == 2
        assert types(stream).count(BreachEscalated.type) == 1
    assert types(breach).count(TriageSlaBreached.type) == 1
    breached = next(e for e in breach if e.type == TriageSlaBreached.type).event
    assert isinstance(breached, TriageSlaBreached)
    assert breached.deadline == opened_at + timedelta(hours=24)
    assert types(late).count(PlanSlaBreached.type) == 1
    assert types(late).count(ApprovalReminderDue.type) == 1
    assert TriageSlaBreached.type not in types(late)  # triaged automatically, in time

"""Durable timers against real PostgreSQL: they fire once, across restarts of the loop and the
store connection, including timers that became due while the service was down."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from lts_events.actors import automation
from lts_events.clock import FrozenClock
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.store.port import ANY, Timer
from lts_events.store.postgres import PostgresEventStore
from lts_events.timers import TimerLoop

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
METADATA = Metadata(actor=automation("rttimer"))

Connect = Callable[[str], Awaitable[PostgresEventStore]]


class ReminderScheduled(Event):
    type: ClassVar[str] = "lts.rttimer.reminder_scheduled"
    ticket_id: str


class ReminderSent(Event):
    type: ClassVar[str] = "lts.rttimer.reminder_sent"
    ticket_id: str
    timer_id: str


async def schedule(store: PostgresEventStore, timer_id: str, due_at: datetime) -> None:
    timer = Timer(
        timer_id=timer_id, consumer="rttimer", stream_id="ticket-1", due_at=due_at, kind="remind"
    )
    await store.append(
        "ticket-1",
        [NewEvent.of(ReminderScheduled(ticket_id="ticket-1"), METADATA)],
        expected_version=ANY,
        schedule=[timer],
    )


def sender(store: PostgresEventStore) -> Callable[[Timer], Awaitable[None]]:
    async def send_reminder(timer: Timer) -> None:
        event = ReminderSent(ticket_id=timer.stream_id, timer_id=timer.timer_id)
        await store.append(
            timer.stream_id,
            [NewEvent.of(event, METADATA)],
            expected_version=ANY,
            fired_timer=timer.timer_id,
        )

    return send_reminder


async def reminders_sent(store: PostgresEventStore) -> list[str]:
    history = await store.read_stream("ticket-1")
    return [e.data["timer_id"] for e in history.events if e.type == ReminderSent.type]


async def test_a_timer_fires_once_and_not_again_after_a_restart(
    schemas: Connect, unique: Callable[[str], str]
) -> None:
    schema = unique("rt_timers")
    store = await schemas(schema)
    await schedule(store, "remind-1", T0)
    clock = FrozenClock(T0 + timedelta(seconds=1))
    fired_first = await TimerLoop(store, handler=sender(store), clock=clock).tick()
    await store.close()

    restarted = await schemas(schema)
    fired_after_restart = await TimerLoop(restarted, handler=sender(restarted), clock=clock).tick()

    assert (fired_first, fired_after_restart) == (1, 0)
    assert await reminders_sent(restarted) == ["remind-1"]


async def test_a_timer_that_became_due_while_stopped_fires_after_the_restart(
    schemas: Connect, unique: Callable[[str], str]
) -> None:
    schema = unique("rt_timers")
    store = await schemas(schema)
    await schedule(store, "remind-later", T0 + timedelta(hours=1))
    clock = FrozenClock(T0)
    fired_before = await TimerLoop(store, handler=sender(store), clock=clock).tick()
    await store.close()
    clock.advance(timedelta(hours=2))

    restarted = await schemas(schema)
    fired_after = await TimerLoop(restarted, handler=sender(restarted), clock=clock).tick()

    assert (fired_before, fired_after) == (0, 1)
    assert await reminders_sent(restarted) == ["remind-later"]


class CountedClock(FrozenClock):
    """A frozen clock that counts its reads: the timer loop reads it once per tick, so n reads
    mean n - 1 ticks are over."""

    def __init__(self, now: datetime) -> None:
        super().__init__(now)
        self.reads = 0
        self._read = asyncio.Event()

    def __call__(self) -> datetime:
        self.reads += 1
        self._read.set()
        return super().__call__()

    async def read_at_least(self, times: int) -> None:
        while self.reads < times:
            self._read.clear()
            await self._read.wait()


async def test_the_running_loop_fires_a_due_timer_once_until_stopped(
    store: PostgresEventStore,
) -> None:
    await schedule(store, "remind-run", T0)
    stop = asyncio.Event()
    clock = CountedClock(T0)
    loop = TimerLoop(store, handler=sender(store), clock=clock, interval=0.01)

    task = asyncio.create_task(loop.run(stop))
    await asyncio.wait_for(clock.read_at_least(4), timeout=10)  # three ticks over
    stop.set()
    await task

    assert loop.fired == 1
    assert await reminders_sent(store) == ["remind-run"]

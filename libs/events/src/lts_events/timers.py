"""Durable timers: rows in the service's store, fired by a loop. The handler appends its events
with `fired_timer=timer.timer_id`, so firing and its effects commit together; the store returns
only unfired timers, and writes nothing for a timer that fired already (two loops overlapping
as leadership moves), so a timer fires once, across restarts. A failing handler leaves its timer
unfired and is retried on the next tick."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from lts_events.clock import Clock
from lts_events.faults import Outage, is_transient
from lts_events.store.port import EventStore, Timer

log = logging.getLogger(__name__)

TimerHandler = Callable[[Timer], Awaitable[None]]


class TimerLoop:
    def __init__(
        self,
        store: EventStore,
        *,
        handler: TimerHandler,
        clock: Clock,
        interval: float = 1.0,
        batch_size: int = 100,
    ) -> None:
        self._store = store
        self._handler = handler
        self._clock = clock
        self._interval = interval
        self._batch_size = batch_size
        self.fired = 0
        self.failures = 0
        self.outage = Outage("timer loop: the database", log)

    async def tick(self) -> int:
        """Fire every timer due now; returns how many fired. One failure does not stop the rest."""
        due = await self._store.due_timers(now=self._clock(), limit=self._batch_size)
        fired = 0
        for timer in due:
            try:
                await self._handler(timer)
            except Exception as error:
                self.failures += 1
                if is_transient(error):
                    raise  # the database is away: no use trying the other timers now
                log.exception(
                    "timer handler failed; retrying next tick",
                    extra={"timer_id": timer.timer_id, "kind": timer.kind},
                )
            else:
                fired += 1
        self.fired += fired
        return fired

    async def run(self, stop: asyncio.Event) -> None:
        """Tick every `interval` until `stop`; while the database is away, wait it out with
        backoff (logged once when it goes, once when it is back)."""
        while not stop.is_set():
            pause = self._interval
            try:
                await self.tick()
                self.outage.recovered()
            except Exception as error:
                if is_transient(error):
                    pause = max(pause, self.outage.failed(error))
                else:
                    log.exception("timer loop could not read due timers; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=pause)

"""Durable timers: rows in the service's store, fired by a loop. The handler appends its events
with `fired_timer=timer.timer_id`, so firing and its effects commit together; the store returns
only unfired timers, so a timer fires once, across restarts. A failing handler leaves its timer
unfired and is retried on the next tick."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from lts_events.clock import Clock
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

    async def tick(self) -> int:
        """Fire every timer due now; returns how many fired. One failure does not stop the rest."""
        due = await self._store.due_timers(now=self._clock(), limit=self._batch_size)
        fired = 0
        for timer in due:
            try:
                await self._handler(timer)
            except Exception:
                self.failures += 1
                log.exception(
                    "timer handler failed; retrying next tick",
                    extra={"timer_id": timer.timer_id, "kind": timer.kind},
                )
            else:
                fired += 1
        self.fired += fired
        return fired

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("timer loop could not read due timers; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)

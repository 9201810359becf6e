"""The comms store's own log, followed from where a read model left it: the one catch-up loop
of the service's per-process read models (documents index, released catalog, delivery log),
which are small enough to rebuild at start and catch up on each request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from lts_events.envelope import RecordedEvent
from lts_events.store.port import Checkpoint, EventStore


class StoreLog:
    def __init__(self, store: EventStore, *, batch: int = 1000) -> None:
        self._store = store
        self._after = Checkpoint.start()
        self._batch = batch
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def caught_up(self) -> AsyncIterator[list[RecordedEvent]]:
        """The events recorded since the last catch-up, in log order, while holding the lock:
        the caller applies them and reads its model inside the block, so two requests never
        apply the same events twice."""
        async with self._lock:
            new: list[RecordedEvent] = []
            while batch := await self._store.read_all(after=self._after, limit=self._batch):
                new += batch
                last = batch[-1]
                self._after = Checkpoint(last.transaction_id, last.position)
            yield new

"""Read models of the delivery side, caught up from the comms store's own log on each request
(released documents and their deliveries are few; the store is comms' own), kept per process:
what was released to the external audience (the feeds, the OSV export; the latest released
revision of each document counts), and every delivery event (`GET /deliveries`)."""

from __future__ import annotations

import asyncio

from lts_events.contracts.comms.delivery import (
    DeliveryAttempted,
    DeliveryFailed,
    DeliveryGaveUp,
    DeliverySucceeded,
)
from lts_events.contracts.comms.documents import Audience, DocumentReleased
from lts_events.event import Event
from lts_events.store.port import Checkpoint, EventStore

DELIVERY_EVENTS = (DeliveryAttempted, DeliverySucceeded, DeliveryFailed, DeliveryGaveUp)


class ReleasedCatalog:
    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._after = Checkpoint.start()
        self._latest: dict[str, DocumentReleased] = {}
        self._lock = asyncio.Lock()

    async def external(self) -> list[DocumentReleased]:
        """The latest externally released revision of every document, newest first."""
        async with self._lock:
            while batch := await self._store.read_all(after=self._after, limit=1000):
                for recorded in batch:
                    event = recorded.event
                    if isinstance(event, DocumentReleased) and event.audience is Audience.EXTERNAL:
                        known = self._latest.get(event.document_id)
                        if known is None or known.revision <= event.revision:
                            self._latest[event.document_id] = event
                last = batch[-1]
                self._after = Checkpoint(last.transaction_id, last.position)
            latest = list(self._latest.values())
        return sorted(latest, key=lambda d: (d.released_at, d.document_id), reverse=True)


class DeliveryLog:
    """Every delivery event, caught up from the store's own log on each request (for
    `GET /deliveries`): where each document went, and how it went."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._after = Checkpoint.start()
        self._events: list[Event] = []
        self._lock = asyncio.Lock()

    async def events(self) -> list[Event]:
        async with self._lock:
            while batch := await self._store.read_all(after=self._after, limit=1000):
                self._events += [r.event for r in batch if isinstance(r.event, DELIVERY_EVENTS)]
                last = batch[-1]
                self._after = Checkpoint(last.transaction_id, last.position)
            return list(self._events)

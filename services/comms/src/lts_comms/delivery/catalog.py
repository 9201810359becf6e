"""What was released to the external audience, for the feeds and the OSV export: caught up
from the comms store's own log on each request (released documents are few; the store is
comms' own) and kept per process. The latest released revision of each document counts."""

from __future__ import annotations

import asyncio

from lts_events.contracts.comms.documents import Audience, DocumentReleased
from lts_events.store.port import Checkpoint, EventStore


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

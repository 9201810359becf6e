"""Which documents exist, for `GET /documents`: caught up from the comms store's own log on
each request (documents are few; the store is comms' own), kept per process."""

from __future__ import annotations

import asyncio
from datetime import datetime

from lts_events.contracts.comms.documents import document_stream
from lts_events.store.port import Checkpoint, EventStore

_DOCUMENT = document_stream("")


class DocumentIndex:
    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._after = Checkpoint.start()
        self._updated: dict[str, datetime] = {}  # document id -> last event's time
        self._lock = asyncio.Lock()

    async def documents(self) -> dict[str, datetime]:
        async with self._lock:
            while True:
                batch = await self._store.read_all(after=self._after, limit=1000)
                if not batch:
                    return dict(self._updated)
                for recorded in batch:
                    if recorded.stream_id.startswith(_DOCUMENT):
                        document_id = recorded.stream_id.removeprefix(_DOCUMENT)
                        self._updated[document_id] = recorded.recorded_at
                last = batch[-1]
                self._after = Checkpoint(last.transaction_id, last.position)

"""Which documents exist, for `GET /documents`: followed from the comms store's own log
(`store_log.py`), kept per process."""

from __future__ import annotations

from datetime import datetime

from lts_events.contracts.comms.documents import document_stream
from lts_events.store.port import EventStore

from lts_comms.store_log import StoreLog

_DOCUMENT = document_stream("")


class DocumentIndex:
    def __init__(self, store: EventStore) -> None:
        self._log = StoreLog(store)
        self._updated: dict[str, datetime] = {}  # document id -> its last event's time

    async def documents(self) -> dict[str, datetime]:
        async with self._log.caught_up() as new:
            for recorded in new:
                if recorded.stream_id.startswith(_DOCUMENT):
                    self._updated[recorded.stream_id.removeprefix(_DOCUMENT)] = recorded.recorded_at
            return dict(self._updated)
